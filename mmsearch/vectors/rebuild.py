"""Rebuilds: when an index is rebuilt, and the background builder that keeps search going meanwhile.

An index is rebuilt (:func:`rebuild_reason`) when the size rule wants another family (size_rule.py,
with its hysteresis), when a fifth (``dead_fraction``) of an ANN index's rows are removed ones
(compaction), or when an IVF family's space has grown ``ivf_regrow`` (4x) past the size it was
trained on. Every family gives back all its vectors, so a rebuild never needs the catalog; a large
space's vectors are spilled to an unlinked temporary file first (:func:`live_vectors`) so they are
not held twice in memory.

In the background (:class:`BackgroundRebuild`) the new index is built by a thread while the current
one keeps answering searches and taking adds and removes. Those changes are journaled; the builder
thread replays them onto the new index, outside the index's lock, until at most about
``catch_up_rows`` journaled rows are left, and the swap replays the rest under the lock (an HNSW
insert costs ~0.3 ms: 30k of them under the lock stalled an ingest for 10 s).
"""
from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import numpy as np

from mmsearch.vectors.families import Family
from mmsearch.vectors.policy import IndexPolicy
from mmsearch.vectors.size_rule import wanted_family

log = logging.getLogger(__name__)

CATCH_UP_PASSES = 8  # bounded: an ingest faster than the inserts leaves the rest to the swap


class Changeable(Protocol):
    """What a journal is replayed onto (a VectorIndex)."""

    def add(self, ids: Iterable[int], vectors: np.ndarray) -> None: ...

    def remove(self, ids: Iterable[int]) -> int: ...


def rebuild_reason(family: Family, policy: IndexPolicy) -> str | None:
    """Why ``family`` should be rebuilt now (family change, compaction, retraining), or None."""
    n = family.ntotal
    want = wanted_family(family.name, n, family.dim, policy)
    if want != family.name:
        return f"{n} vectors: {family.name} -> {want}"
    if family.dead and family.dead >= policy.dead_fraction * family.rows:
        return f"{family.dead} of {family.rows} rows removed"
    trained = int(family.params.get("trained_n", 0))
    if family.retrains and trained and n >= policy.ivf_regrow * trained:
        return f"{n} vectors, trained on a space of {trained}"
    return None


def live_vectors(blocks: Iterator[tuple[np.ndarray, np.ndarray]], n: int, dim: int,
                 spill_bytes: int = 1 << 30) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` live (ids, float16 vectors) of ``blocks`` in one array each. Past ``spill_bytes`` the
    vectors go to an unlinked temporary file, memory-mapped, so a rebuild of a large space does not
    hold them twice in memory."""
    if n * dim * 2 <= spill_bytes:
        parts = list(blocks)
        if not parts:
            return np.zeros(0, np.int64), np.zeros((0, dim), np.float16)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    fd, name = tempfile.mkstemp(prefix="mmsearch-rebuild-", suffix=".f16")
    try:
        os.ftruncate(fd, n * dim * 2)
        out = np.memmap(name, dtype=np.float16, mode="r+", shape=(n, dim))
    finally:
        os.close(fd)
        os.unlink(name)  # the mapping keeps the data until it is dropped
    ids, at = np.zeros(n, np.int64), 0
    for block_ids, block in blocks:
        out[at : at + len(block)] = block
        ids[at : at + len(block)] = block_ids
        at += len(block)
    return ids, out


Entry = tuple[str, np.ndarray, "np.ndarray | None"]  # ("add", ids, vectors) or ("remove", ids, None)


def replay(entries: list[Entry], target: Changeable) -> None:
    """Apply journaled adds and removes to ``target`` in order."""
    for op, ids, vectors in entries:
        if op == "add":
            assert vectors is not None
            target.add(ids, vectors)
        else:
            target.remove(ids)


class BackgroundRebuild:
    """One rebuild in a builder thread: ``build()`` makes the new index, then the thread replays the
    journal onto it until little is left (see the module docstring)."""

    def __init__(self, build: Callable[[], Any], catch_up_rows: int) -> None:
        self.journal: list[Entry] = []
        self.replayed = 0  # journal entries the builder thread has already applied
        self.result: Any = None  # the new index, or the exception that ended the build
        self._build, self._catch_up_rows = build, catch_up_rows
        self._thread = threading.Thread(target=self._run, name="mmsearch-index-rebuild", daemon=True)
        self._thread.start()

    def record_add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.journal.append(("add", ids.copy(), vectors.copy()))

    def record_remove(self, ids: np.ndarray) -> None:
        self.journal.append(("remove", ids.copy(), None))

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the builder thread (it does not swap anything in)."""
        self._thread.join(timeout)

    def pending(self) -> list[Entry]:
        """Journal entries the builder has not applied (for the swap, once it finished)."""
        return self.journal[self.replayed :]

    def _run(self) -> None:
        try:
            built = self._build()
            done = 0
            for _ in range(CATCH_UP_PASSES):
                pending = self.journal[done:]
                if sum(len(entry[1]) for entry in pending) <= self._catch_up_rows:
                    break
                replay(pending, built)
                done += len(pending)
            self.replayed, self.result = done, built
        except BaseException as exc:  # noqa: BLE001 - reported by VectorIndex.finish_rebuild
            self.result = exc
