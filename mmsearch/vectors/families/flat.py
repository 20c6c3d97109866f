"""The exact family: ``IndexIDMap2(IndexFlatIP)`` over float32 vectors, labelled by catalog id (every space
starts here; the size rule keeps a space here while it is small)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import faiss
import numpy as np

from mmsearch.vectors.families.base import BLOCK, Family, SectionMapper, SectionReader
from mmsearch.vectors.policy import FamilyName, IndexPolicy


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
