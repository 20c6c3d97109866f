"""``mmsearch eval MANIFEST``: retrieval quality (recall@1/5/10) through the engine beside exact search.

MANIFEST: ``image,caption`` rows (.csv, .tsv, .jsonl, .json list) or a Karpathy-split JSON of
Flickr30k / COCO. Images and captions are indexed into a library (a temporary one unless --library
names one, which is then reused on the next run: only changes are indexed again).
"""
from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mmsearch.errors import MmsearchError

from .options import JsonOpt, LibraryOpt, ModelOpt
from .output import err, fail, out


def eval_(
    manifest: Annotated[Path, typer.Argument(help="image,caption manifest (.csv/.tsv/.jsonl/.json) or Karpathy JSON.")],
    images: Annotated[Path | None, typer.Option("--images", help="Folder relative image paths start from "
                                                   "[default: the manifest's folder].")] = None,
    library: LibraryOpt = None,
    model: ModelOpt = None,
    split: Annotated[str | None, typer.Option("--split", help="Karpathy split: test, val, train or all "
                                                 "[default: test when present].")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N images.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Recall@1/5/10 of text->image and image->text, or of text->video moments: exact beside the engine."""
    from mmsearch import Engine
    from mmsearch.indexers.evaluate import TASKS, evaluate, load_manifest

    workdir = None
    try:
        loaded = load_manifest(manifest, images=images, split=split, limit=limit)
        if library is None:
            workdir = Path(tempfile.mkdtemp(prefix="mmsearch-eval-"))
            library = workdir / "library"
        say = (lambda m: err.print(m, highlight=False)) if not as_json else None
        with Engine(library, model=model) as engine:
            report = evaluate(engine.context, loaded, progress=say)
    except MmsearchError as exc:
        fail(exc)
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    if as_json:
        print(json.dumps(report, indent=2))
        return
    RENDER[loaded.task](report, TASKS[loaded.task].figures)


def _moments(report: dict, figures: tuple[tuple[str, str], ...]) -> None:
    out.print(f"{report['queries']} moments in {report['videos']} videos; model {report['model']}; "
              f"match: {report['match']}; {report['seconds']} s", highlight=False)
    for name, key in figures:
        for figure in ("exact", "engine"):
            recall = report[key][figure]
            out.print(f"{name}  {figure:<6}  " + "  ".join(f"{k} {v:.3f}" for k, v in recall.items()),
                      highlight=False)


def _pairs(report: dict, figures: tuple[tuple[str, str], ...]) -> None:
    index = report.get("index", {})
    params = ", ".join(f"{k} {v}" for k, v in index.items() if k != "family")
    out.print(f"{report['images']} images, {report['captions']} captions; model {report['model']}; "
              f"index {index.get('family')}{' (' + params + ')' if params else ''}; {report['seconds']} s",
              highlight=False)
    table = Table(box=None, pad_edge=False)
    ks = list(report[figures[0][1]]["exact"])
    for col in ["direction", "search"] + ks:
        table.add_column(col, no_wrap=True, justify="left" if col in ("direction", "search") else "right")
    for name, key in figures:
        for figure in ("exact", "engine"):
            table.add_row(name if figure == "exact" else "", figure,
                          *(f"{report[key][figure][k]:.3f}" for k in ks))
    out.print(table, highlight=False)


# How each task of the evaluation table (mmsearch.indexers.evaluate.TASKS) is printed; its figures come from there.
RENDER: dict[str, Callable[[dict, tuple[tuple[str, str], ...]], None]] = {"retrieval": _pairs, "moments": _moments}
