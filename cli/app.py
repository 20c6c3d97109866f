"""The ``mmsearch`` command: parse, call Engine, render (rich tables, or JSON with --json)."""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from mmsearch.errors import MmsearchError

if TYPE_CHECKING:
    from mmsearch import Engine

T = TypeVar("T")

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Search photos, videos and recordings by describing them.",
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)  # a message is one line, whatever the width

LibraryOpt = Annotated[Path | None, typer.Option("--library", "-l", help="Library folder [env: MMSEARCH_LIBRARY].")]
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="open_clip spec ARCH:PRETRAINED or ARCH:/path/ckpt.pt [env: MMSEARCH_MODEL]."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
TopOpt = Annotated[int, typer.Option("--top", "-k", min=1, help="Number of hits.")]
KindOpt = Annotated[list[str] | None, typer.Option("--kind", help="image, text, video or audio (repeatable).")]
PathOpt = Annotated[str | None, typer.Option("--path", help="Only files whose path matches this glob or substring.")]


@contextmanager
def _engine(library: Path | None, model: str | None = None, create: bool = True) -> Iterator[Engine]:
    from mmsearch import Engine

    with Engine(library, model=model, create=create) as engine:
        yield engine


def _run(action: Callable[[Engine], T], library: Path | None, model: str | None = None, create: bool = False) -> T:
    """Open the library, run ``action`` on its Engine, and turn any mmsearch error into one line + exit 2."""
    try:
        with _engine(library, model, create) as engine:
            return action(engine)
    except MmsearchError as exc:
        _fail(exc)


def _as_json(data: object, as_json: bool) -> bool:
    """With ``--json``, print ``data`` as JSON and say so (the caller then prints nothing else)."""
    if as_json:
        print(json.dumps(data, indent=2))
    return as_json


def _fail(exc: BaseException, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {exc}", highlight=False)
    raise typer.Exit(code)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(round(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _show(path: str) -> str:
    try:
        rel = os.path.relpath(path)
        return rel if not rel.startswith("..") else path
    except ValueError:
        return path


def _print_hits(hits: list, as_json: bool) -> None:
    if _as_json([h.to_dict() for h in hits], as_json):
        return
    if not hits:
        out.print("no hits")
        return
    if not out.is_terminal:  # piped: one whole, greppable line per hit
        for i, h in enumerate(hits, 1):
            span = f"  {_clock(h.start)}-{_clock(h.end)}" if h.start is not None else ""
            match = f"  {(h.text or '')[:80]}" if h.text else ""
            linked = f"  (caption of {_show(h.linked)})" if h.linked else ""
            print(f"{i:>2}  {h.score:7.3f}  {h.kind:<5}  {_show(h.path)}{span}{match}{linked}")
        return
    table = Table(box=None, pad_edge=False)
    for col in ("#", "score", "kind", "path", "time", "match"):
        table.add_column(col, overflow="fold")
    for i, h in enumerate(hits, 1):
        span = f"{_clock(h.start)}-{_clock(h.end)}" if h.start is not None else ""
        match = (h.text or "")[:80]
        if h.linked:
            match = f"{match}  (caption of {_show(h.linked)})"
        table.add_row(str(i), f"{h.score:.3f}", h.kind, _show(h.path), span, match)
    out.print(table, highlight=False)


class _RichProgress:
    """Progress bar on a terminal; silent otherwise."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                             TextColumn("{task.fields[name]}"), console=err, transient=True)
        self._task = None

    def start(self, total: int) -> None:
        self._bar.start()
        self._task = self._bar.add_task("index", total=total, name="")

    def advance(self, n: int = 1, path: str | None = None) -> None:
        self._bar.update(self._task, advance=n, name=os.path.basename(path or "")[:40])

    def stop(self) -> None:
        self._bar.stop()


def _print_report(report, as_json: bool) -> None:
    if _as_json(report.to_dict(), as_json):
        return
    out.print(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, moved {report.moved}, "
        f"removed {report.removed}, failed {report.failed}"
        + (f" (+{report.skipped_bad} known bad, unchanged)" if report.skipped_bad else "")
        + f" in {report.seconds:.1f}s",
        highlight=False,
    )
    if report.backfilled:
        out.print(f"backfilled {report.backfilled} files (work that was pending)", highlight=False)
    for warning in report.warnings:
        err.print(f"  warning: {warning}", highlight=False)
    for path, reason in report.failures[:20]:
        err.print(f"  skipped {_show(path)}: {reason}", highlight=False)
    if len(report.failures) > 20:
        err.print(f"  ... and {len(report.failures) - 20} more: see `mmsearch errors`")


@app.command()
def index(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Files or folders to index (recursively) [default: the ones this library was indexed from].")] = None,
    library: LibraryOpt = None,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
    strict: Annotated[bool, typer.Option("--strict", help="Fail (exit 2) when any work is left pending.")] = False,
) -> None:
    """Index new and changed files; forget deleted ones; keep moved ones; do pending work whose model is here now."""
    progress = _RichProgress() if (err.is_terminal and not as_json) else None
    report = _run(lambda e: e.index(paths or [], progress=progress, strict=strict), library, model, create=True)
    _print_report(report, as_json)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What you are looking for, in words.")],
    library: LibraryOpt = None,
    model: ModelOpt = None,
    top: TopOpt = 10,
    kind: KindOpt = None,
    path: PathOpt = None,
    as_json: JsonOpt = False,
    thumbs: Annotated[Path | None, typer.Option(
        "--thumbs", help="Write a preview per hit into this folder: JPEG (image, video frame), PNG (audio waveform)."
    )] = None,
    keyword: Annotated[bool, typer.Option("--keyword", help="Exact words in transcripts, subtitles, texts.")] = False,
    min_score: Annotated[float | None, typer.Option(
        "--min-score", help="Leave out hits below this calibrated score (standard deviations above a typical "
        "item; the web page uses 2.0)."
    )] = None,
    sort: Annotated[str, typer.Option("--sort", help="relevance, or date (the best, oldest first).")] = "relevance",
) -> None:
    """Find images, texts, video scenes and sounds that match a description: by meaning and by words."""
    def action(engine):
        if keyword:
            found = engine.keyword_search(query, k=top, kinds=kind, path=path)
        else:
            found = engine.search(query, k=top, kinds=kind, path=path, min_score=min_score, sort=sort)
        if thumbs is not None:
            _write_thumbs(engine, found, thumbs)
        return found

    hits = _run(action, library, model)
    _print_hits(hits, as_json)


def _write_thumbs(engine, hits: list, folder: Path) -> None:
    """A preview file per hit that has one: ``RANK_NAME[_SECONDSs].jpg`` (images, video frames) or ``.png``
    (audio waveforms); its path goes into the hit as ``thumb``."""
    from mmsearch.media.previews import window

    folder.mkdir(parents=True, exist_ok=True)
    for rank, hit in enumerate(hits, 1):
        shown = window(hit.kind, hit.start, hit.end, hit.keyframe)
        if shown is None:
            continue
        try:
            preview = engine.preview(hit)
        except MmsearchError as exc:
            err.print(f"  no thumbnail for {_show(hit.path)}: {exc}", highlight=False)
            continue
        at = f"_{shown.at:09.3f}s" if shown.at is not None else ""
        target = folder / f"{rank:02d}_{Path(hit.path).stem}{at}{preview.suffix}"
        target.write_bytes(preview.data)
        hit.extra["thumb"] = str(target)


@app.command()
def similar(
    file: Annotated[Path, typer.Argument(help="An image file (in the library or not).")],
    library: LibraryOpt = None,
    model: ModelOpt = None,
    top: TopOpt = 10,
    kind: KindOpt = None,
    path: PathOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Images that look like FILE, and texts that describe it (--kind text)."""
    if not file.exists():
        _fail(MmsearchError(f"no such file: {file}"))
    hits = _run(lambda e: e.similar(file, k=top, kinds=kind, path=path), library, model)
    _print_hits(hits, as_json)


@app.command()
def scenes(
    video: Annotated[Path, typer.Argument(help="A video in the library.")],
    library: LibraryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List a video's scenes: start, end and keyframe time."""
    rows = _run(lambda e: e.scenes(video), library)
    if _as_json(rows, as_json):
        return
    for i, r in enumerate(rows, 1):
        out.print(f"{i:3d}  {_clock(r['start'])}-{_clock(r['end'])}  keyframe {_clock(r['keyframe'])}"
                  f"  ({r['start']:.2f}-{r['end']:.2f} s)")


@app.command()
def transcript(
    file: Annotated[Path, typer.Argument(help="An audio or video file in the library.")],
    library: LibraryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print a file's timed speech transcript."""
    rows = _run(lambda e: e.transcript(file), library)
    if _as_json(rows, as_json):
        return
    if not rows:
        out.print("no speech")
    for r in rows:
        out.print(f"{_clock(r['start'])}-{_clock(r['end'])}  {r['text']}", highlight=False, markup=False)


@app.command()
def stats(library: LibraryOpt = None, as_json: JsonOpt = False) -> None:
    """What the library holds: files by kind, segments, spaces and their models."""
    info = _run(lambda e: e.stats(), library)
    if _as_json(info, as_json):
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


@app.command()
def errors(library: LibraryOpt = None, as_json: JsonOpt = False) -> None:
    """Files that could not be indexed, and why."""
    rows = _run(lambda e: e.errors(), library)
    if _as_json(rows, as_json):
        return
    if not rows:
        out.print("no errors")
        return
    for r in rows:  # one line per file: paths stay whole and greppable
        out.print(f"{_show(r['path'])}  [{r['stage']}] {r['message']}  ({r['time']})", highlight=False, markup=False)


@app.command()
def reindex(library: LibraryOpt = None, as_json: JsonOpt = False) -> None:
    """Rebuild the vector indexes from the stored vectors (no decoding, no embedding)."""
    counts = _run(lambda e: e.reindex(), library)
    print(json.dumps(counts)) if as_json else out.print(
        "rebuilt " + ", ".join(f"{k}: {v} vectors" for k, v in counts.items())
    )


@app.command()
def reembed(
    space: Annotated[str, typer.Argument(help="The space to switch: clip, audio or text.")],
    model: Annotated[str, typer.Option("--model", "-m", help="The new model's spec for SPACE (as its setting takes)")],
    library: LibraryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-embed one space with another model in place; searches use the old model until it is done, and an
    interrupted run resumes when run again."""
    progress = _RichProgress() if (err.is_terminal and not as_json) else None
    report = _run(lambda e: e.reembed(space, model, progress=progress), library)
    if _as_json(report.to_dict(), as_json):
        return
    if report.old_model == report.model and not report.reembedded:
        out.print(f"space {report.space} is already embedded with {report.model}", highlight=False)
        return
    resumed = f" (+{report.resumed} from an interrupted run)" if report.resumed else ""
    out.print(f"re-embedded {report.space}: {report.reembedded} files{resumed}, {report.vectors} vectors, "
              f"{report.old_model} -> {report.model} in {report.seconds:.1f}s", highlight=False)
    for path, reason in report.failures[:20]:
        err.print(f"  not re-embedded {_show(path)}: {reason} (pending for the next index run)", highlight=False)
    if len(report.failures) > 20:
        err.print(f"  ... and {len(report.failures) - 20} more")


@app.command()
def remove(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to forget (files on disk are untouched).")],
    library: LibraryOpt = None,
) -> None:
    """Forget files without deleting them."""
    n = _run(lambda e: e.remove(paths), library)
    out.print(f"removed {n} files from the library")


# Example queries: (query, needs the clip space). The others are answered by speech, subtitles and notes
# in the bundled sentence space, so they run on a machine without CLIP weights too.
DEMO_QUERIES = [
    ("the scene where the rocket lifts off", False),  # the video's pictures, and its subtitle cue
    ("where do they talk about the budget", False),  # speech in a recording
    ("how long should the soup simmer", False),
    ("flowers in full bloom", False),  # a note, a subtitle cue
    ("a cat looking at the camera", True),
    ("a cup of coffee", True),
    ("an orange flower", True),
]
VISUAL_HINT = (
    "visual search (photos, video frames) needs CLIP weights, which this machine cannot download: set "
    "MMSEARCH_MODEL=ViT-B-32:/path/to/open_clip_pytorch_model.bin (or run where {default} can be downloaded), "
    "then run the demo again: it embeds the pictures that are pending"
)


@app.command()
def demo(
    folder: Annotated[Path, typer.Argument(help="Folder to index.")] = Path("sample_data"),
    library: LibraryOpt = None,
    model: ModelOpt = None,
    top: TopOpt = 3,
) -> None:
    """Index FOLDER and run a few example queries (text->image/video/speech, image->text, image->image).
    Without CLIP weights it runs what the bundled models answer (speech, subtitles, notes) and says what
    visual search needs."""

    def action(engine) -> None:
        report = engine.index([folder])
        _print_report(report, False)
        visual = engine.models.loaded("clip") is not None
        for q, needs_clip in DEMO_QUERIES:
            if needs_clip and not visual:
                continue
            out.print(f"\n[bold]search[/] {q!r}")
            _print_hits(engine.search(q, k=top), False)
        probe = next(iter(sorted(folder.rglob("*.jpg"))), None)
        if not visual:
            from mmsearch.config import DEFAULT_MODEL

            out.print("\n" + VISUAL_HINT.format(default=DEFAULT_MODEL), highlight=False)
        elif probe is not None:
            out.print(f"\n[bold]similar[/] {_show(str(probe))} (texts that describe it)")
            _print_hits(engine.similar(probe, k=top, kinds=["text"]), False)
            out.print(f"\n[bold]similar[/] {_show(str(probe))} (images)")
            _print_hits(engine.similar(probe, k=top, kinds=["image"]), False)

    _run(action, library, model, create=True)


# Commands that live in their own modules register themselves on `app` when imported.
# (one import line per module, added below this comment)
from . import check_cmd, duplicates_cmd, eval_cmd, serve_cmd  # noqa: E402,F401
