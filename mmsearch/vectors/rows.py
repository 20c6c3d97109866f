"""ivfpq's float16 re-ranking vectors, by row.

``ivfpq``'s scores come from compressed codes, so the index keeps the float16 vectors itself: a
numpy array aligned with its rows, memory-mapped from the snapshot file once saved, so they cost disk
and page cache rather than resident memory. A query re-scores its candidates exactly against them.

Reads of scattered rows go through ``pread`` and the map is advised ``MADV_RANDOM``: touching the
map row by row would map each row's neighbourhood too (the kernel's fault-around and read-ahead),
inflating the process's resident memory by ~64-100 KiB per row re-ranked.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np


class RowStore:
    """float16 vectors by row: a read-only base (memory-mapped snapshot) plus appended rows."""

    def __init__(self, dim: int, base: np.ndarray | None = None) -> None:
        self.dim = dim
        self.base = base if base is not None else np.zeros((0, dim), np.float16)
        self.tail: list[np.ndarray] = []
        self._tail_n = 0
        self._fd: int | None = None  # the base's file, for pread (see _read_base)
        self._fd_name: str | None = None

    def __len__(self) -> int:
        return len(self.base) + self._tail_n

    @property
    def nbytes(self) -> int:
        """Bytes of all rows at float16 (a snapshot section's size)."""
        return len(self) * self.dim * 2

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
        """float32 rows of the base; a memory-mapped base is read with pread (see the module docstring)."""
        source = getattr(self.base, "filename", None) if isinstance(self.base, np.memmap) else None
        if source is not None and self._fd_name != source:
            self._close()
            try:
                self._fd = os.open(source, os.O_RDONLY)
                self._fd_name = source
            except OSError:  # an unlinked spill file: only the map reaches it
                source = None
        if source is None or self._fd is None:
            return np.asarray(self.base[rows], dtype=np.float32)
        row_bytes = self.dim * 2
        start = int(self.base.offset)  # type: ignore[union-attr]  # (a np.memmap here)
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


def map_rows(path: Path, offset: int, rows: int, dim: int) -> np.ndarray:
    """``rows`` float16 vectors of ``dim`` at ``offset`` of ``path``, memory-mapped read-only."""
    if rows == 0:
        return np.zeros((0, dim), np.float16)
    mapped = np.memmap(path, dtype=np.float16, mode="r", offset=offset, shape=(rows, dim))
    try:  # re-ranking reads scattered rows: no read-ahead (it would map ~100 KiB per row read)
        import mmap

        mapped._mmap.madvise(mmap.MADV_RANDOM)  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        pass
    return mapped
