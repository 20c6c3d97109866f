"""How a SQLite catalog on a folder mmsearch cannot write (a read-only mount, another user's folder) is read.

The rule: a reader sees every committed transaction, also those still in the ``-wal`` a killed writer left.

- no ``-wal`` (or an empty one): everything is in the main file, which is opened ``immutable`` (no locking,
  no ``-shm`` needed);
- a ``-wal`` and its ``-shm``: opened ``mode=ro`` in place; SQLite reads the WAL through the existing
  ``-shm`` (it builds its own private copy when it cannot write it);
- a ``-wal`` without a usable ``-shm`` (SQLite cannot create one on a read-only disk): the catalog and its
  WAL are copied to a private temporary folder, opened there (the copy replays the WAL), and the copy is
  deleted on close. A disk too full for the copy is one clear line.
"""
from __future__ import annotations

import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from mmsearch.errors import LibraryError


@dataclass(frozen=True)
class ReadOnlyCatalog:
    """The URL to open and, for a private copy, the folder to delete when the library closes."""

    url: str
    copy: Path | None = None
    how: str = "immutable"  # immutable | in place | private copy


def _uri(path: Path, mode: str) -> str:
    return f"sqlite:///file:{quote(str(path))}?{mode}&uri=true"


def _reads(path: Path) -> bool:
    """Whether SQLite opens ``path`` read-only with its WAL and reads its schema."""
    try:
        db = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return True
    except sqlite3.Error:
        return False
    finally:
        db.close()


def open_read_only(db: Path) -> ReadOnlyCatalog:
    """How to read the SQLite catalog ``db`` that this process cannot write (see the module docstring)."""
    wal = db.with_name(db.name + "-wal")
    try:
        pending = wal.stat().st_size > 0
    except OSError:
        pending = False
    if not pending:
        return ReadOnlyCatalog(_uri(db, "immutable=1"))
    if db.with_name(db.name + "-shm").exists() and _reads(db):
        return ReadOnlyCatalog(_uri(db, "mode=ro"), how="in place")
    folder = Path(tempfile.mkdtemp(prefix="mmsearch-ro-"))  # 0700: the copy is as private as the catalog
    try:
        shutil.copyfile(db, folder / db.name)
        shutil.copyfile(wal, folder / wal.name)
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise LibraryError(f"the read-only catalog {db} holds transactions in its -wal that can only be read from "
                           f"a copy, and the copy failed: {exc.strerror or exc} (free space in "
                           f"{tempfile.gettempdir()}, or open the library where it is writable)") from None
    return ReadOnlyCatalog(f"sqlite:///{folder / db.name}", copy=folder, how="private copy")


def discard(found: ReadOnlyCatalog) -> None:
    """Delete the private copy, if one was made."""
    if found.copy is not None:
        shutil.rmtree(found.copy, ignore_errors=True)
