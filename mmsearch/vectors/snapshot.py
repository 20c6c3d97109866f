"""Snapshots: one index per file, written atomically, read back without trusting the file.

Version 2 (``MMSIDX02``, written): the magic, a little-endian uint32 header length, a JSON header
(format fields of the caller such as space, model and ``generation`` — the random token of the catalog
state the snapshot reflects, see mmsearch/library.py — then dim, epoch, ntotal, family and its
parameters, rows, dead and the section layout), zero padding to a 64-byte boundary, then the
sections, each padded to 64 bytes: the serialized FAISS index, and what the family adds (ANN
families: row ids and live rows; ivfpq: its float16 vectors, memory-mapped when loaded).
Version 1 (``MMSIDX01``, still read): the magic, the header length, the JSON header and a serialized
``IndexIDMap2(IndexFlatIP)``: the whole file is one flat index.

A snapshot is written to a temporary file, fsynced and renamed over the old one (then the folder is
fsynced), so a crash leaves either the old or the new snapshot, never a torn one. Any failure to
parse a file is a :class:`~mmsearch.errors.LibraryError` (never a FAISS abort): the library then
rebuilds the index from the catalog.
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any, BinaryIO

import faiss
import numpy as np

from mmsearch.errors import LibraryError
from mmsearch.vectors.families import FAMILIES, Family, Flat, Section
from mmsearch.vectors.rows import RowStore, map_rows

MAGIC = b"MMSIDX01"  # version 1: header + serialized IndexIDMap2(IndexFlatIP); still read
MAGIC2 = b"MMSIDX02"  # version 2: header + aligned sections (any family)
_ALIGN = 64


def _pad(n: int) -> int:
    return -n % _ALIGN


def _section_bytes(data: Section) -> int:
    return data.nbytes if isinstance(data, RowStore) else int(np.asarray(data).nbytes)


def _write_section(fh: BinaryIO, data: Section) -> int:
    if isinstance(data, RowStore):  # block by block: the vectors may be a memory map
        written = 0
        for _, block in data.chunks():
            fh.write(np.ascontiguousarray(block, np.float16).tobytes())
            written += block.nbytes
        return written
    raw = np.ascontiguousarray(data).data.cast("B")
    fh.write(raw)
    return raw.nbytes


def save(path: Path, family: Family, header: dict, epoch: int) -> None:
    """Atomically replace ``path`` with a version 2 snapshot of ``family`` (the caller holds the lock)."""
    sections: list[tuple[str, Any]] = [("faiss", faiss.serialize_index(family.index)), *family.sections()]
    layout, offset = {}, 0
    for name, data in sections:
        size = _section_bytes(data)
        layout[name] = [offset, size]
        offset += size + _pad(size)
    meta = dict(header, dim=family.dim, epoch=epoch, ntotal=family.ntotal, family=family.name,
                params=family.params, rows=family.rows, dead=family.dead, sections=layout)
    blob = json.dumps(meta).encode()
    head = MAGIC2 + struct.pack("<I", len(blob)) + blob
    head += b"\0" * _pad(len(head))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(head)
        for _, data in sections:
            fh.write(b"\0" * _pad(_write_section(fh, data)))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    family.saved(path, {name: len(head) + start for name, (start, _) in layout.items()})


def load(path: Path) -> tuple[Family, dict]:
    """(the index structure, the header) of a snapshot; LibraryError if it is damaged."""
    try:
        size = path.stat().st_size
        fh = open(path, "rb")  # closed by the with below, whose errors mean "damaged"
    except OSError as exc:
        raise LibraryError(f"cannot read index file {path}: {exc}") from None
    try:
        with fh:
            magic = fh.read(8)
            if magic == MAGIC:
                return _load_v1(magic + fh.read())
            if magic != MAGIC2:
                raise ValueError("not an mmsearch index file")
            return _load_v2(path, fh, size)
    except LibraryError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure means a damaged file
        raise LibraryError(f"index file {path} is damaged ({exc}); it will be rebuilt from the catalog") from None


def _load_v1(raw: bytes) -> tuple[Family, dict]:
    """Version 1: flat only, the whole file is the header and one index."""
    (n,) = struct.unpack("<I", raw[8:12])
    meta = json.loads(raw[12 : 12 + n])
    index = faiss.deserialize_index(np.frombuffer(raw, dtype=np.uint8, offset=12 + n))
    if index.d != meta["dim"] or index.ntotal != meta["ntotal"]:
        raise ValueError("header does not match the index")
    return Flat(meta["dim"], index), meta


def _load_v2(path: Path, fh: BinaryIO, size: int) -> tuple[Family, dict]:
    (n,) = struct.unpack("<I", fh.read(4))
    meta = json.loads(fh.read(n))
    base = 12 + n + _pad(12 + n)
    sections = meta["sections"]
    end = max(off + sz for off, sz in sections.values())
    if base + end > size:
        raise ValueError("file is shorter than its sections")

    def read(name: str, dtype: Any) -> np.ndarray:
        off, sz = sections[name]
        fh.seek(base + off)
        data = np.frombuffer(fh.read(sz), dtype=dtype)
        if data.nbytes != sz:
            raise ValueError(f"section {name} is truncated")
        return data

    def mapped(name: str, rows: int) -> np.ndarray:
        off, sz = sections[name]
        if sz != rows * dim * 2:
            raise ValueError("re-ranking vectors do not match the index")
        return map_rows(path, base + off, rows, dim)

    off, sz = sections["faiss"]
    fh.seek(base + off)
    left = [sz]

    def chunk(n: int) -> bytes:  # FAISS reads the section straight from the file: no copy
        n = min(n, left[0])
        left[0] -= n
        return fh.read(n)

    index = faiss.read_index(faiss.PyCallbackIOReader(chunk))  # type: ignore[attr-defined]
    name, dim = meta["family"], meta["dim"]
    if name not in FAMILIES or index.d != dim:
        raise ValueError("header does not match the index")
    return FAMILIES[name].from_snapshot(dim, index, meta, read, mapped), meta


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
