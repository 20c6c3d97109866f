"""``mmsearch duplicates [--kind image|video] [--threshold T] [--json]``: groups of near-duplicate files and
video scenes, each with the copy to keep (the rule: mmsearch/duplicates.py)."""
from __future__ import annotations

from typing import Annotated, Literal

import typer

from .app import JsonOpt, LibraryOpt, _as_json, _clock, _fail, _run, _show, app, out

DupKindOpt = Annotated[str | None, typer.Option("--kind", help="image or video (default: both).")]
ThresholdOpt = Annotated[
    float | None,
    typer.Option("--threshold", "-t", min=0, max=63,
                 help="Hash bits (of 63) two copies may differ by; default 12. Lower: stricter."),
]
KINDS: tuple[Literal["image", "video"], ...] = ("image", "video")


@app.command("duplicates")
def duplicates(kind: DupKindOpt = None, threshold: ThresholdOpt = None, library: LibraryOpt = None,
               as_json: JsonOpt = False) -> None:
    """Near-duplicate images, video scenes and videos (re-encoded, resized, cropped a little, re-cut)."""
    if kind is not None and kind not in KINDS:
        _fail(ValueError(f"unknown kind {kind!r}; choose image or video"))
    report = _run(lambda e: e.duplicates(kind, threshold), library)
    if _as_json(report.to_dict(), as_json):
        return
    for note in report.notes:
        out.print(f"note: {note}", highlight=False, markup=False)
    if not report.groups:
        out.print(f"no duplicates among {sum(report.compared.values())} pictures (threshold {report.threshold:g})")
        return
    for n, group in enumerate(report.groups, 1):
        out.print(f"[bold]{n}. {group.kind}[/]  keep {_where(group.keep)}", highlight=False)
        for copy in group.copies:
            bits = f"  ({copy.bits} bits)" if copy.bits is not None else ""
            out.print(f"     copy {_where(copy)}{bits}", highlight=False, markup=False)


def _where(item) -> str:
    size = f"  {item.width}x{item.height}" if item.width and item.height else ""
    if item.kind == "scene":
        return f"{_show(item.path)} {_clock(item.start)}-{_clock(item.end)}{size}"
    length = f"  {item.duration:.1f} s" if item.duration else ""
    return f"{_show(item.path)}{size}{length}"
