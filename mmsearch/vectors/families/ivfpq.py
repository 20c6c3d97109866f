"""IVF-PQ (``d/8`` bytes a vector) for spaces past the memory budget: its scores come from compressed
codes, so it keeps the float16 vectors itself (a :class:`~mmsearch.vectors.rows.RowStore`) and re-ranks
``rerank * k`` candidates exactly against them."""
from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from mmsearch.vectors.calibration import K
from mmsearch.vectors.families.base import ANN_MAX_K, Section, SectionMapper
from mmsearch.vectors.families.ivf import Ivf
from mmsearch.vectors.policy import FamilyName, IndexPolicy, nlist_for, pq_m_for
from mmsearch.vectors.rows import RowStore, map_rows


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
