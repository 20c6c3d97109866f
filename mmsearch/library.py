"""A library folder: the catalog, one vector index per space, the writer lock.

Ordering that makes ingestion crash-safe: a batch's rows *and vectors* are committed to the catalog
in one transaction first; only then are the vectors added to the in-memory indexes; snapshots are
written atomically now and then, each stamped with the space's catalog epoch. On open, a snapshot
whose epoch differs from the catalog's (a crash after a commit, before the next snapshot) or that is
damaged is replayed from the stored vectors. So a kill at any point leaves a library that opens with
exactly the committed items.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mmsearch import _faults as faults
from mmsearch import library_marker as marker
from mmsearch.catalog import Catalog, Generation, WriteResult
from mmsearch.catalog.readonly import ReadOnlyCatalog, discard, open_read_only
from mmsearch.catalog.records import SpaceRow as Space
from mmsearch.config import Settings
from mmsearch.errors import LibraryError, LibraryLockedError
from mmsearch.vectors import VectorIndex, policy_for

SAVE_BUDGET = 10.0  # unforced snapshots wait at least this many times the last one's duration


class Library:
    """Storage of a library: folder, catalog, indexes. Knows nothing of models or media files."""

    def __init__(self, settings: Settings, *, create: bool = True) -> None:
        self.settings = settings
        self.root = Path(settings.library).expanduser().resolve()
        # Whose folder is this (library_marker.py)? Ours when it holds the marker or mmsearch's own files, or
        # when this open may create a library; then it gets the marker. Another folder is never written to.
        owned = create or marker.is_library(self.root) or marker.has_own_files(self.root)
        if not owned and not settings.database_url:
            raise LibraryError(f"no mmsearch library at {self.root}")
        if not self.root.exists():
            if not create:
                raise LibraryError(f"no library at {self.root}")
            try:
                self.root.mkdir(parents=True, mode=0o700)
            except OSError as exc:
                raise LibraryError(f"cannot create library folder {self.root}: {exc.strerror}") from None
        elif not self.root.is_dir():
            raise LibraryError(f"library path {self.root} is not a folder")
        self.index_dir = self.root / "index"
        # A library on a read-only disk (a mounted archive, a remounted folder) is opened for searching
        # only, with every committed row, also those in a -wal a killed writer left (catalog/readonly.py).
        self.read_only = not os.access(self.root, os.W_OK)
        self._read_only_copy: ReadOnlyCatalog | None = None
        if owned and not self.read_only and not marker.is_library(self.root):
            marker.write(self.root)
        if owned and not self.index_dir.is_dir():
            try:
                self.index_dir.mkdir(mode=0o700, exist_ok=True)
            except OSError as exc:
                raise LibraryError(f"cannot use index folder {self.index_dir}: {exc.strerror}") from None
        if create and not settings.database_url and not self.read_only:
            try:  # user-only catalog; SQLite gives -wal/-shm the same mode
                os.close(os.open(self.root / "catalog.sqlite3", os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
            except OSError:
                pass  # the catalog reports what is wrong
        url = settings.database
        if self.read_only and not settings.database_url:
            self._read_only_copy = open_read_only(self.root / "catalog.sqlite3")
            url = self._read_only_copy.url
        try:
            self.catalog = Catalog(url, create=create and not self.read_only)
        except BaseException:
            if self._read_only_copy is not None:
                discard(self._read_only_copy)
            raise
        self._indexes: dict[str, VectorIndex] = {}
        self._generations: dict[str, Generation] = {}  # the catalog state each loaded index reflects
        self.policy = policy_for(settings)
        self._dirty: set[str] = set()
        self._lock = threading.RLock()
        self._lock_fd: int | None = None
        self._last_save = time.monotonic()
        self._last_save_seconds = 0.0

    # -- writer lock ----------------------------------------------------------------------------
    def acquire_writer(self) -> None:
        """Take the library's writer lock or raise LibraryLockedError (one index run at a time)."""
        if self._lock_fd is not None:
            return
        if self.read_only:
            raise LibraryError(f"the library folder {self.root} is read-only: it can be searched, not written "
                               "(make it writable, or use another --library)")
        try:
            fd = os.open(self.root / ".writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise LibraryError(f"cannot write to the library folder {self.root}: {exc.strerror} "
                               "(make it writable, or use another --library)") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise LibraryLockedError(
                    f"another mmsearch process is indexing into {self.root}; wait for it to finish"
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd
        try:  # a shared (server) catalog: one writer across machines and library folders
            self.catalog.take_writer_lock({"host": socket.gethostname(), "pid": os.getpid(), "library": str(self.root),
                                           "since": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")})
            if self.catalog.ensure_generations():  # a library from before tokens: replay once, save with them
                for space in self.catalog.spaces():
                    self._indexes.pop(space.name, None)
                    self.index(space)
                    self._dirty.add(space.name)
        except BaseException:
            self.release_writer()
            raise

    def release_writer(self) -> None:
        self.catalog.release_writer_lock()
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the writer lock for the block (re-entrant: an outer holder keeps it)."""
        held = self.is_writer
        self.acquire_writer()
        try:
            yield
        finally:
            if not held:
                self.release_writer()

    @property
    def is_library(self) -> bool:
        """Whether the folder holds the library marker (check --repair acts only on such a folder)."""
        return marker.is_library(self.root)

    @property
    def is_writer(self) -> bool:
        return self._lock_fd is not None

    # -- indexes --------------------------------------------------------------------------------
    def index_path(self, space: str) -> Path:
        return self.index_dir / f"{space}.index"

    def index(self, space: Space) -> VectorIndex:
        """The in-memory index of a space, loaded from its snapshot or replayed from the catalog."""
        with self._lock:
            current = self._indexes.get(space.name)
            generation = self.catalog.space_generations().get(space.name, (0, None))
            if current is not None and self._generations.get(space.name) == generation:
                return current
            if current is not None and self.is_writer:
                return current  # the writer applies its own changes as it commits them
            loaded = self._load_snapshot(space, generation)
            if loaded is None:
                loaded = self._replay(space, generation)
            self._indexes[space.name] = loaded
            self._generations[space.name] = generation
            return loaded

    def _load_snapshot(self, space: Space, generation: Generation) -> VectorIndex | None:
        """The snapshot, when it reflects exactly the catalog's state of the space: its epoch *and* token equal
        the catalog's (a snapshot of a library from before tokens holds none, and so does its catalog until a
        writer of this version opens it), its model and dimension too."""
        path = self.index_path(space.name)
        if not path.exists():
            return None
        try:
            idx, meta = VectorIndex.load(path)
        except LibraryError:
            return None  # damaged: replay from the catalog, the source of truth
        if (meta.get("epoch"), meta.get("generation")) != generation or meta.get("model_id") != space.model_id \
                or idx.dim != space.dim:
            return None
        idx.policy = self.policy
        return idx

    def _replay(self, space: Space, generation: Generation) -> VectorIndex:
        idx = VectorIndex(space.dim, epoch=generation[0], policy=self.policy)
        for ids, vectors in self.catalog.iter_vectors(space.id, space.dim):
            idx.add(ids, vectors)
        if self.is_writer:
            self._dirty.add(space.name)
        return idx

    def rebuild(self, space: Space) -> VectorIndex:
        with self._lock:
            generation = self.catalog.space_generations().get(space.name, (0, None))
            idx = self._replay(space, generation)
            self._indexes[space.name] = idx
            self._generations[space.name] = generation
            self._dirty.add(space.name)
            return idx

    # -- writes ---------------------------------------------------------------------------------
    def apply(self, result: WriteResult, space: Space | None = None) -> None:
        """Mirror a committed catalog write into the in-memory indexes (``space`` is unused, kept for callers)."""
        with self._lock:
            spaces = {s.id: s for s in self.catalog.spaces()}
            by_space: dict[int, list[int]] = {}
            for space_id, segment_id in result.removed:
                by_space.setdefault(space_id, []).append(segment_id)
            for space_id, ids in by_space.items():
                name = spaces[space_id].name
                # Not loaded yet (a remove-only run): load it (the replay already lacks these ids), so the
                # snapshot is rewritten instead of staying behind the catalog and replayed on every open.
                (self._indexes.get(name) or self.index(spaces[space_id])).remove(ids)
                self._dirty.add(name)
            by_name = {s.name: s for s in spaces.values()}
            for name, pairs in (result.added or {}).items():
                idx = self._indexes.get(name)
                if idx is None:
                    self.index(by_name[name])  # the replay already includes this commit
                else:
                    idx.add([i for i, _ in pairs], np.stack([v for _, v in pairs]))
                self._dirty.add(name)
            generations = self.catalog.space_generations()
            for name, idx in self._indexes.items():
                if name in generations:
                    idx.epoch = generations[name][0]
                    self._generations[name] = generations[name]

    def save(self, force: bool = False, every: float = 30.0) -> None:
        """Snapshot changed indexes; without ``force`` at most every ``every`` seconds, and never
        more often than ten times the last save took: a snapshot rewrites the whole index (1 GB at
        1M vectors), so periodic snapshots cost an ingest at most ~10 % of its time. (The catalog
        is the truth: after a crash a stale snapshot is brought up to date from it.)

        The index family follows the space's size (mmsearch/vectors/size_rule.py). An unforced save starts a due
        rebuild in the background and swaps in a finished one, so an ingest goes on while a large
        space is rebuilt (100k vectors: 32 s; 10M: ~30 min); a forced save (the end of a run)
        waits for it, or rebuilds there and then."""
        with self._lock:
            rebuilding = {name for name, idx in self._indexes.items() if idx.rebuilding}
            wait = max(every, SAVE_BUDGET * self._last_save_seconds)
            if not (self._dirty or rebuilding) or (not force and time.monotonic() - self._last_save < wait):
                return
            started = time.monotonic()
            spaces = {s.name: s for s in self.catalog.spaces()}
            for name in sorted(self._dirty | rebuilding):
                if name not in self._indexes or name not in spaces:
                    continue
                idx = self._indexes[name]
                if force:
                    idx.finish_rebuild(wait=True)
                    idx.maybe_rebuild()
                else:
                    idx.finish_rebuild()
                    idx.start_rebuild()
                faults.point("save")
                self._snapshot(idx, name, spaces[name].model_id)
            self._dirty.clear()
            self._last_save = time.monotonic()
            self._last_save_seconds = self._last_save - started

    def _snapshot(self, idx: VectorIndex, name: str, model_id: str) -> None:
        """Write one space's snapshot. A disk that refuses it (full, read-only, the folder gone) raises one
        LibraryError line; the catalog already holds every committed vector, so nothing is lost: the next
        open replays what the last good snapshot lacks."""
        path = self.index_path(name)
        try:
            idx.save(path, {"space": name, "model_id": model_id,
                            "generation": self._generations.get(name, (0, None))[1]})
            os.chmod(path, 0o600)
        except OSError as exc:
            for stray in self.index_dir.glob(f".{path.name}.*.tmp") if self.index_dir.is_dir() else ():
                stray.unlink(missing_ok=True)  # a half-written snapshot must not hold the disk
            if not self.root.is_dir():
                why = f"the library folder {self.root} disappeared during the run"
            elif exc.errno == errno.ENOSPC:
                why = "the disk holding the library is full: free some space and run the command again"
            elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                why = f"the library folder {self.root} is read-only: make it writable"
            else:
                why = f"cannot write the index snapshot {path}: {exc.strerror}"
            raise LibraryError(f"{why} (every file indexed so far is kept in the catalog)") from None

    def close(self) -> None:
        try:
            if self.is_writer:
                self.save(force=True)
        finally:
            self.release_writer()
            self.catalog.close()
            if self._read_only_copy is not None:
                discard(self._read_only_copy)
