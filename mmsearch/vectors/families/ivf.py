"""IVF-Flat over float16 vectors (the catalog's precision, so its scores are exact), trained on a sample
and retrained once the space outgrew it. Calibration tunes nprobe (and, in ivfpq, the re-rank depth)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import faiss
import numpy as np

from mmsearch.vectors.calibration import K, tune_nprobe
from mmsearch.vectors.families.base import ANN_MAX_K, BLOCK, Ann
from mmsearch.vectors.policy import FamilyName, IndexPolicy, nlist_for


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
