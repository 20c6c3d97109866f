"""``mmsearch check [--repair]``: verify the library (catalog, indexes, stored vectors) and fix it.

Exit codes: 0 when the library is consistent (after repairing, with ``--repair``), 1 when problems remain,
2 when the library cannot be opened (one line on stderr, as every command).
"""
from __future__ import annotations

import json
from typing import Annotated

import typer

from .engines import run
from .options import JsonOpt, LibraryOpt
from .output import err, out, show

RepairOpt = Annotated[
    bool, typer.Option("--repair", help="Fix what is found from the catalog: rebuild indexes, delete orphans.")
]


def check(library: LibraryOpt = None, repair: RepairOpt = False, as_json: JsonOpt = False) -> None:
    """Verify the catalog against the vector indexes and stored vectors (--repair fixes it)."""
    report = run(lambda e: e.check(repair=repair), library)
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        _render(report)
    if not report.ok:
        raise typer.Exit(1)


def _render(report) -> None:
    for line in report.repaired:
        out.print(f"repaired: {line}", highlight=False, markup=False)
    for issue in report.problems:
        err.print(f"problem: {issue.message}{_examples(issue)}", highlight=False, markup=False)
    for issue in report.warnings:
        err.print(f"warning: {issue.message}{_examples(issue)}", highlight=False, markup=False)
    spaces = ", ".join(
        f"{name}: {info['catalog_vectors']} vectors" for name, info in sorted(report.spaces.items())
    )
    verdict = "ok" if report.ok else f"{len(report.problems)} problems (run `mmsearch check --repair`)"
    out.print(f"{verdict}: {report.media} files, {report.segments} segments" + (f"; {spaces}" if spaces else ""),
              highlight=False, markup=False)


def _examples(issue) -> str:
    if not issue.examples:
        return ""
    shown = [show(e) if isinstance(e, str) else str(e) for e in issue.examples[:3]]
    more = f", ... ({issue.count} in all)" if issue.count > len(shown) else ""
    return f" [{', '.join(shown)}{more}]"
