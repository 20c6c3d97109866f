"""A watched folder: keep a library current while files come, change, move and go.

On start, one catch-up index run over the watched folders picks up whatever changed while the watcher was
down (or killed): the run's own scan and diff, nothing else. Then file-system events (inotify through
watchdog; polling where inotify cannot be had) mark paths dirty; a path is *settled* once no event came for
``quiet_time`` seconds and its size and mtime (a folder: those of every file in it) stayed the same over
that time, so a copy in progress is waited for. Settled paths go through the normal index run in batches:

- a file that exists is its own root (with the files beside it that share its name's stem, so captions
  and subtitles are linked as ``index`` links them);
- anything else (a deleted or moved-away path, a folder, a file moved in) is handled by a run over the
  nearest folder that still exists, so the run's diff sees both ends of a move (vectors kept) and drops
  what is gone; such a run waits while a path under that folder is still being written, and nothing in a
  watched folder is indexed while a deletion there (perhaps the first half of a move) is not settled.

Skipped as ``index`` skips them: hidden files and folders, the library's folder, ``.mmsearchignore``
matches, kinds that are not indexed; and temporary files of copies and downloads (:data:`TEMP_SUFFIXES`).
"""
from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmsearch.context import Context
from mmsearch.errors import LibraryLockedError, MmsearchError

from .report import IndexReport
from .run import run_index
from .scan import IGNORE_FILE, _ignore_rules, _ignored, kind_of

__all__ = ["QUIET_TIME", "TEMP_SUFFIXES", "Watcher", "WatchStopped", "watched_folders"]

log = logging.getLogger(__name__)

QUIET_TIME = 2.0  # seconds without events (and with size+mtime unchanged) before a path is indexed
TEMP_SUFFIXES = (".part", ".partial", ".crdownload", ".download", ".tmp", ".swp", "~")  # copies in flight
# watchdog holds a rename's first half 0.5 s to pair it with its second: a run that scans folders (moves,
# deletions, new folders) waits this much longer than the quiet time, so both halves are in.
MOVE_SLACK = 1.0
POLL_INTERVAL = 1.0  # seconds between scans of the polling observer (no inotify)
# Events that say a path's content or name changed; opened / closed-without-write are reads (ours too).
CHANGES = frozenset({"created", "modified", "moved", "deleted", "closed", "attrib"})
# A folder is "modified" whenever a file in it is created or removed: the file's own event says what.
FOLDER_TOUCHES = frozenset({"modified", "attrib", "closed"})


class WatchStopped(Exception):
    """Raised inside an index run, after the file being written is committed, when a stop was asked."""


@dataclass
class _Dirty:
    """A path with a change not indexed yet."""

    seen: float  # monotonic time of its last event (or of the last check that found it still changing)
    signature: object  # size + mtime then (a folder: of its files); None: the path does not exist
    moved_in: bool = False  # the end of a move: indexed with its old place, so the vectors are kept
    folder: bool = False  # a folder (created or moved in): one run scans it when all of it has settled


@dataclass
class _Batch:
    roots: list[Path] = field(default_factory=list)
    done: dict[str, _Dirty] = field(default_factory=dict)  # what the run indexes, to forget after it
    dropped: dict[str, _Dirty] = field(default_factory=dict)  # settled, nothing to index (ignored)


class _StopAfterFile:
    """An index run's progress that ends the run after the file in hand when ``stop`` is set."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop

    def start(self, total: int) -> None:
        pass

    def advance(self, n: int = 1, path: str | None = None) -> None:
        if self._stop.is_set():
            raise WatchStopped(path)

    def stop(self) -> None:
        pass


def watched_folders(ctx: Context, paths: Sequence[str | Path]) -> list[Path]:
    """The folders to watch: ``paths``, or else the folders the library was indexed from (files indexed by
    name are not watched). Raises MmsearchError when there are none."""
    if paths:
        return [Path(p) for p in paths]
    folders = [Path(r) for r in ctx.catalog.roots() if Path(r).is_dir()]
    if not folders:
        raise MmsearchError("name the folders to watch (this library has no folders recorded yet)")
    return folders


class Watcher:
    """Watch ``roots`` (folders or files) and index what changes into ``ctx``'s library.

    Args:
        ctx: an open library's context (shared with a server, which keeps answering meanwhile).
        roots: the folders to watch, recursively.
        quiet_time: seconds a path must stay unchanged before it is indexed.
        on_report: called with each run's :class:`IndexReport` and the paths that started it.
        on_message: called with one line for what a user should know (polling, a run that failed).
        polling: force the polling observer (default: inotify, polling when it cannot be had).
    """

    def __init__(self, ctx: Context, roots: Sequence[str | Path], *, quiet_time: float = QUIET_TIME,
                 on_report: Callable[[IndexReport, list[str]], None] | None = None,
                 on_message: Callable[[str], None] | None = None, polling: bool = False) -> None:
        if not roots:
            raise MmsearchError("name the folders to watch")
        self.ctx = ctx
        self.roots = _outermost(Path(os.path.abspath(os.path.expanduser(r))) for r in roots)
        for root in self.roots:
            if not root.is_dir():
                raise MmsearchError(f"not a folder: {root}")
        self.quiet_time = max(0.05, float(quiet_time))
        self.on_report = on_report or (lambda report, paths: None)
        self.on_message = on_message or (lambda line: log.warning("%s", line))
        self.polling = polling
        self._library = str(ctx.library.root)
        self._dirty: dict[str, _Dirty] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._retry_at = 0.0
        self._observer: Any = None

    # -- the loop -------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Catch up, then index settled changes until ``stop`` is set (the file in hand is finished)."""
        observer = self._observer = self._observe()
        try:
            self._index(list(self.roots), stop, list(map(str, self.roots)))
            while not stop.is_set():
                self._wake.wait(self._tick())
                self._wake.clear()
                if not stop.is_set():
                    self.step(stop)
        finally:
            observer.stop()
            observer.join(timeout=5)

    def step(self, stop: threading.Event | None = None) -> IndexReport | None:
        """Index the paths that have settled by now, in one run; None when there was nothing to do."""
        if time.monotonic() < self._retry_at:
            return None
        if self._observer is not None and not self._observer.event_queue.empty():
            return None  # events not handled yet: they may belong to this batch
        batch = self._settled()
        with self._lock:
            for path, entry in batch.dropped.items():
                if self._dirty.get(path) is entry:
                    del self._dirty[path]
        if not batch.roots:
            return None
        report = self._index(batch.roots, stop or threading.Event(), sorted(batch.done))
        if report is None and time.monotonic() < self._retry_at:
            return None  # the library was busy: the batch stays dirty
        with self._lock:
            for path, entry in batch.done.items():
                if self._dirty.get(path) is entry:  # no newer event came during the run
                    del self._dirty[path]
        return report

    def notice(self, path: str, moved_in: bool = False) -> bool:
        """A change at ``path`` (called from the observer's thread); False when the path is not watched."""
        if not self._wanted(path):
            return False
        entry = _Dirty(time.monotonic(), _signature(path), moved_in, os.path.isdir(path))
        with self._lock:
            old = self._dirty.get(path)
            entry.moved_in = moved_in or (old is not None and old.moved_in)
            self._dirty[path] = entry
        self._wake.set()
        return True

    @property
    def dirty(self) -> list[str]:
        """Paths with a change not indexed yet."""
        with self._lock:
            return sorted(self._dirty)

    # -- internals ------------------------------------------------------------------------------
    def _tick(self) -> float:
        return min(0.5, self.quiet_time / 4)

    def _index(self, roots: list[Path], stop: threading.Event, paths: list[str]) -> IndexReport | None:
        try:
            report = run_index(self.ctx, roots, _StopAfterFile(stop), named=False)  # a removed file stays out
        except WatchStopped:
            return None
        except LibraryLockedError as exc:
            self.on_message(f"{exc}; trying again in {self.quiet_time:g}s")
            self._retry_at = time.monotonic() + self.quiet_time
            return None
        except MmsearchError as exc:
            self.on_message(f"index run over {', '.join(map(str, roots))} failed: {exc}")
            return None
        except Exception as exc:  # the watcher outlives one bad run (logged with its traceback)
            log.exception("index run failed")
            self.on_message(f"index run over {', '.join(map(str, roots))} failed: {type(exc).__name__}: {exc}")
            return None
        self.on_report(report, paths)
        return report

    def _settled(self) -> _Batch:
        """Split the dirty paths: settled ones into run roots (see module docstring); the rest wait."""
        now = time.monotonic()
        with self._lock:
            dirty = dict(self._dirty)
        settled: dict[str, _Dirty] = {}
        waiting: list[str] = []
        for path, entry in dirty.items():
            if now - entry.seen < self.quiet_time:
                waiting.append(path)
                continue
            sig = _signature(path)
            if sig != entry.signature:  # changed without an event we saw (or between two): wait again
                with self._lock:
                    if self._dirty.get(path) is entry:
                        entry.signature, entry.seen = sig, now
                waiting.append(path)
                continue
            settled[path] = entry
        batch = _Batch()
        folders: dict[Path, list[str]] = {}
        files: dict[Path, list[str]] = {}
        for path, entry in settled.items():
            watch_root = self._root_of(path)
            if watch_root is None or self._skipped(path, watch_root):
                batch.dropped[path] = entry
            elif os.path.isfile(path) and not entry.moved_in:
                files.setdefault(Path(path), []).append(path)
            elif now - entry.seen < self.quiet_time + MOVE_SLACK:
                waiting.append(path)
            else:
                folder = self._folder_for(path, watch_root)
                if folder is None:
                    batch.dropped[path] = entry
                else:
                    folders.setdefault(folder, []).append(path)
        # A deletion not settled yet may be the first half of a move whose second half is a new file or folder
        # (a move into a folder just created comes as a creation, then a deletion): its watched folder waits.
        gone = {self._root_of(w) for w in waiting if dirty[w].signature is None}
        ready = {f: ps for f, ps in folders.items()
                 if self._root_of(str(f)) not in gone and not any(_inside(w, f) for w in waiting)}
        # A file in a new folder that is not ready yet is left to that folder's run (it may be the end of a move).
        pending_folders = [Path(p) for p, e in dirty.items() if e.folder and Path(p) not in ready]
        for f, ps in files.items():
            if self._root_of(str(f)) in gone or any(_inside(str(f), d) for d in pending_folders):
                continue
            if not any(_inside(str(f), folder) for folder in ready):
                batch.roots += [f, *self._companions(str(f))]
            batch.done.update((p, settled[p]) for p in ps)
        for f, ps in ready.items():
            batch.roots.append(f)
            batch.done.update((p, settled[p]) for p in ps)
        batch.roots = _outermost(batch.roots)
        return batch

    def _root_of(self, path: str) -> Path | None:
        return next((r for r in self.roots if _inside(path, r)), None)

    def _wanted(self, path: str) -> bool:
        """Not worth a look at all: outside the watched folders, hidden, temporary, the library itself."""
        root = self._root_of(path)
        if root is None or _inside(path, Path(self._library)):
            return False
        rel = os.path.relpath(path, root)
        if rel != "." and any(part.startswith(".") for part in rel.split(os.sep)):
            return False
        if path.endswith(TEMP_SUFFIXES):
            return False
        return not (kind_of(path) is None and os.path.isfile(path))

    def _skipped(self, path: str, root: Path) -> bool:
        """What a scan of ``root`` would skip: not wanted, or matched by a ``.mmsearchignore`` on the way."""
        if not self._wanted(path):
            return True
        rules: list[tuple[str, str]] = []
        folder = str(root)
        for part in os.path.relpath(path, root).split(os.sep):
            if part == ".":
                break
            rules += _ignore_rules(folder, [IGNORE_FILE] if os.path.isfile(os.path.join(folder, IGNORE_FILE)) else [])
            folder = os.path.join(folder, part)
            if _ignored(folder, rules):
                return True
        return False

    def _folder_for(self, path: str, root: Path) -> Path | None:
        """The folder a run must scan to see ``path`` as ``index`` does: the path itself when it is a folder,
        else the nearest existing folder above it; widened to the highest folder on the way (from the watch
        root) with a ``.mmsearchignore``, whose rules a scan only reads from its own root down."""
        folder = Path(path)
        while not folder.is_dir():
            if folder == root or folder == folder.parent:
                self.on_message(f"the watched folder {root} is gone")
                return None
            folder = folder.parent
        probe = folder
        while probe != root:
            probe = probe.parent
            if (probe / IGNORE_FILE).is_file():
                folder = probe
        return folder

    def _companions(self, path: str) -> list[Path]:
        """Files beside ``path`` whose names share its stem (``photo.jpg``: ``photo.txt``, ``photo.en.srt``):
        a caption or subtitle is linked in the run that scans both."""
        folder, name = os.path.split(path)
        stem = name.split(".", 1)[0]
        try:
            names = os.listdir(folder)
        except OSError:
            return []
        root = self._root_of(path)
        found = []
        for other in names:
            full = os.path.join(folder, other)
            if other != name and other.split(".", 1)[0] == stem and kind_of(full) is not None \
                    and os.path.isfile(full) and root is not None and not self._skipped(full, root):
                found.append(Path(full))
        return found

    def _observe(self):  # -> watchdog BaseObserver
        """Start an inotify observer (or the polling one when inotify cannot be had: say so, once)."""
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        handler = _Handler(self)
        if not self.polling:
            observer = Observer()
            try:
                for root in self.roots:
                    observer.schedule(handler, str(root), recursive=True)
                observer.start()
                return observer
            except OSError as exc:
                observer.stop()
                why = ("the inotify watch limit is reached (raise fs.inotify.max_user_watches)"
                       if exc.errno in (errno.ENOSPC, errno.EMFILE) else f"inotify cannot be used ({exc})")
                self.on_message(f"{why}: polling the folders every {POLL_INTERVAL:g}s instead")
        observer = PollingObserver(timeout=POLL_INTERVAL)
        for root in self.roots:
            observer.schedule(handler, str(root), recursive=True)
        observer.start()
        return observer


class _Handler:
    """watchdog's event handler: every change event marks its path(s) dirty."""

    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher

    def dispatch(self, event) -> None:
        if event.event_type not in CHANGES or (event.is_directory and event.event_type in FOLDER_TOUCHES):
            return
        src = os.fsdecode(event.src_path)
        if event.event_type == "moved":
            # From a temporary name (a finished download) or from outside: a new file, not the end of a move.
            moved = self.watcher.notice(src)
            self.watcher.notice(os.fsdecode(event.dest_path), moved_in=moved)
        else:
            self.watcher.notice(src)


def _signature(path: str) -> object:
    """Size and mtime of a file; of a folder, those of every file in it; None when it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not os.path.isdir(path):
        return (st.st_size, st.st_mtime_ns)
    files = []
    for folder, _dirs, names in os.walk(path):
        for name in names:
            try:
                s = os.stat(os.path.join(folder, name))
            except OSError:
                continue
            files.append((folder, name, s.st_size, s.st_mtime_ns))
    return tuple(sorted(files))


def _inside(path: str, folder: Path | str) -> bool:
    folder_s = str(folder)
    return path == folder_s or path.startswith(folder_s.rstrip(os.sep) + os.sep)


def _outermost(roots: Iterable[Path]) -> list[Path]:
    """The roots without those inside another one (a run scans each once)."""
    unique = sorted(set(roots), key=lambda p: len(p.parts))
    kept: list[Path] = []
    for r in unique:
        if not any(_inside(str(r), k) for k in kept):
            kept.append(r)
    return sorted(kept)
