"""One FAISS index per embedding space: add, remove, search, atomic snapshots, rebuilds by size.

Vectors are unit length, so inner product is cosine similarity. Ids are catalog segment ids.

Index family by size (:func:`choose_family`, parameters in :class:`IndexPolicy`)
--------------------------------------------------------------------------------
With ``n`` live vectors of dimension ``d`` and a memory budget ``B`` (default: a quarter of the
machine's RAM; the ``index_memory_mb`` setting overrides it):

1. ``flat``  while ``n < exact_max`` (50,000): exact search, ``IndexIDMap2(IndexFlatIP)``, float32.
   Nothing to train, recall 1.0, and a query scans 50k x 512 floats in ~10-30 ms on one core.
2. ``hnsw``  while ``n < hnsw_max`` (250,000) and the graph fits ``B``: HNSW (M=32) over float16
   vectors. No training, so a growing library pays one build when it crosses ``exact_max`` and then
   inserts incrementally; the best latency at high recall. Capped because a (re)build costs
   ~1.5 ms per vector on a 2-core machine.
3. ``ivf``   while the float16 vectors fit ``B``: IVF-Flat (vectors kept at float16, the catalog's
   precision, so scores are exact), ``nlist`` = the power of two nearest ``4*sqrt(n)``, trained
   on a sample of the stored vectors and retrained when the space has grown ``ivf_regrow`` (4x)
   since training.
4. ``ivfpq`` beyond: IVF-PQ (``d/8`` bytes per vector) whose candidates are re-ranked exactly.

Moving back down (a space that shrank) waits until the smaller family is right for 4/3 of the
current size too, so a space hovering at a threshold is not rebuilt back and forth.

Re-ranking source. ``hnsw`` and ``ivf`` store each vector as float16 inside FAISS. The catalog keeps
vectors at float16 too, so those indexes hold the stored vectors exactly and the scores they return
*are* the exact scores (float32 arithmetic on the stored values): nothing to re-rank and no second
copy. ``ivfpq``'s scores come from compressed codes, so the index keeps the float16 vectors itself
(a numpy array aligned with its rows, memory-mapped from the snapshot file once saved, so they cost
disk and page cache rather than resident memory): a query fetches ``rerank * k`` candidates and
re-scores them exactly against those vectors. Every family can give back all its vectors, so a
rebuild (family change, retraining, compaction) never needs the catalog.

Recall. After a build, ``efSearch`` (hnsw), ``nprobe`` (ivf, ivfpq) and the re-rank depth (ivfpq,
``rerank`` x k candidates, 4 to 64) are the smallest values whose recall@10 against exact search is at
least ``target_recall + margin`` (0.95 + 0.02) in *each* of three groups of calibration queries:
stored vectors moved away by noise to cosine ~0.9, ~0.7 and ~0.45 of their origin (near-duplicate,
same-topic and cross-modal queries, the last being what a text query is to images), with the exact
top-10 computed by brute force over the float16 vectors. The worst group's recall is kept in the
snapshot header (``info()["recall"]``). (A first version averaged the groups: at 10M vectors that
chose nprobe 4 / rerank 32 and measured 0.93 on text-like queries; see docs/benchmarks.md.)

Removal. ANN families mark removed rows dead (a FAISS ``IDSelectorBitmap`` skips them during
search); ``maybe_rebuild`` compacts once a fifth of the rows are dead. Rows (FAISS labels) map to
catalog ids through an int64 array, so a re-used catalog id is harmless.

Search runs on the GPU when ``faiss.get_num_gpus() > 0`` (flat, ivf and ivfpq are copied to it; the
graph of hnsw has no FAISS GPU version and stays on the CPU). With CUDA through torch but a
CPU-only FAISS build, :meth:`VectorIndex.torch_search` searches every family exactly by a float16
matrix product on the GPU.

Snapshots hold a JSON header (format, space, model, dim, family and parameters, the catalog epoch
they reflect) and sections (the serialized FAISS index, row ids, live rows, ivfpq's float16
vectors), written to a temporary file, fsynced and renamed over the old one, so a crash leaves either
the old or the new snapshot, never a torn one.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import struct
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Iterator

import faiss
import numpy as np

from .errors import LibraryError

log = logging.getLogger(__name__)

MAGIC = b"MMSIDX01"  # version 1: header + serialized IndexIDMap2(IndexFlatIP); still read
MAGIC2 = b"MMSIDX02"  # version 2: header + aligned sections (any family)
FAMILIES = ("flat", "hnsw", "ivf", "ivfpq")
CATCH_UP_ROWS = 500  # a background rebuild leaves at most about this many journaled rows to the swap
_ALIGN = 64
_GPU_MIN = 20_000  # below this, copying to a GPU costs more than searching on the CPU
_ANN_MAX_K = 2048  # past this many results an ANN search is slower than a scan (and may miss some)
_SMALL_WORK = 4_000_000  # queries x vectors below which one CPU thread is faster (no OpenMP wake-up)


def gpu_count() -> int:
    """GPUs FAISS can use (0 with faiss-cpu, or faiss-gpu on a machine without one)."""
    try:
        return int(faiss.get_num_gpus())
    except AttributeError:
        return 0


def _physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 << 30


@dataclass(frozen=True)
class IndexPolicy:
    """The size rule's parameters (see the module docstring). Tests lower the thresholds."""

    exact_max: int = 50_000
    hnsw_max: int = 250_000
    memory_budget: int | None = None  # bytes; None: RAM / 4
    hnsw_m: int = 32
    ef_construction: int = 64
    target_recall: float = 0.95
    margin: float = 0.02
    calibration_queries: int = 200
    dead_fraction: float = 0.2  # compact an ANN index past this fraction of removed rows
    ivf_regrow: float = 4.0  # retrain IVF once the space is this many times its trained size
    hysteresis: float = 4 / 3
    pq_dims_per_byte: int = 8
    max_nlist: int = 65_536  # IVF lists; k-means costs n_train x nlist x d: lower it on a small CPU
    kmeans_iterations: int = 10
    train_per_list: int = 32  # training vectors per IVF list (FAISS warns below 39, works from ~30)
    seed: int = 1234

    def budget(self) -> int:
        if self.memory_budget is not None:
            return int(self.memory_budget)
        return _physical_memory() // 4


def default_policy() -> IndexPolicy:
    """The policy of indexes built without one."""
    return DEFAULT_POLICY


def policy_for(settings: Any) -> IndexPolicy:
    """The size rule with a library's settings: ``index_exact_max`` and ``index_memory_mb`` (0 = RAM / 4)."""
    budget = int(settings.index_memory_mb) << 20 if settings.index_memory_mb > 0 else None
    return replace(DEFAULT_POLICY, exact_max=int(settings.index_exact_max), memory_budget=budget)


DEFAULT_POLICY = IndexPolicy()


def nlist_for(n: int, policy: IndexPolicy | None = None) -> int:
    """IVF lists: the power of two nearest 4*sqrt(n), at least 16, at most ``max_nlist`` and n/39
    (FAISS wants ~39 training points per centroid)."""
    cap = (policy or DEFAULT_POLICY).max_nlist
    target = 4 * math.sqrt(max(n, 1))
    nlist = 1 << max(0, round(math.log2(target)))
    return int(max(1, min(max(16, nlist), cap, max(1, n // 39))))


def pq_m_for(dim: int, policy: IndexPolicy) -> int:
    """PQ sub-quantizers: the largest divisor of ``dim`` not above ``dim / pq_dims_per_byte``."""
    m = max(1, dim // policy.pq_dims_per_byte)
    while dim % m:
        m -= 1
    return m


def estimate_bytes(family: str, n: int, dim: int, policy: IndexPolicy | None = None) -> int:
    """Resident memory of ``n`` vectors in a family (what the budget is compared with)."""
    policy = policy or default_policy()
    row = 8 + 1  # our row -> id array and live mask
    if family == "flat":
        return n * (4 * dim + 8 + 48)  # floats, id map, IDMap2's reverse hash map
    if family == "hnsw":
        return n * (2 * dim + int(policy.hnsw_m * 2 * 4 * 1.1) + 8 + row)  # fp16, links, levels
    if family == "ivf":
        return n * (2 * dim + 8 + row) + nlist_for(n, policy) * dim * 4
    if family == "ivfpq":
        # codes and list ids resident; the float16 re-ranking vectors are memory-mapped
        return n * (pq_m_for(dim, policy) + 8 + row) + nlist_for(n, policy) * dim * 4
    raise ValueError(f"unknown index family {family!r}")


def choose_family(n: int, dim: int, policy: IndexPolicy | None = None) -> str:
    """The family a space of ``n`` vectors gets (the rule of the module docstring)."""
    policy = policy or default_policy()
    if n < policy.exact_max:
        return "flat"
    budget = policy.budget()
    if n < policy.hnsw_max and estimate_bytes("hnsw", n, dim, policy) <= budget:
        return "hnsw"
    if estimate_bytes("ivf", n, dim, policy) <= budget:
        return "ivf"
    return "ivfpq"


@contextlib.contextmanager
def _threads(work: int) -> Iterator[None]:
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


class _Store:
    """ivfpq's float16 vectors by row: a read-only base (memory-mapped snapshot) plus appended rows."""

    def __init__(self, dim: int, base: np.ndarray | None = None) -> None:
        self.dim = dim
        self.base = base if base is not None else np.zeros((0, dim), np.float16)
        self.tail: list[np.ndarray] = []
        self._tail_n = 0
        self._fd: int | None = None  # the base's file, for pread (see _read_base)
        self._fd_name: str | None = None

    def __len__(self) -> int:
        return len(self.base) + self._tail_n

    def append(self, vectors: np.ndarray) -> None:
        self.tail.append(np.asarray(vectors, dtype=np.float16).reshape(-1, self.dim))
        self._tail_n += len(self.tail[-1])

    def _compact_tail(self) -> np.ndarray:
        if len(self.tail) > 1:
            self.tail = [np.concatenate(self.tail)]
        return self.tail[0] if self.tail else np.zeros((0, self.dim), np.float16)

    def take(self, rows: np.ndarray) -> np.ndarray:
        """float32 vectors of ``rows`` (sorted reads from the memory map)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self.dim), np.float32)
        nb = len(self.base)
        in_base = rows < nb
        if in_base.any():
            r = rows[in_base]
            order = np.argsort(r, kind="stable")
            got = self._read_base(r[order])
            tmp = np.empty_like(got)
            tmp[order] = got
            out[in_base] = tmp
        if (~in_base).any():
            out[~in_base] = self._compact_tail()[rows[~in_base] - nb].astype(np.float32)
        return out

    def _read_base(self, rows: np.ndarray) -> np.ndarray:
        """float32 rows of the base. A memory-mapped base is read with pread: touching the map row
        by row would map each row's neighbourhood too (the kernel's fault-around), inflating the
        process's resident memory by ~64 KiB per row re-ranked."""
        source = getattr(self.base, "filename", None) if isinstance(self.base, np.memmap) else None
        if source is not None and self._fd_name != source:
            self._close()
            try:
                self._fd = os.open(source, os.O_RDONLY)
                self._fd_name = source
            except OSError:  # an unlinked spill file: only the map reaches it
                source = None
        if source is None:
            return np.asarray(self.base[rows], dtype=np.float32)
        row_bytes = self.dim * 2
        start = int(self.base.offset)
        buf = bytearray(len(rows) * row_bytes)
        view = memoryview(buf)
        for i, r in enumerate(rows.tolist()):
            view[i * row_bytes : (i + 1) * row_bytes] = os.pread(self._fd, row_bytes, start + r * row_bytes)
        return np.frombuffer(buf, dtype=np.float16).reshape(len(rows), self.dim).astype(np.float32)

    def _close(self) -> None:
        fd, self._fd, self._fd_name = getattr(self, "_fd", None), None, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def __del__(self) -> None:
        self._close()

    def chunks(self, size: int = 65_536) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, float16 block) over all rows."""
        nb = len(self.base)
        for i in range(0, nb, size):
            yield i, np.asarray(self.base[i : i + size])
        tail = self._compact_tail()
        for i in range(0, len(tail), size):
            yield nb + i, tail[i : i + size]


class VectorIndex:
    """The vector index of one space; its FAISS family follows its size (see the module docstring).

    ``index`` (optional) is an exact ``IndexIDMap2`` to wrap; ``policy`` defaults to :func:`default_policy`.
    """

    def __init__(
        self, dim: int, index: faiss.Index | None = None, epoch: int = 0, *, policy: IndexPolicy | None = None
    ) -> None:
        self.dim = dim
        self.epoch = epoch
        self._policy = policy
        self._lock = threading.RLock()
        self.family = "flat"
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.params: dict = {}
        # ANN families only: FAISS labels are row numbers; rows map to catalog ids.
        self._row_ids = np.zeros(0, np.int64)
        self._alive = np.zeros(0, bool)
        self._rows = 0
        self._dead = 0
        self._store: _Store | None = None  # ivfpq's re-ranking vectors
        self._selector: tuple | None = None
        self._gpu: tuple | None = None
        self._torch: tuple | None = None
        # Background rebuild (start_rebuild): the builder thread, its result, and the adds/removes
        # made meanwhile, replayed onto the new index before it takes over.
        self._builder: threading.Thread | None = None
        self._built: "VectorIndex | BaseException | None" = None
        self._journal: list[tuple[str, np.ndarray, np.ndarray | None]] | None = None
        self._replayed = 0  # journal entries the builder thread has already applied

    @property
    def policy(self) -> IndexPolicy:
        return self._policy or default_policy()

    @policy.setter
    def policy(self, value: IndexPolicy | None) -> None:
        self._policy = value

    # -- contents -------------------------------------------------------------------------------
    @property
    def ntotal(self) -> int:
        if self.family == "flat":
            return int(self.index.ntotal)
        return self._rows - self._dead

    def ids(self) -> np.ndarray:
        with self._lock:
            if self.family == "flat":
                return faiss.vector_to_array(self.index.id_map).astype(np.int64)
            return self._row_ids[: self._rows][self._alive[: self._rows]].copy()

    def add(self, ids: Iterable[int], vectors: np.ndarray) -> None:
        ids = np.asarray(list(ids), dtype=np.int64)
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        with self._lock:
            self._changed()
            if self._journal is not None:  # a background rebuild replays this onto its new index
                self._journal.append(("add", ids.copy(), vectors.copy()))
            if self.family == "flat":
                self.index.add_with_ids(vectors, ids)
                return
            rows = np.arange(self._rows, self._rows + len(ids), dtype=np.int64)
            self._grow(self._rows + len(ids))
            self._row_ids[rows] = ids
            self._alive[rows] = True
            if self.family == "hnsw":
                assert self.index.ntotal == self._rows
                self.index.add(vectors)
            else:
                self.index.add_with_ids(vectors, rows)
                if self._store is not None:
                    self._store.append(vectors)
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

    def remove(self, ids: Iterable[int]) -> int:
        ids = np.asarray(list(ids), dtype=np.int64)
        if len(ids) == 0:
            return 0
        with self._lock:
            self._changed()
            if self._journal is not None:
                self._journal.append(("remove", ids.copy(), None))
            if self.family == "flat":
                return int(self.index.remove_ids(faiss.IDSelectorBatch(ids)))
            hit = np.isin(self._row_ids[: self._rows], ids) & self._alive[: self._rows]
            n = int(hit.sum())
            self._alive[: self._rows][hit] = False
            self._dead += n
            return n

    def reset(self) -> None:
        with self._lock:
            self._changed()
            self._set_flat(faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim)))

    def reconstruct(self, id_: int) -> np.ndarray:
        """The stored float32 vector of catalog id ``id_`` (KeyError if absent)."""
        with self._lock:
            if self.family == "flat":
                try:
                    return self.index.reconstruct(int(id_))
                except RuntimeError:
                    raise KeyError(id_) from None
            rows = np.nonzero((self._row_ids[: self._rows] == id_) & self._alive[: self._rows])[0]
            if len(rows) == 0:
                raise KeyError(id_)
            return self._row_vectors_any(rows[-1:])[0]

    def _changed(self) -> None:
        self._selector = None
        self._gpu = None
        self._torch = None

    def info(self) -> dict:
        """Family, parameters, live and dead rows, and estimated resident bytes."""
        with self._lock:
            return dict(self.params, family=self.family, ntotal=self.ntotal, dead=self._dead,
                        bytes=estimate_bytes(self.family, max(self._rows, self.ntotal), self.dim, self.policy))

    # -- search ---------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query row, best first; missing results have id -1."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        with self._lock:
            total = self.ntotal
            if total == 0:
                return (np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64))
            k = max(1, min(int(k), total))
            if gpu_count() > 0 and total >= _GPU_MIN and k <= _ANN_MAX_K:  # FAISS GPU's largest k is 2048
                found = self._search_gpu(queries, k)
                if found is not None:
                    return found
            elif total >= _GPU_MIN and _torch_cuda():
                found = self._search_torch_gpu(queries, k)
                if found is not None:
                    return found
            with _threads(len(queries) * total):
                if self.family == "flat":
                    return self.index.search(queries, k)
                if k > _ANN_MAX_K:  # a filtered query widening to most of the space: scan it all
                    return self.exact_search(queries, k)
                return self._search_ann(queries, k)

    def _search_ann(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self.family == "ivfpq":
            fetch = min(self._rows, _ANN_MAX_K * 2, k * int(self.params.get("rerank", 4)))
            scores, rows = self._rerank(queries, self._ann_rows(queries, fetch)[1], k)
        else:
            scores, rows = self._ann_rows(queries, k)
        return scores, self._to_ids(rows)

    def _ann_rows(self, queries: np.ndarray, fetch: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of the ANN structure alone, dead rows skipped."""
        if self.family == "hnsw":
            params = faiss.SearchParametersHNSW()
            params.efSearch = max(int(self.params.get("ef_search", 64)), fetch)
        else:
            params = faiss.SearchParametersIVF()
            params.nprobe = int(self.params.get("nprobe", 1))
        sel = self._alive_selector()
        if sel is not None:
            params.sel = sel
        return self.index.search(queries, fetch, params=params)

    def _alive_selector(self):
        if self._dead == 0:
            return None
        if self._selector is None:
            bitmap = np.packbits(self._alive[: self._rows], bitorder="little")
            self._selector = (faiss.IDSelectorBitmap(self._rows, faiss.swig_ptr(bitmap)), bitmap)
        return self._selector[0]

    def _to_ids(self, rows: np.ndarray) -> np.ndarray:
        return np.where(rows >= 0, self._row_ids[np.clip(rows, 0, None)], -1).astype(np.int64)

    def _rerank(self, queries: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact scores of candidate rows from the float16 vectors; best ``k`` per query."""
        out_s = np.full((len(queries), k), -np.inf, np.float32)
        out_r = np.full((len(queries), k), -1, np.int64)
        valid = rows >= 0
        flat_rows = np.unique(rows[valid])
        if len(flat_rows) == 0:
            return out_s, out_r
        vecs = self._store.take(flat_rows)
        where = np.searchsorted(flat_rows, np.clip(rows, 0, None))
        for qi in range(len(queries)):
            cand = np.nonzero(valid[qi])[0]
            s = vecs[where[qi, cand]] @ queries[qi]
            best = np.argsort(-s, kind="stable")[:k]
            out_s[qi, : len(best)] = s[best]
            out_r[qi, : len(best)] = rows[qi, cand[best]]
        return out_s, out_r

    def _row_vectors(self, rows: np.ndarray) -> np.ndarray:
        """float32 vectors of ANN rows."""
        if self._store is not None:
            return self._store.take(rows)
        return np.stack([self.index.reconstruct(int(r)) for r in rows]).astype(np.float32)

    # -- all vectors (rebuilds, torch search, calibration) --------------------------------------
    def iter_live(self, size: int = 65_536) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, float16 vectors) of every live vector, in blocks."""
        if self.family == "flat":
            n = self.index.ntotal
            ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
            flat = faiss.downcast_index(self.index.index)
            xb = faiss.rev_swig_ptr(flat.get_xb(), n * self.dim).reshape(n, self.dim) if n else None
            for i in range(0, n, size):
                yield ids[i : i + size], xb[i : i + size].astype(np.float16)
            return
        alive = self._alive[: self._rows]
        for first, block, rows in self._ann_blocks(size):
            keep = alive[rows]
            if keep.any():
                yield self._row_ids[rows[keep]], block[keep]

    def _ann_blocks(self, size: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(first, float16 vectors, rows) of all rows, dead ones included."""
        if self.family == "hnsw":
            sq = faiss.downcast_index(self.index.storage)
            vecs = faiss.vector_to_array(sq.codes).view(np.float16).reshape(self._rows, self.dim)
            for i in range(0, self._rows, size):
                yield i, vecs[i : i + size], np.arange(i, min(i + size, self._rows))
        elif self.family == "ivf":
            ivf = faiss.extract_index_ivf(self.index)
            invlists = ivf.invlists
            for lst in range(ivf.nlist):
                sz = invlists.list_size(lst)
                if sz == 0:
                    continue
                rows = faiss.rev_swig_ptr(invlists.get_ids(lst), sz).copy()
                codes = faiss.rev_swig_ptr(invlists.get_codes(lst), sz * ivf.code_size).copy()
                yield 0, codes.view(np.float16).reshape(sz, self.dim), rows
        else:
            for first, block in self._store.chunks(size):
                yield first, block, np.arange(first, first + len(block))

    def live_vectors(self, spill_bytes: int = 1 << 30) -> tuple[np.ndarray, np.ndarray]:
        """All live (ids, float16 vectors) in one array each. Past ``spill_bytes`` the vectors go to
        an unlinked temporary file, memory-mapped, so a rebuild of a large space does not hold them
        twice in memory."""
        if self.ntotal * self.dim * 2 <= spill_bytes:
            parts = list(self.iter_live())
            if not parts:
                return np.zeros(0, np.int64), np.zeros((0, self.dim), np.float16)
            return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        import tempfile

        fd, name = tempfile.mkstemp(prefix="mmsearch-rebuild-", suffix=".f16")
        try:
            os.ftruncate(fd, self.ntotal * self.dim * 2)
            out = np.memmap(name, dtype=np.float16, mode="r+", shape=(self.ntotal, self.dim))
        finally:
            os.close(fd)
            os.unlink(name)  # the mapping keeps the data until it is dropped
        ids, at = np.zeros(self.ntotal, np.int64), 0
        for block_ids, block in self.iter_live():
            out[at : at + len(block)] = block
            ids[at : at + len(block)] = block_ids
            at += len(block)
        return ids, out

    # -- rebuilds -------------------------------------------------------------------------------
    def wanted_family(self, n: int | None = None) -> str:
        """The rule's family for ``n`` live vectors, keeping the current one inside the hysteresis band."""
        policy = self.policy
        n = self.ntotal if n is None else n
        want = choose_family(n, self.dim, policy)
        if want != self.family and self.family == choose_family(int(n * policy.hysteresis), self.dim, policy):
            return self.family
        return want

    def rebuild_reason(self) -> str | None:
        """Why this index should be rebuilt now (family, retraining, compaction), or None."""
        policy, n = self.policy, self.ntotal
        want = self.wanted_family(n)
        if want != self.family:
            return f"{n} vectors: {self.family} -> {want}"
        if self.family == "flat":
            return None
        if self._dead and self._dead >= policy.dead_fraction * self._rows:
            return f"{self._dead} of {self._rows} rows removed"
        trained = int(self.params.get("trained_n", 0))
        if self.family in ("ivf", "ivfpq") and trained and n >= policy.ivf_regrow * trained:
            return f"{n} vectors, trained on a space of {trained}"
        return None

    def maybe_rebuild(self) -> str | None:
        """Rebuild if :meth:`rebuild_reason` says so; returns the reason (None when nothing was done)."""
        with self._lock:
            reason = self.rebuild_reason()
            if reason is not None:
                self.rebuild()
            return reason

    @property
    def rebuilding(self) -> bool:
        """A background rebuild is under way (or done and waiting for :meth:`finish_rebuild`)."""
        return self._builder is not None

    def start_rebuild(self) -> str | None:
        """Start rebuilding in a background thread if :meth:`rebuild_reason` says so; returns the
        reason. Searches, adds and removes go on against this index meanwhile; the changes are
        journaled and replayed onto the new index when :meth:`finish_rebuild` swaps it in."""
        with self._lock:
            if self._builder is not None:
                return None
            reason = self.rebuild_reason()
            if reason is None:
                return None
            ids, vecs = self.live_vectors()
            family, policy = self.wanted_family(len(ids)), self.policy
            journal: list = []
            self._journal, self._built, self._replayed = journal, None, 0

            def build() -> None:
                try:
                    built = VectorIndex.build(self.dim, ids, vecs, family=family, policy=policy)
                    # Catch up with the journal here, outside the lock, until little is left for
                    # the swap to replay (an HNSW insert costs ~0.3 ms: 30k of them under the lock
                    # stalled an ingest for 10 s).
                    done = 0
                    for _ in range(8):  # bounded: an ingest faster than the inserts leaves the rest to the swap
                        pending = journal[done:]
                        if sum(len(entry[1]) for entry in pending) <= CATCH_UP_ROWS:
                            break
                        for op, op_ids, op_vectors in pending:
                            built.add(op_ids, op_vectors) if op == "add" else built.remove(op_ids)
                        done += len(pending)
                    self._replayed, self._built = done, built
                except BaseException as exc:  # noqa: BLE001 - reported by finish_rebuild
                    self._built = exc

            self._builder = threading.Thread(target=build, name="mmsearch-index-rebuild", daemon=True)
            self._builder.start()
            return reason

    def finish_rebuild(self, wait: bool = False) -> bool:
        """Swap in a finished background rebuild (``wait``: block until it finishes). Returns True
        when a new index took over. A failed build is dropped and the current index stays."""
        builder = self._builder
        if builder is None:
            return False
        if wait:
            builder.join()
        elif builder.is_alive():
            return False
        with self._lock:
            built, journal = self._built, self._journal or []
            self._builder, self._built, self._journal = None, None, None
            if not isinstance(built, VectorIndex):
                log.warning("background index rebuild failed, keeping the current index: %s", built)
                return False
            for op, ids, vectors in journal[self._replayed :]:
                built.add(ids, vectors) if op == "add" else built.remove(ids)
            self._changed()
            self._set(built.family, built.index, built.params, built._store, built._row_ids, built._alive, built._rows,
                      built._dead)
            return True

    def rebuild(self, family: str | None = None, calibration: np.ndarray | None = None) -> None:
        """Rebuild from this index's own vectors in ``family`` (default: the rule's choice), then
        calibrate the search parameters (on ``calibration`` queries if given)."""
        with self._lock:
            ids, vecs = self.live_vectors()
            self._build(ids, vecs, family or self.wanted_family(len(ids)), calibration)

    @classmethod
    def build(
        cls,
        dim: int,
        ids: np.ndarray,
        vectors: np.ndarray,
        *,
        family: str | None = None,
        policy: IndexPolicy | None = None,
        epoch: int = 0,
        calibration: np.ndarray | None = None,
    ) -> "VectorIndex":
        """An index of ``vectors`` (float16 or float32, unit rows) in ``family`` (default: the rule)."""
        idx = cls(dim, epoch=epoch, policy=policy)
        ids = np.asarray(ids, np.int64)
        if not isinstance(vectors, np.ndarray):  # (a float16 np.memmap stays one: see _build)
            vectors = np.asarray(vectors)
        vectors = vectors.reshape(len(ids), dim)
        with idx._lock:
            idx._build(ids, vectors, family or choose_family(len(ids), dim, idx.policy), calibration)
        return idx

    def _build(self, ids: np.ndarray, vecs: np.ndarray, family: str, calibration: np.ndarray | None) -> None:
        if family not in FAMILIES:
            raise ValueError(f"unknown index family {family!r}; choose from {', '.join(FAMILIES)}")
        policy, d, n = self.policy, self.dim, len(ids)
        self._changed()
        self._builder = self._built = self._journal = None  # a background rebuild is now stale
        if family == "flat" or n == 0:
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(d))
            for i in range(0, n, 65_536):
                index.add_with_ids(np.asarray(vecs[i : i + 65_536], np.float32), ids[i : i + 65_536])
            self._set_flat(index)
            return
        rng = np.random.default_rng(policy.seed)
        params: dict = {"trained_n": n}
        store = None
        if family == "hnsw":
            index = faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_fp16, policy.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = policy.ef_construction
            index.train(np.asarray(vecs[: min(n, 1000)], np.float32))
            params["m"] = policy.hnsw_m
        else:
            nlist = nlist_for(n, policy)
            quantizer = faiss.IndexFlatIP(d) if nlist < 4096 else faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
            if family == "ivf":
                index = faiss.IndexIVFScalarQuantizer(
                    quantizer, d, nlist, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT, False
                )
                sample_n = min(n, policy.train_per_list * nlist)
            else:
                m = pq_m_for(d, policy)
                nbits = 8 if n >= 256 * 39 else max(4, int(math.log2(n / 39)))  # tiny spaces (tests)
                index = faiss.IndexIVFPQ(quantizer, d, nlist, m, nbits, faiss.METRIC_INNER_PRODUCT)
                sample_n = min(n, max(policy.train_per_list * nlist, 256 * 64))
                params.update(m=m, nbits=nbits)
                # vectors already in a float16 file (a spilled rebuild, a benchmark) stay there
                disk = isinstance(vecs, np.memmap) and vecs.dtype == np.float16
                store = _Store(d, vecs if disk else None)
            sample = np.asarray(vecs[np.sort(rng.choice(n, sample_n, replace=False))], np.float32)
            index.cp.seed = policy.seed
            index.cp.niter = policy.kmeans_iterations
            index.train(sample)
            params["nlist"] = nlist
        for i in range(0, n, 65_536):
            block = np.asarray(vecs[i : i + 65_536], np.float32)
            if family == "hnsw":
                index.add(block)
            else:
                index.add_with_ids(block, np.arange(i, i + len(block), dtype=np.int64))
            if store is not None and store.base is not vecs:
                store.append(block)
        self._set(family, index, params, store, ids.copy(), np.ones(n, bool), n, 0)
        self._calibrate(calibration)

    def _set_flat(self, index: faiss.Index) -> None:
        self._builder = self._built = self._journal = None  # a background rebuild is now stale
        self._set("flat", index, {}, None, np.zeros(0, np.int64), np.zeros(0, bool), 0, 0)

    def _set(self, family: str, index: faiss.Index, params: dict, store: "_Store | None",
             row_ids: np.ndarray, alive: np.ndarray, rows: int, dead: int) -> None:
        """Take a whole index structure: family, FAISS index, parameters, re-rank store, row maps
        (``row_ids``/``alive`` may have spare capacity past ``rows``)."""
        self.family, self.index, self.params, self._store = family, index, params, store
        self._row_ids, self._alive, self._rows, self._dead = row_ids, alive, rows, dead

    # -- calibration ------------------------------------------------------------------------------
    def calibration_queries(self, count: int | None = None) -> np.ndarray:
        """Stored vectors moved away by Gaussian noise, in equal parts of norm 0.5, 1 and 2 (cosine
        ~0.9, ~0.7 and ~0.45 to their origin: near-duplicate, same-topic and cross-modal queries)."""
        policy = self.policy
        count = count or policy.calibration_queries
        rng = np.random.default_rng(policy.seed + 1)
        rows = np.sort(rng.choice(self._rows, min(count, self._rows), replace=False))
        base = self._row_vectors_any(rows)
        noise = rng.standard_normal(base.shape).astype(np.float32)
        noise /= np.linalg.norm(noise, axis=1, keepdims=True)
        scale = np.array([0.5, 1.0, 2.0], np.float32)[np.arange(len(rows)) % 3]
        q = base + noise * scale[:, None]
        return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)

    def _row_vectors_any(self, rows: np.ndarray) -> np.ndarray:
        if self.family == "ivf":  # no row -> list map: one pass over the lists
            rows = np.asarray(rows, np.int64)
            order = np.argsort(rows)
            srt = rows[order]
            out = np.zeros((len(rows), self.dim), np.float32)
            for _, block, brow in self._ann_blocks(65_536):
                pos = np.clip(np.searchsorted(srt, brow), 0, len(srt) - 1)
                hit = srt[pos] == brow
                out[order[pos[hit]]] = block[hit]
            return out
        if self.family == "hnsw":
            return np.stack([self.index.reconstruct(int(r)) for r in rows]).astype(np.float32)
        return self._row_vectors(rows)

    def exact_search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k (scores, ids) by brute force over the live vectors, whatever the family."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        best_s = np.full((len(queries), 0), -np.inf, np.float32)
        best_i = np.zeros((len(queries), 0), np.int64)
        with self._lock:
            for ids, block in self.iter_live():
                s = queries @ block.astype(np.float32).T
                best_s = np.concatenate([best_s, s], axis=1)
                best_i = np.concatenate([best_i, np.broadcast_to(ids, s.shape)], axis=1)
                if best_s.shape[1] > k:
                    top = np.argpartition(-best_s, k - 1, axis=1)[:, :k]
                    best_s = np.take_along_axis(best_s, top, 1)
                    best_i = np.take_along_axis(best_i, top, 1)
        order = np.argsort(-best_s, axis=1, kind="stable")
        return np.take_along_axis(best_s, order, 1), np.take_along_axis(best_i, order, 1)

    def _calibrate(self, calibration: np.ndarray | None) -> None:
        """Smallest efSearch / nprobe (/ re-rank depth) with recall@10 >= target + margin."""
        policy, k = self.policy, 10
        queries = self.calibration_queries() if calibration is None else np.asarray(calibration, np.float32)
        _, truth = self.exact_search(queries, k)

        groups = np.arange(len(queries)) % 3 if calibration is None else np.zeros(len(queries), int)

        def recall(found: np.ndarray) -> float:
            """The worst group's recall: near, same-topic and cross-modal queries must all reach it."""
            per = np.array([len(set(a[:k]) & set(b)) / len(b) for a, b in zip(found, truth)])
            return float(min(per[groups == g].mean() for g in np.unique(groups)))

        goal = min(1.0, policy.target_recall + policy.margin)
        best = (-1.0, None)
        if self.family == "hnsw":
            for ef in (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024):
                self.params["ef_search"] = ef
                r = recall(self._search_ann(queries, k)[1])
                if r > best[0]:
                    best = (r, ef)
                if r >= goal:
                    break
            self.params["ef_search"] = ef if r >= goal else best[1]
        else:
            nlist = int(self.params["nlist"])
            ladder = sorted({min(nlist, 1 << i) for i in range(0, 17)})
            factors = (4, 8, 16, 32, 64) if self.family == "ivfpq" else (1,)
            r = -1.0
            for nprobe in ladder:
                self.params["nprobe"] = nprobe
                rows = self._ann_rows(queries, min(self._rows, k * factors[-1]))[1]
                for factor in factors:  # re-ranking more is cheaper than probing more lists
                    if self.family == "ivfpq":
                        found = self._rerank(queries, rows[:, : k * factor], k)[1]
                    else:
                        found = rows[:, :k]
                    r = recall(self._to_ids(found))
                    if r > best[0]:
                        best = (r, (factor, nprobe))
                    if r >= goal:
                        break
                if r >= goal:
                    break
            factor, nprobe = (factor, nprobe) if r >= goal else best[1]
            self.params["nprobe"] = nprobe
            if self.family == "ivfpq":
                self.params["rerank"] = factor
        self.params["recall"] = round(r if r >= goal else best[0], 4)

    # -- GPU ------------------------------------------------------------------------------------
    def _search_gpu(self, queries: np.ndarray, k: int):
        """FAISS GPU search (flat, ivf, ivfpq); None for hnsw (no GPU version) or if the copy fails."""
        if self.family == "hnsw":
            return None
        if self._gpu is None:
            try:
                res = faiss.StandardGpuResources()
                opts = faiss.GpuClonerOptions()
                opts.useFloat16 = True  # IVF-PQ lookup tables of d/8 sub-quantizers need it
                if self.family == "flat":
                    cpu = faiss.downcast_index(self.index.index)
                    positions = self.ids()
                else:
                    cpu, positions = self.index, None
                self._gpu = (faiss.index_cpu_to_gpu(res, 0, cpu, opts), positions, res)
            except Exception:  # noqa: BLE001 - an unsupported layout stays on the CPU
                self._gpu = (None, None, None)
        gpu, positions, _ = self._gpu
        if gpu is None:
            return None
        if self.family == "flat":
            scores, pos = gpu.search(queries, k)
            return scores, np.where(pos >= 0, positions[np.clip(pos, 0, None)], -1)
        if self.family == "ivf":
            gpu.nprobe = int(self.params["nprobe"])
            fetch = k
        else:
            gpu.nprobe = int(self.params["nprobe"])
            fetch = k * int(self.params.get("rerank", 4))
        if self._dead:  # GPU indexes take no selector: fetch more and drop dead rows
            fetch = int(fetch * self._rows / max(1, self.ntotal)) + 8
        fetch = min(fetch, 2048, self._rows)  # FAISS GPU's largest k
        scores, rows = gpu.search(queries, fetch)
        if self._dead:
            dead = (rows >= 0) & ~self._alive[np.clip(rows, 0, None)]
            rows = np.where(dead, -1, rows)
            scores = np.where(dead, -np.inf, scores).astype(np.float32)
        if self.family == "ivfpq":
            scores, rows = self._rerank(queries, rows, k)
        else:
            order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
            scores, rows = np.take_along_axis(scores, order, 1), np.take_along_axis(rows, order, 1)
        return scores, self._to_ids(rows)

    def _search_torch_gpu(self, queries: np.ndarray, k: int):
        """Exact search by a float16 matrix product on CUDA (torch), when FAISS has no GPU."""
        try:
            return self.torch_search(queries, k, device="cuda")
        except Exception:  # noqa: BLE001 - out of GPU memory and the like: the CPU path answers
            self._torch = None
            return None

    def torch_search(self, queries: np.ndarray, k: int, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k (scores, ids) with torch on ``device`` (float16 matrix on CUDA, float32 on CPU)."""
        import torch

        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        with self._lock:
            cached = self._torch
            if cached is None or cached[0] != device:
                self._torch = None
                dtype = torch.float16 if device.startswith("cuda") else torch.float32
                matrix = torch.empty((self.ntotal, self.dim), dtype=dtype, device=device)
                ids, at = np.zeros(self.ntotal, np.int64), 0
                for block_ids, block in self.iter_live():  # block by block: no second host copy
                    matrix[at : at + len(block)] = torch.from_numpy(np.ascontiguousarray(block)).to(device, dtype)
                    ids[at : at + len(block)] = block_ids
                    at += len(block)
                cached = self._torch = (device, matrix, ids)
            _, matrix, ids = cached
        return torch_topk(matrix, queries, k, ids)

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: Path, header: dict) -> None:
        """Atomically replace ``path`` with a snapshot of this index."""
        _save(self, path, header)

    @classmethod
    def load(cls, path: Path) -> tuple["VectorIndex", dict]:
        """Read a snapshot; raise LibraryError (never a FAISS abort) if it is damaged."""
        return _load(cls, path)


def torch_topk(matrix, queries: np.ndarray, k: int, ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k inner products of ``queries`` against the rows of the torch tensor ``matrix``.

    Candidates are found in the matrix's dtype (float16 on a GPU: half the memory and twice the
    speed), then re-scored in float32 so the scores and order are those of exact search.
    Returns (scores, ids) where ids are ``ids[row]`` (rows when ``ids`` is None), -1 when missing.
    """
    import torch

    n = int(matrix.shape[0])
    nq = len(queries)
    if n == 0 or k <= 0:
        return np.zeros((nq, 0), np.float32), np.zeros((nq, 0), np.int64)
    k = min(int(k), n)
    with torch.no_grad():
        q = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32)).to(matrix.device)
        wide = min(n, k if matrix.dtype == torch.float32 else 2 * k + 16)
        scores = q.to(matrix.dtype) @ matrix.T
        _, cand = torch.topk(scores.float(), wide, dim=1)
        exact = torch.einsum("qd,qcd->qc", q, matrix[cand].float())
        best, order = torch.topk(exact, k, dim=1)
        rows = torch.gather(cand, 1, order).cpu().numpy().astype(np.int64)
        best = best.cpu().numpy().astype(np.float32)
    if ids is not None:
        rows = np.asarray(ids, np.int64)[rows]
    return best, rows


_TORCH_CUDA: bool | None = None


def _torch_cuda() -> bool:
    """CUDA through torch (checked once per process)."""
    global _TORCH_CUDA
    if _TORCH_CUDA is None:
        try:
            import torch

            _TORCH_CUDA = bool(torch.cuda.is_available())
        except Exception:  # noqa: BLE001
            _TORCH_CUDA = False
    return _TORCH_CUDA


# -- persistence ----------------------------------------------------------------------------------
def _pad(n: int) -> int:
    return -n % _ALIGN


def _save(self: VectorIndex, path: Path, header: dict) -> None:
    """Atomically replace ``path`` with a snapshot of this index."""
    with self._lock:
        sections: list[tuple[str, object]] = [("faiss", faiss.serialize_index(self.index))]
        if self.family != "flat":
            sections.append(("ids", self._row_ids[: self._rows]))
            sections.append(("alive", self._alive[: self._rows]))
        if self._store is not None:
            sections.append(("store", self._store))
        layout, offset = {}, 0
        for name, data in sections:
            size = len(self._store) * self.dim * 2 if name == "store" else int(np.asarray(data).nbytes)
            layout[name] = [offset, size]
            offset += size + _pad(size)
        meta = dict(header, dim=self.dim, epoch=self.epoch, ntotal=self.ntotal, family=self.family,
                    params=self.params, rows=self._rows, dead=self._dead, sections=layout)
        blob = json.dumps(meta).encode()
        head = MAGIC2 + struct.pack("<I", len(blob)) + blob
        head += b"\0" * _pad(len(head))
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(head)
            for name, data in sections:
                if name == "store":
                    written = 0
                    for _, block in data.chunks():
                        fh.write(np.ascontiguousarray(block, np.float16).tobytes())
                        written += block.nbytes
                else:
                    raw = memoryview(np.ascontiguousarray(data)).cast("B")
                    fh.write(raw)
                    written = raw.nbytes
                fh.write(b"\0" * _pad(written))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
        if self._store is not None:  # from now on the vectors live in the page cache, not the heap
            start, _ = layout["store"]
            self._store = _Store(self.dim, _map_store(path, len(head) + start, len(self._store), self.dim))


def _map_store(path: Path, offset: int, rows: int, dim: int) -> np.ndarray:
    if rows == 0:
        return np.zeros((0, dim), np.float16)
    mapped = np.memmap(path, dtype=np.float16, mode="r", offset=offset, shape=(rows, dim))
    try:  # re-ranking reads scattered rows: no read-ahead (it would map ~100 KiB per row read)
        import mmap

        mapped._mmap.madvise(mmap.MADV_RANDOM)
    except (AttributeError, OSError, ValueError):
        pass
    return mapped


def _load(cls, path: Path) -> tuple[VectorIndex, dict]:
    """Read a snapshot; raise LibraryError (never a FAISS abort) if it is damaged."""
    try:
        size = path.stat().st_size
        fh = open(path, "rb")
    except OSError as exc:
        raise LibraryError(f"cannot read index file {path}: {exc}") from None
    try:
        with fh:
            magic = fh.read(8)
            if magic == MAGIC:  # version 1: flat only, the whole file is the header and one index
                raw = magic + fh.read()
                (n,) = struct.unpack("<I", raw[8:12])
                meta = json.loads(raw[12 : 12 + n])
                index = faiss.deserialize_index(np.frombuffer(raw, dtype=np.uint8, offset=12 + n))
                if index.d != meta["dim"] or index.ntotal != meta["ntotal"]:
                    raise ValueError("header does not match the index")
                return cls(meta["dim"], index, meta.get("epoch", 0)), meta
            if magic != MAGIC2:
                raise ValueError("not an mmsearch index file")
            (n,) = struct.unpack("<I", fh.read(4))
            meta = json.loads(fh.read(n))
            base = 12 + n + _pad(12 + n)
            sections = meta["sections"]
            end = max(off + sz for off, sz in sections.values())
            if base + end > size:
                raise ValueError("file is shorter than its sections")

            def read(name: str, dtype) -> np.ndarray:
                off, sz = sections[name]
                fh.seek(base + off)
                data = np.frombuffer(fh.read(sz), dtype=dtype)
                if data.nbytes != sz:
                    raise ValueError(f"section {name} is truncated")
                return data

            off, sz = sections["faiss"]
            fh.seek(base + off)
            left = [sz]

            def chunk(n: int) -> bytes:  # FAISS reads the section straight from the file: no copy
                n = min(n, left[0])
                left[0] -= n
                return fh.read(n)

            index = faiss.read_index(faiss.PyCallbackIOReader(chunk))
            family, dim = meta["family"], meta["dim"]
            if family not in FAMILIES or index.d != dim:
                raise ValueError("header does not match the index")
            idx = cls(dim, None, meta.get("epoch", 0))
            if family == "flat":
                if index.ntotal != meta["ntotal"]:
                    raise ValueError("header does not match the index")
                idx._set_flat(index)
                return idx, meta
            rows = int(meta["rows"])
            ids = read("ids", np.int64).copy()
            alive = read("alive", np.bool_).copy()
            if index.ntotal != rows or len(ids) != rows or len(alive) != rows or int(alive.sum()) != meta["ntotal"]:
                raise ValueError("header does not match the index")
            store = None
            if family == "ivfpq":
                off, sz = sections["store"]
                if sz != rows * dim * 2:
                    raise ValueError("re-ranking vectors do not match the index")
                store = _Store(dim, _map_store(path, base + off, rows, dim))
            idx._set(family, index, dict(meta.get("params") or {}), store, ids, alive, rows, rows - int(alive.sum()))
            return idx, meta
    except LibraryError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure means a damaged file
        raise LibraryError(f"index file {path} is damaged ({exc}); it will be rebuilt from the catalog") from None


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
