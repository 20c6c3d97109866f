"""The marker file that makes a folder an mmsearch library: ``.mmsearch-library``.

The rule: commands that delete things in a library folder (``check --repair``) act only on a folder that
holds the marker, so a wrong ``--library`` never costs a file. The marker is written when a library is
created (a new or empty folder, or ``index`` into a folder of the user's choosing), and on the next writable
open of a library from before markers, recognised by mmsearch's own files: its SQLite catalog, its writer
lock, or a snapshot in ``index/``. It holds the library format version.
"""
from __future__ import annotations

import os
from pathlib import Path

MARKER = ".mmsearch-library"
FORMAT = 1
_SNAPSHOT_MAGICS = (b"MMSIDX01", b"MMSIDX02")


def is_library(root: Path) -> bool:
    """Whether ``root`` holds the marker."""
    return (root / MARKER).is_file()


def has_own_files(root: Path) -> bool:
    """Whether ``root`` holds files only mmsearch writes (a library from before markers)."""
    if (root / ".writer.lock").is_file():
        return True
    try:
        with open(root / "catalog.sqlite3", "rb") as fh:
            if fh.read(16) == b"SQLite format 3\0":
                return True
    except OSError:
        pass
    index = root / "index"
    for entry in index.glob("*.index") if index.is_dir() else ():
        try:
            with open(entry, "rb") as fh:
                if fh.read(8) in _SNAPSHOT_MAGICS:
                    return True
        except OSError:
            continue
    return False


def write(root: Path) -> None:
    """Write the marker (user-only, like the rest of the library); a folder that refuses it is left alone."""
    try:
        fd = os.open(root / MARKER, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    except OSError:
        return
    try:
        os.write(fd, f"mmsearch library\nformat {FORMAT}\n".encode())
    finally:
        os.close(fd)
