"""What the library holds, command by command: ``scenes`` and ``transcript`` of one file, ``stats`` of the
whole library, ``errors`` (files that could not be indexed)."""
from __future__ import annotations

from .engines import run
from .options import InLibraryArg, JsonOpt, LibraryOpt
from .output import clock, out, print_json, say_if_empty, show


def scenes(video: InLibraryArg, library: LibraryOpt = None, as_json: JsonOpt = False) -> None:
    """List a video's scenes: start, end and keyframe time."""
    rows = run(lambda e: e.scenes(video), library)
    if print_json(rows, as_json):
        return
    for i, r in enumerate(rows, 1):
        out.print(f"{i:3d}  {clock(r['start'])}-{clock(r['end'])}  keyframe {clock(r['keyframe'])}"
                  f"  ({r['start']:.2f}-{r['end']:.2f} s)")


def transcript(file: InLibraryArg, library: LibraryOpt = None, as_json: JsonOpt = False) -> None:
    """Print a file's timed speech transcript (an audio or video file in the library)."""
    rows = run(lambda e: e.transcript(file), library)
    if print_json(rows, as_json) or say_if_empty(rows, "no speech"):
        return
    for r in rows:
        out.print(f"{clock(r['start'])}-{clock(r['end'])}  {r['text']}", highlight=False, markup=False)


def stats(library: LibraryOpt = None, as_json: JsonOpt = False) -> None:
    """What the library holds: files by kind, segments, spaces and their models."""
    info = run(lambda e: e.stats(), library)
    if print_json(info, as_json):
        return
    out.print(f"library   {info['library']}\ndatabase  {info['database']}", highlight=False)
    out.print(f"files     {info['files']}  " + "  ".join(f"{k}: {v}" for k, v in sorted(info["by_kind"].items())))
    out.print("segments  " + "  ".join(f"{k}: {v}" for k, v in sorted(info["segments"].items())))
    out.print(f"errors    {info['errors']}")
    for s in info["spaces"]:
        if s["active"]:
            out.print(f"space     {s['name']}: {s['model']} (dim {s['dim']}), {s['vectors']} vectors", highlight=False)
        else:
            out.print(f"space     {s['name']}: inactive ({s.get('reason', 'model unavailable')})", highlight=False)
    for name, states in sorted(info.get("jobs", {}).items()):
        out.print(f"work      {name}: " + ", ".join(f"{n} {state}" for state, n in states.items()), highlight=False)
    for p in info.get("places", []):
        why = f" ({p['why']}, since {p['since']})" if p["state"] == "offline" else ""
        out.print(f"place     {show(p['path'])}: {p['state']}{why}, {p['files']} files, {p['missing']} missing",
                  highlight=False, markup=False)


def errors(library: LibraryOpt = None, as_json: JsonOpt = False) -> None:
    """Files that could not be indexed, and why."""
    rows = run(lambda e: e.errors(), library)
    if print_json(rows, as_json) or say_if_empty(rows, "no errors"):
        return
    for r in rows:  # one line per file: paths stay whole and greppable
        out.print(f"{show(r['path'])}  [{r['stage']}] {r['message']}  ({r['time']})", highlight=False, markup=False)
