"""The catalog's connection: the database engine and sessions, one write transaction at a time, a refused write
mapped to one clear :class:`LibraryError`, and the writer lock of a catalog on a database server.

The writer lock's rule: one writer per catalog, whatever machine or library folder it runs from. A SQLite
catalog lives in its library folder, whose ``flock`` (mmsearch/library.py) is that lock. A PostgreSQL catalog
is shared, so its lock lives in the database: a session-level ``pg_advisory_lock`` on a key derived from the catalog's
identity (its database and schema), taken on a dedicated connection held for the whole run. The server
drops it with the connection, so a killed or unplugged writer never leaves a stale lock.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import create_engine, delete, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from mmsearch.catalog.schema import WRITER, Meta
from mmsearch.errors import LibraryError, LibraryLockedError

BOUND_LIMIT = 900  # values bound in one statement (SQLite's limit is 999)
T = TypeVar("T")


def lock_key(identity: str) -> int:
    """A signed 64-bit advisory-lock key for a catalog identity (stable across machines and versions)."""
    digest = hashlib.sha256(f"mmsearch-writer:{identity}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLock:
    """PostgreSQL: ``pg_try_advisory_lock`` on the catalog's key, held by one connection of its own."""

    def __init__(self, sql: SqlEngine) -> None:
        self.sql = sql
        self.conn: Connection | None = None
        self.key = 0

    def acquire(self) -> bool:
        """Take the lock now, or return False when another session holds it."""
        conn = self.sql.connect()
        try:
            identity = conn.execute(text("SELECT current_database() || '.' || current_schema()")).scalar_one()
            self.key = lock_key(str(identity))
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar_one())
            conn.commit()  # a session-level lock outlives the transaction that took it
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self.conn = conn
        return True

    def release(self) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            conn.commit()
        finally:
            conn.close()  # closing the session releases the lock even if the unlock failed


# dialect -> the lock a writer takes in the database; a dialect not named here (SQLite) has the folder's flock.
LOCKS: dict[str, type[AdvisoryLock]] = {"postgresql": AdvisoryLock}


# What a failed write means, by words of the database's own message (SQLite, PostgreSQL).
_WRITE_FAILURES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("disk is full", "no space left", "could not extend file", "disk full"),
     "the disk holding the library is full: free some space and run the command again (nothing indexed "
     "before was lost)"),
    (("readonly database", "read-only", "read only", "permission denied"),
     "the library is read-only here: make it writable, or use another --library"),
    (("unable to open database", "no such table", "disk i/o error"),
     "the library's catalog could not be written (was its folder removed or its disk unplugged during "
     "the run?)"),
)


def write_failure(url: str, exc: BaseException) -> LibraryError:
    """The one-line LibraryError for a write the database refused."""
    why = " ".join(str(getattr(exc, "orig", exc)).split())
    low = why.lower()
    for words, meaning in _WRITE_FAILURES:
        if any(w in low for w in words):
            return LibraryError(f"{meaning} ({shown_url(url)}: {why})")
    return LibraryError(f"cannot write to catalog {shown_url(url)}: {why}")


def shown_url(url: str) -> str:
    """A database URL fit for a message: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # not a URL SQLAlchemy parses: mask what looks like ``user:password@``
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def chunks(seq: Sequence[T], n: int = BOUND_LIMIT) -> Iterator[Sequence[T]]:
    """``seq`` in slices of ``n``: the values one statement binds."""
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def db_text(text: str | None) -> str | None:
    """Text as every backend stores it: PostgreSQL cannot hold NUL characters."""
    return text.replace("\x00", "") if text else text


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets searches read while an ingest writes; NORMAL sync is durable at checkpoints and
    # never corrupts on a crash; the busy timeout makes a second writer wait instead of failing.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class CatalogConnection:
    """The database of a catalog: its engine, a session per call (thread-safe for the engine's use), one write
    transaction at a time in this process, and the writer lock of a server catalog. The catalog's parts
    (reads, writes, bulk reads, staging) are built on it."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            # a ping guards against a server that dropped the connection; a SQLite file has none to drop
            self.sql: SqlEngine = create_engine(url, future=True, pool_pre_ping=not url.startswith("sqlite"))
        except (SQLAlchemyError, ImportError) as exc:
            raise LibraryError(f"cannot open database {shown_url(url)!r}: {exc}") from None
        if self.sql.dialect.name == "sqlite":
            event.listen(self.sql, "connect", _sqlite_pragmas)
        self.session = sessionmaker(self.sql, expire_on_commit=False)
        self._write_lock = threading.Lock()
        self._server_lock: AdvisoryLock | None = None

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Session]:
        """One write transaction (one writer at a time in this process). A database that cannot take the
        write — disk full, read-only, gone — raises LibraryError with one line saying so; the transaction is
        rolled back, so nothing committed before is touched."""
        try:
            with self._write_lock, self.session.begin() as s:
                yield s
        except SQLAlchemyError as exc:
            raise write_failure(self.url, exc) from None

    def schema_version(self) -> int:
        with self.session() as s:
            row = s.get(Meta, "schema_version")
            return int(row.value) if row else 0

    def close(self) -> None:
        self.release_writer_lock()
        self.sql.dispose()

    # -- the writer lock of a shared catalog ---------------------------------------------------------------
    def take_writer_lock(self, holder: dict[str, Any]) -> None:
        """On a database server, take the catalog's writer lock for this process, or raise LibraryLockedError
        naming the holder (host, pid, library, since: the ``writer`` meta row its holder wrote). ``holder``:
        this process's row. Nothing to do for SQLite (the library folder's flock is the lock)."""
        kind = LOCKS.get(self.sql.dialect.name)
        if kind is None or self._server_lock is not None:
            return
        lock = kind(self.sql)
        try:
            got = lock.acquire()
        except SQLAlchemyError as exc:
            raise write_failure(self.url, exc) from None
        if not got:
            raise LibraryLockedError(f"another mmsearch process is writing into the catalog {shown_url(self.url)} "
                                     f"({_holder_text(self.writer_holder())}); wait for it to finish")
        self._server_lock = lock
        try:
            with self._writing() as s:
                s.merge(Meta(key=WRITER, value=json.dumps(holder)))
        except BaseException:
            self.release_writer_lock()
            raise

    def release_writer_lock(self) -> None:
        """Give the writer lock of a server catalog back (its ``writer`` row goes first)."""
        lock, self._server_lock = self._server_lock, None
        if lock is None:
            return
        try:
            with self._writing() as s:
                s.execute(delete(Meta).where(Meta.key == WRITER))
        except LibraryError:
            pass  # the server is gone: so is the lock
        finally:
            lock.release()

    def writer_holder(self) -> dict[str, Any] | None:
        """The ``writer`` row of the process holding a server catalog's lock (None: none recorded)."""
        with self.session() as s:
            row = s.get(Meta, WRITER)
        try:
            return json.loads(row.value) if row is not None else None
        except ValueError:
            return None


def _holder_text(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "its host and process are not recorded yet"
    return (f"host {holder.get('host')}, pid {holder.get('pid')}, library {holder.get('library')}, "
            f"since {holder.get('since')} UTC")
