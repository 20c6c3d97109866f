"""What every index family shares: :class:`Family` (the hooks a family fills in) and :class:`Ann` (the
approximate families' row map and dead-row marks), exact top-k and the small-search thread rule.

A family object holds one FAISS structure and everything that differs between families: how it is
built and trained, how rows are added, removed and searched, how its vectors are read back, which
search parameter calibration tunes, which snapshot sections it needs and whether FAISS can copy it
to a GPU. Each family is one module beside this one (flat, hnsw, ivf, ivfpq); the package's
``FAMILIES`` table names them. The size rule that picks a family is in size_rule.py.

Removal. ANN families mark removed rows dead (a FAISS ``IDSelectorBitmap`` skips them during
search); a rebuild compacts once a fifth of the rows are dead (rebuild.py). Rows (FAISS labels) map
to catalog ids through an int64 array, so a re-used catalog id is harmless.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import faiss
import numpy as np

from mmsearch.vectors.calibration import calibrate
from mmsearch.vectors.policy import FamilyName, IndexPolicy

ANN_MAX_K = 2048  # past this many results an ANN search is slower than a scan (and may miss some)
BLOCK = 65_536  # vectors per block when building or reading back
_SMALL_WORK = 4_000_000  # queries x vectors below which one CPU thread is faster (no OpenMP wake-up)

Section = Any  # a snapshot section's data: a numpy array or a RowStore
SectionReader = Callable[[str, Any], np.ndarray]  # (name, dtype) -> the section's array
SectionMapper = Callable[[str, int], np.ndarray]  # (name, rows) -> the section memory-mapped as float16 rows


@contextlib.contextmanager
def small_search_threads(work: int) -> Iterator[None]:
    """One OpenMP thread for small searches: waking a team costs more than it saves, and on a busy
    machine a team waits for its slowest thread. (OpenMP's thread count is per calling thread.)"""
    if work >= _SMALL_WORK:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def exact_topk(blocks: Iterator[tuple[np.ndarray, np.ndarray]], queries: np.ndarray, k: int) -> tuple[
        np.ndarray, np.ndarray]:
    """Exact top-k (scores, ids) of ``queries`` by brute force over (ids, vectors) blocks, best first."""
    best_s = np.full((len(queries), 0), -np.inf, np.float32)
    best_i = np.zeros((len(queries), 0), np.int64)
    for ids, block in blocks:
        s = queries @ block.astype(np.float32).T
        best_s = np.concatenate([best_s, s], axis=1)
        best_i = np.concatenate([best_i, np.broadcast_to(ids, s.shape)], axis=1)
        if best_s.shape[1] > k:
            top = np.argpartition(-best_s, k - 1, axis=1)[:, :k]
            best_s = np.take_along_axis(best_s, top, 1)
            best_i = np.take_along_axis(best_i, top, 1)
    order = np.argsort(-best_s, axis=1, kind="stable")
    return np.take_along_axis(best_s, order, 1), np.take_along_axis(best_i, order, 1)


class Family:
    """One FAISS structure of one family. Subclasses fill in the hooks; callers hold the index's lock."""

    name: ClassVar[FamilyName]
    retrains: ClassVar[bool] = False  # trained on a sample: retrain once the space outgrew it

    def __init__(self, dim: int, index: faiss.Index, params: dict | None = None) -> None:
        self.dim = dim
        self.index: Any = index  # a concrete FAISS index (the stubs know only faiss.Index)
        self.params: dict = params if params is not None else {}

    # -- size -----------------------------------------------------------------------------------
    @staticmethod
    def resident_bytes(n: int, dim: int, policy: IndexPolicy) -> int:
        """Resident memory of ``n`` vectors in this family (the size rule compares it with the budget)."""
        raise NotImplementedError

    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray, policy: IndexPolicy) -> Family:
        """A structure of ``vectors`` (float16 or float32 rows, any array-like) under ``ids``; not calibrated."""
        raise NotImplementedError

    @property
    def ntotal(self) -> int:
        """Live vectors."""
        raise NotImplementedError

    @property
    def rows(self) -> int:
        """Rows of the row map, removed ones included (0 for a family without one)."""
        return 0

    @property
    def dead(self) -> int:
        """Removed rows still in the structure."""
        return 0

    # -- contents -------------------------------------------------------------------------------
    def ids(self) -> np.ndarray:
        raise NotImplementedError

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        raise NotImplementedError

    def remove(self, ids: np.ndarray) -> int:
        raise NotImplementedError

    def reconstruct(self, id_: int) -> np.ndarray:
        """The stored float32 vector of catalog id ``id_`` (KeyError if absent)."""
        raise NotImplementedError

    def iter_live(self, size: int = BLOCK) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, float16 vectors) of every live vector, in blocks."""
        raise NotImplementedError

    def row_vectors(self, rows: np.ndarray) -> np.ndarray:
        """float32 vectors of rows (calibration picks stored vectors by row)."""
        raise NotImplementedError

    def changed(self) -> None:
        """Drop what was derived from the contents (called on every add and remove)."""

    # -- search ---------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids), ``1 <= k <= ntotal``."""
        raise NotImplementedError

    def exact_search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k (scores, ids) by brute force over the live vectors."""
        return exact_topk(self.iter_live(), queries, k)

    def calibrate(self, policy: IndexPolicy, calibration: np.ndarray | None = None) -> None:
        """Tune the search parameters to the recall target (calibration.py); exact search has none."""

    # -- GPU ------------------------------------------------------------------------------------
    def gpu_source(self) -> tuple[faiss.Index, np.ndarray | None] | None:
        """(CPU index FAISS copies to a GPU, ids of its positions or None for row labels); None when
        the family has no FAISS GPU version."""
        return None

    def gpu_search(self, gpu: Any, positions: np.ndarray | None, queries: np.ndarray,
                   k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) through ``gpu``, the GPU copy of :meth:`gpu_source`."""
        raise NotImplementedError

    # -- snapshots ------------------------------------------------------------------------------
    def sections(self) -> list[tuple[str, Section]]:
        """Snapshot sections after the serialized FAISS index, in file order."""
        return []

    def saved(self, path: Path, offsets: dict[str, int]) -> None:
        """The snapshot at ``path`` now holds the sections at these absolute offsets."""

    @classmethod
    def from_snapshot(cls, dim: int, index: faiss.Index, meta: dict, read: SectionReader,
                      mapped: SectionMapper) -> Family:
        """The structure of a snapshot (ValueError when its header does not match the index)."""
        raise NotImplementedError


class Ann(Family):
    """An approximate family: FAISS labels are row numbers, mapped to catalog ids; removed rows stay
    in the structure, marked dead, until a rebuild compacts them."""

    def __init__(self, dim: int, index: faiss.Index, params: dict | None = None, row_ids: np.ndarray | None = None,
                 alive: np.ndarray | None = None, rows: int = 0, dead: int = 0) -> None:
        super().__init__(dim, index, params)
        # ``row_ids``/``alive`` may have spare capacity past ``rows``
        self._row_ids = row_ids if row_ids is not None else np.zeros(0, np.int64)
        self._alive = alive if alive is not None else np.zeros(0, bool)
        self._rows = rows
        self._dead = dead
        self._selector: tuple | None = None

    @property
    def ntotal(self) -> int:
        return self._rows - self._dead

    @property
    def rows(self) -> int:
        return self._rows

    @property
    def dead(self) -> int:
        return self._dead

    # -- build ----------------------------------------------------------------------------------
    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray, policy: IndexPolicy) -> Ann:
        n = len(ids)
        family = cls._trained(dim, vectors, n, policy)
        for i in range(0, n, BLOCK):
            family._add_rows(np.asarray(vectors[i : i + BLOCK], np.float32), np.arange(i, min(i + BLOCK, n)))
        family._row_ids, family._alive, family._rows = ids.copy(), np.ones(n, bool), n
        return family

    @classmethod
    def _trained(cls, dim: int, vectors: np.ndarray, n: int, policy: IndexPolicy) -> Ann:
        """An empty structure trained for ``n`` of ``vectors``."""
        raise NotImplementedError

    def _add_rows(self, vectors: np.ndarray, rows: np.ndarray) -> None:
        """Add float32 ``vectors`` as ``rows`` (the next row numbers) to the FAISS structure."""
        raise NotImplementedError

    # -- contents -------------------------------------------------------------------------------
    def ids(self) -> np.ndarray:
        return self._row_ids[: self._rows][self._alive[: self._rows]].copy()

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        rows = np.arange(self._rows, self._rows + len(ids), dtype=np.int64)
        self._grow(self._rows + len(ids))
        self._row_ids[rows] = ids
        self._alive[rows] = True
        self._add_rows(vectors, rows)
        self._rows += len(ids)

    def _grow(self, need: int) -> None:
        if need <= len(self._row_ids):
            return
        cap = max(need, int(len(self._row_ids) * 1.5) + 1024)
        ids = np.zeros(cap, np.int64)
        ids[: self._rows] = self._row_ids[: self._rows]
        alive = np.zeros(cap, bool)
        alive[: self._rows] = self._alive[: self._rows]
        self._row_ids, self._alive = ids, alive

    def remove(self, ids: np.ndarray) -> int:
        hit = np.isin(self._row_ids[: self._rows], ids) & self._alive[: self._rows]
        n = int(hit.sum())
        self._alive[: self._rows][hit] = False
        self._dead += n
        return n

    def reconstruct(self, id_: int) -> np.ndarray:
        rows = np.nonzero((self._row_ids[: self._rows] == id_) & self._alive[: self._rows])[0]
        if len(rows) == 0:
            raise KeyError(id_)
        return self.row_vectors(rows[-1:])[0]

    def changed(self) -> None:
        self._selector = None

    def iter_live(self, size: int = BLOCK) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        alive = self._alive[: self._rows]
        for block, rows in self._blocks(size):
            keep = alive[rows]
            if keep.any():
                yield self._row_ids[rows[keep]], block[keep]

    def _blocks(self, size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(float16 vectors, their rows) of all rows, dead ones included."""
        raise NotImplementedError

    # -- search ---------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if k > ANN_MAX_K:  # a filtered query widening to most of the space: scan it all
            return self.exact_search(queries, k)
        scores, rows = self._search_rows(queries, k)
        return scores, self.to_ids(rows)

    def _search_rows(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, rows) at the calibrated effort."""
        return self.candidates(queries, k)

    def candidates(self, queries: np.ndarray, fetch: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of the ANN structure alone (no re-ranking), dead rows skipped."""
        params = self._search_parameters(fetch)
        sel = self._alive_selector()
        if sel is not None:
            params.sel = sel
        return self.index.search(queries, fetch, params=params)

    def _search_parameters(self, fetch: int) -> faiss.SearchParameters:
        raise NotImplementedError

    def calibrate(self, policy: IndexPolicy, calibration: np.ndarray | None = None) -> None:
        calibrate(self, policy, calibration)

    def tune(self, queries: np.ndarray, recall: Callable[[np.ndarray], float], goal: float) -> float:
        """Set the smallest search effort whose ``recall`` of found ids reaches ``goal``; return the
        recall reached."""
        raise NotImplementedError

    def _alive_selector(self):
        if self._dead == 0:
            return None
        if self._selector is None:
            bitmap = np.packbits(self._alive[: self._rows], bitorder="little")
            self._selector = (faiss.IDSelectorBitmap(self._rows, faiss.swig_ptr(bitmap)), bitmap)
        return self._selector[0]

    def to_ids(self, rows: np.ndarray) -> np.ndarray:
        """Catalog ids of rows (-1 stays -1)."""
        return np.where(rows >= 0, self._row_ids[np.clip(rows, 0, None)], -1).astype(np.int64)

    # -- snapshots ------------------------------------------------------------------------------
    def sections(self) -> list[tuple[str, Section]]:
        return [("ids", self._row_ids[: self._rows]), ("alive", self._alive[: self._rows])]

    @classmethod
    def from_snapshot(cls, dim: int, index: faiss.Index, meta: dict, read: SectionReader,
                      mapped: SectionMapper) -> Ann:
        rows = int(meta["rows"])
        ids = read("ids", np.int64).copy()
        alive = read("alive", np.bool_).copy()
        if index.ntotal != rows or len(ids) != rows or len(alive) != rows or int(alive.sum()) != meta["ntotal"]:
            raise ValueError("header does not match the index")
        family = cls(dim, index, dict(meta.get("params") or {}), ids, alive, rows, rows - int(alive.sum()))
        family._loaded(mapped)
        return family

    def _loaded(self, mapped: SectionMapper) -> None:
        """Take the sections of a snapshot beyond the row map."""
