"""VectorIndex: the vector index of one space, a thin composition of the package's parts.

It holds one family object (families/) chosen by the size rule (size_rule.py), and adds the lock,
the GPU placement (gpu.py), snapshots (snapshot.py), calibration after builds (calibration.py) and
background rebuilds (rebuild.py). Every structure change goes through :meth:`VectorIndex._set`.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import faiss
import numpy as np

from mmsearch.delegate import Delegated
from mmsearch.vectors import snapshot
from mmsearch.vectors.calibration import calibration_queries
from mmsearch.vectors.families import ANN_MAX_K, BLOCK, FAMILIES, Family, Flat, small_search_threads
from mmsearch.vectors.gpu import GPU_MIN, GpuPlacement, gpu_count, torch_cuda, torch_topk
from mmsearch.vectors.policy import IndexPolicy, default_policy
from mmsearch.vectors.rebuild import BackgroundRebuild, live_vectors, rebuild_reason, replay
from mmsearch.vectors.size_rule import choose_family, estimate_bytes, wanted_family

log = logging.getLogger(__name__)


class VectorIndex:
    """The vector index of one space; its FAISS family follows its size (see size_rule.py).

    ``index`` (optional) is an exact ``IndexIDMap2`` to wrap; ``policy`` defaults to :func:`default_policy`.
    """

    def __init__(
        self, dim: int, index: faiss.Index | None = None, epoch: int = 0, *, policy: IndexPolicy | None = None
    ) -> None:
        self.dim = dim
        self.epoch = epoch
        self._policy = policy
        self._lock = threading.RLock()
        self._family: Family = Flat(dim, index) if index is not None else Flat.empty(dim)
        self._gpu = GpuPlacement()
        self._rebuild: BackgroundRebuild | None = None

    @property
    def policy(self) -> IndexPolicy:
        return self._policy or default_policy()

    @policy.setter
    def policy(self, value: IndexPolicy | None) -> None:
        self._policy = value

    # -- the structure --------------------------------------------------------------------------
    @property
    def structure(self) -> Family:
        """The family object holding the FAISS structure (families/); read it under no other lock."""
        return self._family

    family: Delegated[str] = Delegated("_family", "name", "The family's name: flat, hnsw, ivf or ivfpq.")
    index: Delegated[faiss.Index] = Delegated("_family", doc="The FAISS index (flat: an IndexIDMap2 by catalog id).")
    params: Delegated[dict] = Delegated("_family", doc="Calibrated search effort, training size, recall reached.")
    dead_rows: Delegated[int] = Delegated("_family", "dead", "Removed rows an ANN index holds until compacted.")
    ntotal: Delegated[int] = Delegated("_family")

    def _set(self, family: Family) -> None:
        """Take a whole index structure (build, reset, swap, load)."""
        self._changed()
        self._family = family

    def _changed(self) -> None:
        self._family.changed()
        self._gpu.forget()

    # -- contents -------------------------------------------------------------------------------
    def ids(self) -> np.ndarray:
        with self._lock:
            return self._family.ids()

    def add(self, ids: Iterable[int], vectors: np.ndarray) -> None:
        ids = np.asarray(list(ids), dtype=np.int64)
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        with self._lock:
            self._changed()
            if self._rebuild is not None:  # a background rebuild replays this onto its new index
                self._rebuild.record_add(ids, vectors)
            self._family.add(ids, vectors)

    def remove(self, ids: Iterable[int]) -> int:
        ids = np.asarray(list(ids), dtype=np.int64)
        if len(ids) == 0:
            return 0
        with self._lock:
            self._changed()
            if self._rebuild is not None:
                self._rebuild.record_remove(ids)
            return self._family.remove(ids)

    def reset(self) -> None:
        with self._lock:
            self._rebuild = None  # a background rebuild is now stale
            self._set(Flat.empty(self.dim))

    def reconstruct(self, id_: int) -> np.ndarray:
        """The stored float32 vector of catalog id ``id_`` (KeyError if absent)."""
        with self._lock:
            return self._family.reconstruct(id_)

    def info(self) -> dict:
        """Family, parameters, live and dead rows, and estimated resident bytes."""
        with self._lock:
            f = self._family
            return dict(f.params, family=f.name, ntotal=f.ntotal, dead=f.dead,
                        bytes=estimate_bytes(f.name, max(f.rows, f.ntotal), self.dim, self.policy))

    def iter_live(self, size: int = BLOCK) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, float16 vectors) of every live vector, in blocks."""
        return self._family.iter_live(size)

    def live_vectors(self, spill_bytes: int = 1 << 30) -> tuple[np.ndarray, np.ndarray]:
        """All live (ids, float16 vectors) in one array each; past ``spill_bytes`` the vectors are a
        memory map of an unlinked temporary file (rebuild.py)."""
        return live_vectors(self.iter_live(), self.ntotal, self.dim, spill_bytes)

    # -- search ---------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query row, best first; missing results have id -1."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        with self._lock:
            total = self.ntotal
            if total == 0:
                return (np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64))
            k = max(1, min(int(k), total))
            found = None
            if gpu_count() > 0 and total >= GPU_MIN and k <= ANN_MAX_K:  # FAISS GPU's largest k is 2048
                found = self._gpu.faiss_search(self._family, queries, k)
            elif total >= GPU_MIN and torch_cuda():
                found = self._torch_cuda_search(queries, k)
            if found is not None:
                return found
            with small_search_threads(len(queries) * total):
                return self._family.search(queries, k)

    def exact_search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k (scores, ids) by brute force over the live vectors, whatever the family."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        with self._lock:
            return self._family.exact_search(queries, k)

    def torch_search(self, queries: np.ndarray, k: int, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k (scores, ids) with torch on ``device`` (float16 matrix on CUDA, float32 on CPU)."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        with self._lock:
            matrix, ids = self._gpu.torch_matrix(self.iter_live, self.ntotal, self.dim, device)
        return torch_topk(matrix, queries, k, ids)

    def _torch_cuda_search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Exact search by a float16 matrix product on CUDA, when FAISS has no GPU."""
        try:
            return self.torch_search(queries, k, device="cuda")
        except RuntimeError as exc:  # torch: out of GPU memory (a RuntimeError), a CUDA fault: the CPU answers
            log.warning("exact search on the GPU failed (%s); searching on the CPU", exc)
            self._gpu.forget()
            return None

    def calibration_queries(self, count: int | None = None) -> np.ndarray:
        """The calibration queries of calibration.py, made from this index's stored vectors."""
        with self._lock:
            return calibration_queries(self._family, self.policy, count)

    # -- rebuilds -------------------------------------------------------------------------------
    def wanted_family(self, n: int | None = None) -> str:
        """The rule's family for ``n`` live vectors, keeping the current one inside the hysteresis band."""
        return wanted_family(self.family, self.ntotal if n is None else n, self.dim, self.policy)

    def rebuild_reason(self) -> str | None:
        """Why this index should be rebuilt now (family, retraining, compaction), or None."""
        return rebuild_reason(self._family, self.policy)

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
        return self._rebuild is not None

    @property
    def background_rebuild(self) -> BackgroundRebuild | None:
        """The background rebuild under way or waiting to be swapped in (its ``join()``, ``replayed``)."""
        return self._rebuild

    def start_rebuild(self) -> str | None:
        """Start rebuilding in a background thread if :meth:`rebuild_reason` says so; returns the
        reason. Searches, adds and removes go on against this index meanwhile; the changes are
        journaled and replayed onto the new index when :meth:`finish_rebuild` swaps it in."""
        with self._lock:
            if self._rebuild is not None:
                return None
            reason = self.rebuild_reason()
            if reason is None:
                return None
            ids, vecs = self.live_vectors()
            family, policy = self.wanted_family(len(ids)), self.policy
            self._rebuild = BackgroundRebuild(
                lambda: VectorIndex.build(self.dim, ids, vecs, family=family, policy=policy), policy.catch_up_rows
            )
            return reason

    def finish_rebuild(self, wait: bool = False) -> bool:
        """Swap in a finished background rebuild (``wait``: block until it finishes). Returns True
        when a new index took over. A failed build is dropped and the current index stays."""
        job = self._rebuild
        if job is None:
            return False
        if wait:
            job.join()
        elif job.running:
            return False
        with self._lock:
            self._rebuild = None
            built = job.result
            if not isinstance(built, VectorIndex):
                log.warning("background index rebuild failed, keeping the current index: %s", built)
                return False
            replay(job.pending(), built)
            self._set(built._family)
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
    ) -> VectorIndex:
        """An index of ``vectors`` (float16 or float32, unit rows) in ``family`` (default: the rule)."""
        idx = cls(dim, epoch=epoch, policy=policy)
        ids = np.asarray(ids, np.int64)
        if not isinstance(vectors, np.ndarray):  # (a float16 np.memmap stays one: ivfpq keeps it)
            vectors = np.asarray(vectors)
        vectors = vectors.reshape(len(ids), dim)
        with idx._lock:
            idx._build(ids, vectors, family or choose_family(len(ids), dim, idx.policy), calibration)
        return idx

    def _build(self, ids: np.ndarray, vecs: np.ndarray, family: str, calibration: np.ndarray | None) -> None:
        if family not in FAMILIES:
            raise ValueError(f"unknown index family {family!r}; choose from {', '.join(FAMILIES)}")
        self._rebuild = None  # a background rebuild is now stale
        kind = FAMILIES[family] if len(ids) else Flat
        built = kind.build(self.dim, ids, vecs, self.policy)
        self._set(built)
        built.calibrate(self.policy, calibration)

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: Path, header: dict) -> None:
        """Atomically replace ``path`` with a snapshot of this index (snapshot.py)."""
        with self._lock:
            snapshot.save(path, self._family, header, self.epoch)

    @classmethod
    def load(cls, path: Path) -> tuple[VectorIndex, dict]:
        """Read a snapshot; raise LibraryError (never a FAISS abort) if it is damaged."""
        family, meta = snapshot.load(path)
        idx = cls(family.dim, epoch=meta.get("epoch", 0))
        idx._set(family)
        return idx, meta
