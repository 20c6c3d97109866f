"""``mmsearch eval MANIFEST``: retrieval quality (recall@1/5/10) through the engine beside exact search.

MANIFEST: ``image,caption`` rows (.csv, .tsv, .jsonl, .json list) or a Karpathy-split JSON of
Flickr30k / COCO. Images and captions are indexed into a library (a temporary one unless --library
names one, which is then reused on the next run: only changes are indexed again).
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mmsearch.errors import MmsearchError

from .app import JsonOpt, LibraryOpt, ModelOpt, app, err, out


@app.command("eval")
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
    from mmsearch.indexers.evaluate import evaluate, load_manifest

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
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    if as_json:
        print(json.dumps(report, indent=2))
        return
    _render(report)


def _render(report: dict) -> None:
    if report.get("task") == "moments":
        out.print(f"{report['queries']} moments in {report['videos']} videos; model {report['model']}; "
                  f"match: {report['match']}; {report['seconds']} s", highlight=False)
        for figure in ("exact", "engine"):
            figures = report["text_to_moment"][figure]
            out.print(f"text -> moment  {figure:<6}  " + "  ".join(f"{k} {v:.3f}" for k, v in figures.items()),
                      highlight=False)
        return
    index = report.get("index", {})
    params = ", ".join(f"{k} {v}" for k, v in index.items() if k != "family")
    out.print(f"{report['images']} images, {report['captions']} captions; model {report['model']}; "
              f"index {index.get('family')}{' (' + params + ')' if params else ''}; {report['seconds']} s",
              highlight=False)
    table = Table(box=None, pad_edge=False)
    ks = list(report["text_to_image"]["exact"])
    for col in ["direction", "search"] + ks:
        table.add_column(col, no_wrap=True, justify="left" if col in ("direction", "search") else "right")
    for name, key in (("text -> image", "text_to_image"), ("image -> text", "image_to_text")):
        for figure in ("exact", "engine"):
            table.add_row(name if figure == "exact" else "", figure,
                          *(f"{report[key][figure][k]:.3f}" for k in ks))
    out.print(table, highlight=False)
