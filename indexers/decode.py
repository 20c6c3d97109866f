"""The worker-thread step: read and hash one file, recognise unchanged or moved content, and have its
kind's handler decode it. Never raises: whatever breaks becomes a :class:`~.items.Failed` at the stage
it broke (read, hash, decode, preprocess)."""
from __future__ import annotations

import os
import stat

from mmsearch import _faults as faults
from mmsearch.catalog import Media

from .items import Decoded, Failed, FileEntry, Opened, Same, Timed
from .kinds import HANDLERS, DecodeInputs, Stage
from .scan import file_hash


def decode(entry: FileEntry, old: Media | None, inputs: DecodeInputs,
           missing_by_hash: dict[str, Media]) -> Decoded | Timed | Same | Failed:
    """Read, hash and decode one file (``old``: its catalog row, if any; ``missing_by_hash``: rows whose
    files are gone, by content hash, so a moved file is recognised and taken out of it)."""
    handler = HANDLERS.get(entry.kind)
    if handler is None:
        return Failed(entry, "decode", f"{entry.kind} files are not supported yet")
    stage = Stage("read")
    try:
        data: bytes | None = None
        limit = handler.read_limit
        if limit is not None:
            if entry.size > limit:
                return Failed(entry, "read", f"{entry.kind} file too large ({entry.size} bytes)")
            # O_NONBLOCK: a FIFO swapped in after the scan must not block open(); stat before reading,
            # so a file that grows meanwhile is seen as changed by the next run.
            with open(os.open(entry.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as fh:
                st = os.fstat(fh.fileno())
                if not stat.S_ISREG(st.st_mode):
                    return Failed(entry, "read", "not a regular file")
                data = fh.read(limit + 1)
        else:
            st = os.stat(entry.path)
            if not stat.S_ISREG(st.st_mode):
                return Failed(entry, "read", "not a regular file")
        entry.size, entry.mtime = st.st_size, st.st_mtime
        stage.name = "hash"
        digest = file_hash(entry.path, data)
        if old is not None and old.content_hash == digest:
            return Same(entry, old, moved=False)
        if old is None and digest in missing_by_hash:
            return Same(entry, missing_by_hash.pop(digest), moved=True)
        stage.name = "decode"
        faults.point("decode")
        fields = {"path": entry.path, "content_hash": digest, "size": entry.size, "mtime": entry.mtime,
                  "kind": entry.kind}
        return handler.decode(Opened(entry, old, fields, data), inputs, stage)
    except Exception as exc:  # noqa: BLE001 - one bad file must never stop a run
        return Failed.of(entry, stage.name, exc)
