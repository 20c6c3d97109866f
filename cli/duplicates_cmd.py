"""``mmsearch duplicates [--kind image|video] [--threshold T] [--json]``: groups of near-duplicate files and
video scenes, each with the copy to keep (the rule: mmsearch/query/duplicates/rule.py)."""
from __future__ import annotations

from typing import Annotated, Literal

import typer
from rich.markup import escape

from .engines import run
from .options import JsonOpt, LibraryOpt
from .output import clock, fail, out, print_json, show

DupKindOpt = Annotated[str | None, typer.Option("--kind", help="image or video (default: both).")]
ThresholdOpt = Annotated[
    float | None,
    typer.Option("--threshold", "-t", min=0, max=63,
                 help="Hash bits (of 63) two copies may differ by; default 12. Lower: stricter."),
]
KINDS: tuple[Literal["image", "video"], ...] = ("image", "video")


def duplicates(kind: DupKindOpt = None, threshold: ThresholdOpt = None, library: LibraryOpt = None,
               as_json: JsonOpt = False) -> None:
    """Near-duplicate images, video scenes and videos (re-encoded, resized, cropped a little, re-cut)."""
    if kind is not None and kind not in KINDS:
        fail(ValueError(f"unknown kind {kind!r}; choose image or video"))
    report = run(lambda e: e.duplicates(kind, threshold), library)
    if print_json(report.to_dict(), as_json):
        return
    for note in report.notes:
        out.print(f"note: {note}", highlight=False, markup=False)
    if not report.groups:
        out.print(f"no duplicates among {sum(report.compared.values())} pictures (threshold {report.threshold:g})")
        return
    for n, group in enumerate(report.groups, 1):
        out.print(f"[bold]{n}. {group.kind}[/]  keep {escape(_where(group.keep))}", highlight=False, markup=True)
        for copy in group.copies:
            out.print(f"     copy {_where(copy)}  ({_why(copy.why)})", highlight=False, markup=False)


def _why(why: dict | None) -> str:
    """One line of why a copy is one: what decided, the hash bits against the bits its hash alone is trusted
    for, the vectors' distance against a typical pair's, the pixel check's score."""
    if not why:
        return "why unknown"
    parts = [f"by {why['decided_by']}"]
    if why["bits"] is not None:
        trusted = why["trusted_bits"]
        parts.append(f"{why['bits']} bits, hash alone up to {trusted}" if trusted >= 0
                     else f"{why['bits']} bits, hash alone never (flat {why['flat']})")
    if why["relative"] is not None:
        parts.append(f"vectors {why['relative']:.2f} of a typical pair (veto above {why['max_relative']})")
    if why["check"]:
        check = why["check"]
        parts.append(f"pixels disagree {check['disagreement']:.2f} (at most {check['max_disagreement']}), "
                     f"aligned by {check['aligned']}")
    return ", ".join(parts)


def _where(item) -> str:
    size = f"  {item.width}x{item.height}" if item.width and item.height else ""
    if item.kind == "scene":
        return f"{show(item.path)} {clock(item.start)}-{clock(item.end)}{size}"
    length = f"  {item.duration:.1f} s" if item.duration else ""
    return f"{show(item.path)}{size}{length}"
