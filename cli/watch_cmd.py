"""``mmsearch watch PATH...``: keep a library current while files come and go (and ``serve --watch``'s thread).

Ctrl-C or SIGTERM finishes the file being written and exits 0; a second Ctrl-C interrupts at once.
"""
from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mmsearch.errors import MmsearchError

from .engines import open_engine
from .interrupts import interrupt
from .options import LibraryOpt, ModelOpt
from .output import err, fail, out, show

if TYPE_CHECKING:
    from mmsearch import Engine
    from mmsearch.indexers import IndexReport

QuietOpt = Annotated[float, typer.Option(
    "--quiet-time", min=0.05, help="Seconds a file must stay unchanged (size and mtime) before it is indexed.")]
PollingOpt = Annotated[bool, typer.Option("--polling", help="Poll the folders instead of using inotify.")]


class ReportLines:
    """One line per index run of the watcher; each warning once; failures by file."""

    def __init__(self) -> None:
        self._warned: set[str] = set()

    def report(self, report: IndexReport, paths: list[str]) -> None:
        counts = [(n, what) for n, what in ((report.added, "added"), (report.updated, "updated"),
                                            (report.moved, "moved"), (report.missing, "missing"),
                                            (report.removed, "removed"),
                                            (report.failed, "failed"), (report.backfilled, "backfilled"))]
        done = ", ".join(f"{what} {n}" for n, what in counts if n) or "no change"
        shown = ", ".join(show(p) for p in paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        out.print(f"{time.strftime('%H:%M:%S')}  {done} in {report.seconds:.1f}s  ({shown})", highlight=False)
        for place in report.offline:
            warning = f"offline {show(place['path'])}: {place['why']}; its {place['files']} files are kept"
            if warning not in self._warned:
                self._warned.add(warning)
                err.print(f"  {warning}", highlight=False, markup=False)
        for warning in report.warnings:
            if warning not in self._warned:
                self._warned.add(warning)
                err.print(f"  warning: {warning}", highlight=False)
        for path, reason in report.failures:
            err.print(f"  skipped {show(path)}: {reason}", highlight=False)
        sys.stdout.flush()

    def message(self, line: str) -> None:
        err.print(f"watch: {line}", highlight=False)


def stop_on_signals(stop: threading.Event) -> None:
    """Ctrl-C and SIGTERM set ``stop`` (the watcher finishes the file in hand); a second Ctrl-C interrupts.
    (Under ``serve``, uvicorn takes the signals while it runs and passes them on here when it has shut down.)"""
    def on_signal(signum, _frame) -> None:
        stop.set()
        signal.signal(signal.SIGINT, interrupt)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


def start_thread(engine: Engine, stop: threading.Event, quiet_time: float, paths: list[Path] | None = None,
                 ) -> threading.Thread:
    """The watcher in a background thread (``serve --watch``): the library's folders unless ``paths``."""
    lines = ReportLines()

    def body() -> None:
        try:
            engine.watch(paths or [], stop=stop, quiet_time=quiet_time, on_report=lines.report,
                         on_message=lines.message)
        except MmsearchError as exc:
            lines.message(f"stopped: {exc}")

    thread = threading.Thread(target=body, name="mmsearch-watch", daemon=True)
    thread.start()
    return thread


def watch(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Folders to watch (recursively) [default: the ones this library was indexed from].")] = None,
    library: LibraryOpt = None,
    model: ModelOpt = None,
    quiet_time: QuietOpt = 2.0,
    polling: PollingOpt = False,
) -> None:
    """Keep the library current: index what changed since the last run, then each file that appears, changes,
    moves or goes, once it has stopped changing. Runs until Ctrl-C or SIGTERM."""
    stop = threading.Event()
    stop_on_signals(stop)
    lines = ReportLines()
    try:
        with open_engine(library, model, create=True) as engine:
            folders = ", ".join(show(str(p)) for p in paths) if paths else "the library's folders"
            out.print(f"watching {folders} into {engine.library.root} (quiet time {quiet_time:g}s)",
                      highlight=False)
            sys.stdout.flush()
            engine.watch(paths or [], stop=stop, quiet_time=quiet_time, on_report=lines.report,
                         on_message=lines.message, polling=polling)
    except MmsearchError as exc:
        fail(exc)
    out.print("stopped", highlight=False)
