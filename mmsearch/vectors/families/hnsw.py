"""HNSW over float16 vectors: no training, incremental inserts, the best latency at high recall.
Calibration tunes efSearch."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import faiss
import numpy as np

from mmsearch.vectors.calibration import K, tune_ef_search
from mmsearch.vectors.families.base import Ann
from mmsearch.vectors.policy import FamilyName, IndexPolicy


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
