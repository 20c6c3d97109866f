"""The writer lock of a catalog on a database server (a helper of mmsearch/catalog.py).

The rule: one writer per catalog, whatever machine or library folder it runs from. A SQLite catalog lives in
its library folder, whose ``flock`` (mmsearch/library.py) is that lock. A PostgreSQL catalog is shared, so
its lock lives in the database: a session-level ``pg_advisory_lock`` on a key derived from the catalog's
identity (its database and schema), taken on a dedicated connection held for the whole run. The server
drops it with the connection, so a killed or unplugged writer never leaves a stale lock.
"""
from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine as SqlEngine


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
