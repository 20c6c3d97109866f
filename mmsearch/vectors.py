"""One FAISS index per embedding space: add, remove, search, atomic snapshots, rebuild.

Vectors are unit length, so inner product is cosine similarity. Ids are catalog segment ids.
A snapshot file holds a small JSON header (format, space, model, dim, the catalog epoch it reflects)
and the serialized FAISS index, written to a temporary file, fsynced and renamed over the old one, so
a crash leaves either the old or the new snapshot, never a torn one.
"""
from __future__ import annotations

import json
import os
import struct
import threading
from pathlib import Path
from typing import Iterable

import faiss
import numpy as np

from .errors import LibraryError

MAGIC = b"MMSIDX01"


def gpu_count() -> int:
    """GPUs FAISS can use (0 with faiss-cpu, or faiss-gpu on a machine without one)."""
    try:
        return int(faiss.get_num_gpus())
    except AttributeError:
        return 0


class VectorIndex:
    """Exact inner-product index (IDMap2 over Flat) for one space, GPU-searched when present."""

    def __init__(self, dim: int, index: faiss.Index | None = None, epoch: int = 0) -> None:
        self.dim = dim
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.epoch = epoch
        self._lock = threading.RLock()
        self._gpu: tuple[object, np.ndarray] | None = None  # (gpu flat index, position -> id)

    # -- contents -------------------------------------------------------------------------------
    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def ids(self) -> np.ndarray:
        with self._lock:
            return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def add(self, ids: Iterable[int], vectors: np.ndarray) -> None:
        ids = np.asarray(list(ids), dtype=np.int64)
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        with self._lock:
            self.index.add_with_ids(vectors, ids)
            self._gpu = None

    def remove(self, ids: Iterable[int]) -> int:
        ids = np.asarray(list(ids), dtype=np.int64)
        if len(ids) == 0:
            return 0
        with self._lock:
            n = int(self.index.remove_ids(faiss.IDSelectorBatch(ids)))
            self._gpu = None
            return n

    def reset(self) -> None:
        with self._lock:
            self.index.reset()
            self._gpu = None

    # -- search ---------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query row; missing results have id -1."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        with self._lock:
            k = max(1, min(int(k), self.ntotal))
            if self.ntotal == 0:
                return (np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64))
            gpu = self._gpu_index()
            if gpu is not None:
                flat, positions = gpu
                scores, pos = flat.search(queries, k)
                ids = np.where(pos >= 0, positions[np.clip(pos, 0, None)], -1)
                return scores, ids
            return self.index.search(queries, k)

    def _gpu_index(self):
        # The GPU copy pays off only past a few thousand vectors; below that, copying costs more.
        if gpu_count() == 0 or self.ntotal < 20_000:
            return None
        if self._gpu is None:
            flat = faiss.downcast_index(self.index.index)
            res = faiss.StandardGpuResources()
            self._gpu = (faiss.index_cpu_to_gpu(res, 0, flat), self.ids())
            self._gpu_res = res
        return self._gpu

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: Path, header: dict) -> None:
        """Atomically replace ``path`` with a snapshot of this index."""
        with self._lock:
            data = faiss.serialize_index(self.index)
            meta = dict(header, dim=self.dim, epoch=self.epoch, ntotal=self.ntotal)
        blob = json.dumps(meta).encode()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(MAGIC + struct.pack("<I", len(blob)) + blob)
            fh.write(memoryview(data))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)

    @classmethod
    def load(cls, path: Path) -> tuple["VectorIndex", dict]:
        """Read a snapshot; raise LibraryError (never a FAISS abort) if it is damaged."""
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise LibraryError(f"cannot read index file {path}: {exc}") from None
        try:
            if raw[:8] != MAGIC:
                raise ValueError("not an mmsearch index file")
            (n,) = struct.unpack("<I", raw[8:12])
            meta = json.loads(raw[12 : 12 + n])
            index = faiss.deserialize_index(np.frombuffer(raw, dtype=np.uint8, offset=12 + n))
            if index.d != meta["dim"] or index.ntotal != meta["ntotal"]:
                raise ValueError("header does not match the index")
        except Exception as exc:  # noqa: BLE001 - any parse failure means a damaged file
            raise LibraryError(f"index file {path} is damaged ({exc}); it will be rebuilt from the catalog") from None
        return cls(meta["dim"], index, meta.get("epoch", 0)), meta


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
