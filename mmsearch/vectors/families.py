"""The index families, one class each, chosen by name from :data:`FAMILIES`.

Vectors are unit length, so inner product is cosine similarity. Ids are catalog segment ids.

A family object holds one FAISS structure and everything that differs between families: how it is
built and trained, how rows are added, removed and searched, how its vectors are read back, which
search parameter calibration tunes, which snapshot sections it needs and whether FAISS can copy it
to a GPU. The size rule that picks a family is in policy.py.

Re-ranking source. ``hnsw`` and ``ivf`` store each vector as float16 inside FAISS. The catalog keeps
vectors at float16 too, so those indexes hold the stored vectors exactly and the scores they return
*are* the exact scores (float32 arithmetic on the stored values): nothing to re-rank and no second
copy. ``ivfpq``'s scores come from compressed codes, so it keeps the float16 vectors itself (a
:class:`~mmsearch.vectors.rows.RowStore`): a query fetches ``rerank * k`` candidates and re-scores
them exactly against those vectors. Every family can give back all its vectors, so a rebuild
(family change, retraining, compaction) never needs the catalog.

Removal. ANN families mark removed rows dead (a FAISS ``IDSelectorBitmap`` skips them during
search); a rebuild compacts once a fifth of the rows are dead (rebuild.py). Rows (FAISS labels) map
to catalog ids through an int64 array, so a re-used catalog id is harmless.
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import faiss
import numpy as np

from mmsearch.vectors.calibration import K, calibrate, tune_ef_search, tune_nprobe
from mmsearch.vectors.policy import FamilyName, IndexPolicy, nlist_for, pq_m_for
from mmsearch.vectors.rows import RowStore, map_rows

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


class Flat(Family):
    """Exact search: ``IndexIDMap2(IndexFlatIP)`` over float32 vectors, labelled by catalog id."""

    name = FamilyName.FLAT

    @staticmethod
    def resident_bytes(n: int, dim: int, policy: IndexPolicy) -> int:
        return n * (4 * dim + 8 + 48)  # floats, id map, IDMap2's reverse hash map

    @classmethod
    def empty(cls, dim: int) -> Flat:
        return cls(dim, faiss.IndexIDMap2(faiss.IndexFlatIP(dim)))

    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray, policy: IndexPolicy) -> Flat:
        flat = cls.empty(dim)
        for i in range(0, len(ids), BLOCK):
            flat.index.add_with_ids(np.asarray(vectors[i : i + BLOCK], np.float32), ids[i : i + BLOCK])
        return flat

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def ids(self) -> np.ndarray:
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.index.add_with_ids(vectors, ids)

    def remove(self, ids: np.ndarray) -> int:
        return int(self.index.remove_ids(faiss.IDSelectorBatch(ids)))

    def reconstruct(self, id_: int) -> np.ndarray:
        try:
            return self.index.reconstruct(int(id_))
        except RuntimeError:
            raise KeyError(id_) from None

    def _matrix(self) -> np.ndarray | None:
        n = self.index.ntotal
        flat: Any = faiss.downcast_index(self.index.index)
        return faiss.rev_swig_ptr(flat.get_xb(), n * self.dim).reshape(n, self.dim) if n else None

    def iter_live(self, size: int = BLOCK) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        xb, ids = self._matrix(), self.ids()
        for i in range(0, len(ids), size):
            yield ids[i : i + size], xb[i : i + size].astype(np.float16)  # type: ignore[index]

    def row_vectors(self, rows: np.ndarray) -> np.ndarray:
        xb = self._matrix()
        return np.zeros((0, self.dim), np.float32) if xb is None else xb[np.asarray(rows, np.int64)].copy()

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.index.search(queries, k)

    def gpu_source(self) -> tuple[faiss.Index, np.ndarray | None] | None:
        return faiss.downcast_index(self.index.index), self.ids()

    def gpu_search(self, gpu: Any, positions: np.ndarray | None, queries: np.ndarray,
                   k: int) -> tuple[np.ndarray, np.ndarray]:
        assert positions is not None
        scores, pos = gpu.search(queries, k)
        return scores, np.where(pos >= 0, positions[np.clip(pos, 0, None)], -1)

    @classmethod
    def from_snapshot(cls, dim: int, index: faiss.Index, meta: dict, read: SectionReader,
                      mapped: SectionMapper) -> Flat:
        if index.ntotal != meta["ntotal"]:
            raise ValueError("header does not match the index")
        return cls(dim, index)


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


class Hnsw(Ann):
    """HNSW (M = ``hnsw_m``) over float16 vectors; no training, incremental inserts. Tuned: efSearch."""

    name = FamilyName.HNSW

    @staticmethod
    def resident_bytes(n: int, dim: int, policy: IndexPolicy) -> int:
        return n * (2 * dim + int(policy.hnsw_m * 2 * 4 * 1.1) + 8 + 8 + 1)  # fp16, links, levels, row map

    @classmethod
    def _trained(cls, dim: int, vectors: np.ndarray, n: int, policy: IndexPolicy) -> Hnsw:
        index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_fp16, policy.hnsw_m,  # type: ignore[arg-type]
                                  faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = policy.ef_construction
        index.train(np.asarray(vectors[: min(n, 1000)], np.float32))
        return cls(dim, index, {"trained_n": n, "m": policy.hnsw_m})

    def _add_rows(self, vectors: np.ndarray, rows: np.ndarray) -> None:
        assert self.index.ntotal == rows[0]  # HNSW labels are insertion order
        self.index.add(vectors)

    def _blocks(self, size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        sq: Any = faiss.downcast_index(self.index.storage)
        vecs = faiss.vector_to_array(sq.codes).view(np.float16).reshape(self._rows, self.dim)
        for i in range(0, self._rows, size):
            yield vecs[i : i + size], np.arange(i, min(i + size, self._rows))

    def row_vectors(self, rows: np.ndarray) -> np.ndarray:
        return np.stack([self.index.reconstruct(int(r)) for r in rows]).astype(np.float32)

    def _search_parameters(self, fetch: int) -> faiss.SearchParameters:
        params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
        params.efSearch = max(int(self.params.get("ef_search", 64)), fetch)
        return params

    def tune(self, queries: np.ndarray, recall: Callable[[np.ndarray], float], goal: float) -> float:
        def found(ef: int) -> np.ndarray:
            self.params["ef_search"] = ef
            return self.to_ids(self._search_rows(queries, K)[1])

        self.params["ef_search"], reached = tune_ef_search(found, recall, goal)
        return reached


class Ivf(Ann):
    """IVF-Flat over float16 vectors, ``nlist_for(n)`` lists trained on a sample. Tuned: nprobe."""

    name = FamilyName.IVF
    retrains = True
    rerank_factors: ClassVar[tuple[int, ...]] = (1,)  # candidates fetched per result, tried in order

    @staticmethod
    def resident_bytes(n: int, dim: int, policy: IndexPolicy) -> int:
        return n * (2 * dim + 8 + 8 + 1) + nlist_for(n, policy) * dim * 4  # fp16, list ids, row map, centroids

    @classmethod
    def _trained(cls, dim: int, vectors: np.ndarray, n: int, policy: IndexPolicy) -> Ivf:
        nlist = nlist_for(n, policy)
        quantizer = faiss.IndexFlatIP(dim) if nlist < 4096 else faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        family = cls._untrained(dim, quantizer, nlist, vectors, n, policy)
        index: Any = family.index
        rng = np.random.default_rng(policy.seed)
        sample_n = min(n, family._training_size(nlist, policy))
        sample = np.asarray(vectors[np.sort(rng.choice(n, sample_n, replace=False))], np.float32)
        index.cp.seed = policy.seed
        index.cp.niter = policy.kmeans_iterations
        index.train(sample)
        family.params["nlist"] = nlist
        return family

    @classmethod
    def _untrained(cls, dim: int, quantizer: faiss.Index, nlist: int, vectors: np.ndarray, n: int,
                   policy: IndexPolicy) -> Ivf:
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dim, nlist, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT, False
        )
        return cls(dim, index, {"trained_n": n})

    @staticmethod
    def _training_size(nlist: int, policy: IndexPolicy) -> int:
        return policy.train_per_list * nlist

    def _add_rows(self, vectors: np.ndarray, rows: np.ndarray) -> None:
        self.index.add_with_ids(vectors, rows.astype(np.int64))

    def _blocks(self, size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        ivf = faiss.extract_index_ivf(self.index)
        invlists: Any = ivf.invlists
        for lst in range(ivf.nlist):
            sz = invlists.list_size(lst)
            if sz == 0:
                continue
            rows = faiss.rev_swig_ptr(invlists.get_ids(lst), sz).copy()
            codes = faiss.rev_swig_ptr(invlists.get_codes(lst), sz * ivf.code_size).copy()
            yield codes.view(np.float16).reshape(sz, self.dim), rows

    def row_vectors(self, rows: np.ndarray) -> np.ndarray:
        # no row -> list map: one pass over the lists
        rows = np.asarray(rows, np.int64)
        order = np.argsort(rows)
        srt = rows[order]
        out = np.zeros((len(rows), self.dim), np.float32)
        for block, brow in self._blocks(BLOCK):
            pos = np.clip(np.searchsorted(srt, brow), 0, len(srt) - 1)
            hit = srt[pos] == brow
            out[order[pos[hit]]] = block[hit]
        return out

    def _search_parameters(self, fetch: int) -> faiss.SearchParameters:
        params = faiss.SearchParametersIVF()
        params.nprobe = int(self.params.get("nprobe", 1))
        return params

    def _best(self, queries: np.ndarray, scores: np.ndarray, rows: np.ndarray, k: int) -> tuple[
            np.ndarray, np.ndarray]:
        """The best ``k`` (scores, rows) of candidates (best first)."""
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(scores, order, 1), np.take_along_axis(rows, order, 1)

    def _fetch(self, k: int) -> int:
        """Candidates a top-k search fetches."""
        return k

    def tune(self, queries: np.ndarray, recall: Callable[[np.ndarray], float], goal: float) -> float:
        def candidates(nprobe: int, fetch: int) -> np.ndarray:
            self.params["nprobe"] = nprobe
            return self.candidates(queries, min(self._rows, fetch))[1]

        def top(rows: np.ndarray) -> np.ndarray:
            return self.to_ids(self._top_rows(queries, rows))

        nprobe, factor, reached = tune_nprobe(int(self.params["nlist"]), self.rerank_factors, candidates, top,
                                              recall, goal)
        self.params["nprobe"] = nprobe
        self._keep_depth(factor)
        return reached

    def _top_rows(self, queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The found rows of candidate rows during calibration (already best first)."""
        return rows[:, :K]

    def _keep_depth(self, factor: int) -> None:
        """Keep the calibrated re-rank factor (only a re-ranking family has one)."""

    def gpu_source(self) -> tuple[faiss.Index, np.ndarray | None] | None:
        return self.index, None

    def gpu_search(self, gpu: Any, positions: np.ndarray | None, queries: np.ndarray,
                   k: int) -> tuple[np.ndarray, np.ndarray]:
        gpu.nprobe = int(self.params["nprobe"])
        fetch = self._fetch(k)
        if self._dead:  # GPU indexes take no selector: fetch more and drop dead rows
            fetch = int(fetch * self._rows / max(1, self.ntotal)) + 8
        fetch = min(fetch, ANN_MAX_K, self._rows)  # FAISS GPU's largest k
        scores, rows = gpu.search(queries, fetch)
        if self._dead:
            dead = (rows >= 0) & ~self._alive[np.clip(rows, 0, None)]
            rows = np.where(dead, -1, rows)
            scores = np.where(dead, -np.inf, scores).astype(np.float32)
        scores, rows = self._best(queries, scores, rows, k)
        return scores, self.to_ids(rows)


class IvfPq(Ivf):
    """IVF-PQ (``d/8`` bytes a vector) whose candidates are re-ranked exactly against float16 rows
    kept beside it. Tuned: nprobe and the re-rank depth."""

    name = FamilyName.IVFPQ
    rerank_factors = (4, 8, 16, 32, 64)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.store = RowStore(self.dim)  # the re-ranking vectors, aligned with the rows

    @staticmethod
    def resident_bytes(n: int, dim: int, policy: IndexPolicy) -> int:
        # codes and list ids resident; the float16 re-ranking vectors are memory-mapped
        return n * (pq_m_for(dim, policy) + 8 + 8 + 1) + nlist_for(n, policy) * dim * 4

    @classmethod
    def _untrained(cls, dim: int, quantizer: faiss.Index, nlist: int, vectors: np.ndarray, n: int,
                   policy: IndexPolicy) -> IvfPq:
        m = pq_m_for(dim, policy)
        nbits = 8 if n >= 256 * 39 else max(4, int(math.log2(n / 39)))  # tiny spaces (tests)
        family = cls(dim, faiss.IndexIVFPQ(quantizer, dim, nlist, m, nbits, faiss.METRIC_INNER_PRODUCT),
                     {"trained_n": n, "m": m, "nbits": nbits})
        # vectors already in a float16 file (a spilled rebuild, a benchmark) stay there
        if isinstance(vectors, np.memmap) and vectors.dtype == np.float16:
            family.store = RowStore(dim, vectors)
        return family

    @staticmethod
    def _training_size(nlist: int, policy: IndexPolicy) -> int:
        return max(policy.train_per_list * nlist, 256 * 64)

    def _add_rows(self, vectors: np.ndarray, rows: np.ndarray) -> None:
        super()._add_rows(vectors, rows)
        if rows[-1] >= len(self.store):  # (not when the store's base already holds them)
            self.store.append(vectors)

    def _blocks(self, size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for first, block in self.store.chunks(size):
            yield block, np.arange(first, first + len(block))

    def row_vectors(self, rows: np.ndarray) -> np.ndarray:
        return self.store.take(rows)

    def _fetch(self, k: int) -> int:
        return k * int(self.params.get("rerank", 4))

    def _search_rows(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        fetch = min(self._rows, ANN_MAX_K * 2, self._fetch(k))
        return self.rerank(queries, self.candidates(queries, fetch)[1], k)

    def _best(self, queries: np.ndarray, scores: np.ndarray, rows: np.ndarray, k: int) -> tuple[
            np.ndarray, np.ndarray]:
        return self.rerank(queries, rows, k)

    def _top_rows(self, queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return self.rerank(queries, rows, K)[1]

    def _keep_depth(self, factor: int) -> None:
        self.params["rerank"] = factor

    def rerank(self, queries: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact (scores, rows) of candidate rows from the float16 vectors; best ``k`` per query."""
        out_s = np.full((len(queries), k), -np.inf, np.float32)
        out_r = np.full((len(queries), k), -1, np.int64)
        valid = rows >= 0
        flat_rows = np.unique(rows[valid])
        if len(flat_rows) == 0:
            return out_s, out_r
        vecs = self.store.take(flat_rows)
        where = np.searchsorted(flat_rows, np.clip(rows, 0, None))
        for qi in range(len(queries)):
            cand = np.nonzero(valid[qi])[0]
            s = vecs[where[qi, cand]] @ queries[qi]
            best = np.argsort(-s, kind="stable")[:k]
            out_s[qi, : len(best)] = s[best]
            out_r[qi, : len(best)] = rows[qi, cand[best]]
        return out_s, out_r

    def sections(self) -> list[tuple[str, Section]]:
        return super().sections() + [("store", self.store)]

    def saved(self, path: Path, offsets: dict[str, int]) -> None:
        # from now on the vectors live in the page cache, not the heap
        self.store = RowStore(self.dim, map_rows(path, offsets["store"], len(self.store), self.dim))

    def _loaded(self, mapped: SectionMapper) -> None:
        self.store = RowStore(self.dim, mapped("store", self._rows))


FAMILIES: dict[str, type[Family]] = {kind.name: kind for kind in (Flat, Hnsw, Ivf, IvfPq)}
