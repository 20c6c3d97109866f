"""What the command line prints, for every command module: the two consoles, JSON, one-line errors, hits,
index reports, failures, pending work and the progress bar.

Rules: a message is one line whatever the terminal's width; text prints as it is (no rich markup, no emoji
codes: a path named ``a[x]:fire:.jpg`` stays whole; a line with a style says ``markup=True`` and escapes
what it interpolates); ``--json`` output is the only thing on stdout; an error is ``error: MESSAGE`` on
stderr and exit 2 (:func:`fail`); paths are shown relative to the current folder when they lie below it
(:func:`show`).
"""
from __future__ import annotations

import json
import os
from typing import Any, NoReturn, cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table


class Switchable:
    """A console whose target can be replaced while the process runs: the background query process
    (cli/query_server_cmd.py) answers each query on a console shaped like the asking terminal's (a table
    on a terminal, one line per hit in a pipe), and every command module holds this one object."""

    def __init__(self, console: Console) -> None:
        self.target = console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


def console(stderr: bool = False, **options: Any) -> Console:
    """A console of the command line: soft wrap (a message is one line, whatever the width), no markup and no
    emoji codes unless a line asks (the module docstring's rule)."""
    return Console(stderr=stderr, soft_wrap=True, markup=False, emoji=False, **options)


out = cast(Console, Switchable(console()))
err = cast(Console, Switchable(console(stderr=True)))


def use_consoles(stdout: Console, stderr: Console) -> None:
    """Print through these consoles from now on (every command module's ``out`` and ``err``)."""
    cast(Switchable, out).target = stdout
    cast(Switchable, err).target = stderr


def print_json(data: object, wanted: bool) -> bool:
    """With ``--json`` (``wanted``), print ``data`` as JSON and say so (the caller then prints nothing else)."""
    if wanted:
        print(json.dumps(data, indent=2))
    return wanted


def say_if_empty(rows: list, message: str) -> bool:
    """Print ``message`` for an empty listing and say so (the caller then prints nothing else)."""
    if not rows:
        out.print(message)
    return not rows


def fail(exc: BaseException, code: int = 2) -> NoReturn:
    """One line ``error: MESSAGE`` on stderr, then exit ``code``."""
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True)  # a message may hold [brackets]
    raise typer.Exit(code)


def plural(n: int, word: str) -> str:
    """``1 file``, ``2 files``: a count with its noun."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def one_line(text: str | None, limit: int = 80) -> str:
    """A hit's text on one line (newlines and runs of spaces folded), cut to ``limit`` characters."""
    return " ".join((text or "").split())[:limit]


def clock(seconds: float | None) -> str:
    """``HH:MM:SS`` of a time in seconds; empty for None."""
    if seconds is None:
        return ""
    s = int(round(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def show(path: str) -> str:
    """A path as the user would type it: relative when it lies below the current folder, else as given."""
    try:
        rel = os.path.relpath(path)
        return rel if not rel.startswith("..") else path
    except ValueError:
        return path


def print_hits(hits: list, wanted_json: bool) -> None:
    """Ranked hits: JSON, a table cut to the terminal's width, or one whole line per hit when piped."""
    if print_json([h.to_dict() for h in hits], wanted_json):
        return
    if not hits:
        out.print("no hits")
        return
    if not out.is_terminal:  # piped: one whole, greppable line per hit
        print_lines(hits)
        return
    # One line per hit: the match text is cut to what the terminal has left (the path stays whole).
    rows = []
    for i, h in enumerate(hits, 1):
        span = f"{clock(h.start)}-{clock(h.end)}" if h.start is not None else ""
        match = one_line(h.text)
        if h.linked:
            match = f"{match}  (caption of {show(h.linked)})"
        rows.append([str(i), f"{h.score:.3f}", h.kind, show(h.path), span, match])
    heads = ["#", "score", "kind", "path", "time", "match"]
    used = sum(max(len(heads[c]), *(len(r[c]) for r in rows)) for c in range(5)) + 2 * 5  # widths + gaps
    room = out.width - used - 1
    if room < 12:  # paths wider than the terminal: whole lines (the terminal folds them), never a cut path
        print_lines(hits)
        return
    table = Table(box=None, pad_edge=False)
    for head in heads:
        table.add_column(head, no_wrap=True)
    for r in rows:
        table.add_row(*r[:5], r[5] if len(r[5]) <= room else r[5][: room - 1] + "…")
    out.print(table, highlight=False)


def print_lines(hits: list) -> None:
    """One whole line per hit (rank, score, kind, path, time, match, caption of)."""
    for i, h in enumerate(hits, 1):
        span = f"  {clock(h.start)}-{clock(h.end)}" if h.start is not None else ""
        match = f"  {one_line(h.text)}" if h.text else ""
        linked = f"  (caption of {show(h.linked)})" if h.linked else ""
        print(f"{i:>2}  {h.score:7.3f}  {h.kind:<5}  {show(h.path)}{span}{match}{linked}")


def print_pending(pending: list, wanted_json: bool) -> None:
    """After the hits: one line per kind of work that waits for a model (on stderr with --json)."""
    for p in pending:
        (err if wanted_json else out).print(p.line, highlight=False, markup=False)


def print_report(report, wanted_json: bool) -> None:
    """An index run's counts, then what is pending, missing, offline, warned about and skipped."""
    if print_json(report.to_dict(), wanted_json):
        return
    out.print(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, moved {report.moved}, "
        f"removed {report.removed}, failed {report.failed}"
        + (f" (+{report.skipped_bad} known bad, unchanged)" if report.skipped_bad else "")
        + f" in {report.seconds:.1f}s",
        highlight=False,
    )
    if report.backfilled:
        out.print(f"backfilled {plural(report.backfilled, 'file')} (work that was pending)", highlight=False)
    if report.missing:
        out.print(f"missing {plural(report.missing, 'file')} gone from disk, kept for now (`--prune` forgets them)",
                  highlight=False)
    for place in report.offline:
        out.print(f"offline {show(place['path'])}: {place['why']}; its {plural(place['files'], 'file')} are kept",
                  highlight=False, markup=False)
    for warning in report.warnings:
        err.print(f"  warning: {warning}", highlight=False)
    print_failures(report.failures, "skipped {path}: {reason}", "see `mmsearch errors`")


def print_failures(failures: list, line: str, more: str, shown: int = 20) -> None:
    """The first ``shown`` failures as ``line`` (with ``{path}`` and ``{reason}``), then how many more."""
    for path, reason in failures[:shown]:
        err.print("  " + line.format(path=show(path), reason=reason), highlight=False, markup=False)
    if len(failures) > shown:
        err.print(f"  ... and {len(failures) - shown} more: {more}", highlight=False)


class RichProgress:
    """Progress bar on a terminal; silent otherwise."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                             TextColumn("{task.fields[name]}", markup=False), console=cast(Switchable, err).target,
                             transient=True)
        self._task: Any = None  # the current pass's rich TaskID

    def start(self, total: int) -> None:
        self._bar.start()
        self._task = self._bar.add_task("indexing", total=total, name="")

    def start_pass(self, label: str, total: int) -> None:
        """A further pass of the run (reading text): its own line under the first."""
        self._task = self._bar.add_task(label, total=total, name="")

    def advance(self, n: int = 1, path: str | None = None) -> None:
        self._bar.update(self._task, advance=n, name=os.path.basename(path or "")[:40])

    def stop(self) -> None:
        self._bar.stop()


def progress_bar(wanted_json: bool) -> RichProgress | None:
    """The bar of a long command: on a terminal and without --json only."""
    return RichProgress() if (err.is_terminal and not wanted_json) else None
