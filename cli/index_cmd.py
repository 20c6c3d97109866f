"""The commands that change a library: ``index`` (new, changed, moved, missing files; pending work),
``reindex`` (vector indexes from stored vectors), ``reembed`` (one space with another model) and ``remove``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .engines import run
from .options import JsonOpt, LibraryOpt, ModelOpt
from .output import err, out, plural, print_failures, print_json, print_report, progress_bar


def index(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Files or folders to index (recursively) [default: the ones this library was indexed from].")] = None,
    library: LibraryOpt = None,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
    strict: Annotated[bool, typer.Option("--strict", help="Fail (exit 2) when any work is left pending.")] = False,
    ray: Annotated[str | None, typer.Option(
        "--ray", metavar="ADDRESS", help="Decode and encode on a Ray cluster: auto, ray://HOST:PORT or HOST:PORT "
        "[env MMSEARCH_RAY_ADDRESS; needs pip install 'mmsearch[cluster]']; files on a filesystem all nodes see."
    )] = None,
    prune: Annotated[bool, typer.Option(
        "--prune", help="Forget files gone from disk now (no grace period, no share bound); files of an offline "
        "drive stay (`mmsearch remove` forgets them).")] = False,
) -> None:
    """Index new and changed files; keep moved ones; keep deleted ones as missing for a grace period, then forget
    them; keep the files of a drive that is not mounted (offline); do pending work whose model is here now."""
    progress = progress_bar(as_json)
    report = run(lambda e: e.index(paths or [], progress=progress, strict=strict, ray=ray, prune=prune), library,
                 model, create=True)
    print_report(report, as_json)


def reindex(library: LibraryOpt = None, as_json: JsonOpt = False) -> None:
    """Rebuild the vector indexes from the stored vectors (no decoding, no embedding)."""
    counts = run(lambda e: e.reindex(), library)
    print(json.dumps(counts)) if as_json else out.print(
        "rebuilt " + ", ".join(f"{k}: {v} vectors" for k, v in counts.items())
    )


def reembed(
    space: Annotated[str, typer.Argument(help="The space to switch: clip, audio or text.")],
    model: Annotated[str, typer.Option("--model", "-m", help="The new model's spec for SPACE (as its setting takes)")],
    library: LibraryOpt = None,
    as_json: JsonOpt = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Switch even when files failed: they lose their vectors in SPACE until the next index run.")
    ] = False,
) -> None:
    """Re-embed one space with another model in place; searches use the old model until it is done, and an
    interrupted run resumes when run again. Exit code 1: files failed, so the space was not switched (nothing
    is lost; run it again to retry them, or use --force)."""
    progress = progress_bar(as_json)
    report = run(lambda e: e.reembed(space, model, progress=progress, force=force), library)
    if print_json(report.to_dict(), as_json):
        if not report.swapped:
            raise typer.Exit(1)
        return
    if report.old_model == report.model and not report.reembedded:
        out.print(f"space {report.space} is already embedded with {report.model}", highlight=False)
        return
    resumed = f" (+{report.resumed} from an interrupted run)" if report.resumed else ""
    if not report.swapped:
        print_failures(report.failures, "not re-embedded {path}: {reason}", "`reembed --json` lists them all")
        err.print(f"space {report.space} not switched: {plural(len(report.failures), 'file')} could not be re-embedded "
                  f"({report.reembedded} done{resumed}); it keeps {report.old_model} with all {report.vectors} "
                  "vectors. Run reembed again to retry them, or add --force to switch and lose their vectors "
                  "in this space", highlight=False, markup=False)
        raise typer.Exit(1)
    out.print(f"re-embedded {report.space}: {plural(report.reembedded, 'file')}{resumed}, "
              f"{plural(report.vectors, 'vector')}, "
              f"{report.old_model} -> {report.model} in {report.seconds:.1f}s", highlight=False)
    print_failures(report.failures, "not re-embedded {path}: {reason} (pending for the next index run)",
                    "pending for the next index run")
    if report.lost:
        err.print(f"--force: {report.lost} files lose their vectors in space {report.space} (pending for the "
                  "next index run)", highlight=False, markup=False)


def remove(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to forget (files on disk are untouched).")],
    library: LibraryOpt = None,
) -> None:
    """Forget files without deleting them; later index and watch runs leave them out until
    `mmsearch index PATH` names them again. A path with nothing in the library is an error (exit 2)."""
    n = run(lambda e: e.remove(paths), library)
    out.print(f"removed {plural(n, 'file')} from the library; index and watch leave "
              f"{'it' if len(paths) == 1 else 'them'} out until `mmsearch index PATH` names "
              f"{'it' if len(paths) == 1 else 'them'} again", highlight=False, markup=False)
