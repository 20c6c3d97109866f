"""The full-text index, one module per database (``sqlite.py``: FTS5, ``postgresql.py``: tsvector + GIN) behind
one contract and one two-step search (``base.py``); :data:`BACKENDS` picks the backend by the dialect's name."""
from __future__ import annotations

from sqlalchemy.engine import Connection

from mmsearch.catalog.fulltext.base import Backend
from mmsearch.catalog.fulltext.postgresql import PgTsvector
from mmsearch.catalog.fulltext.sqlite import Fts5

BACKENDS: dict[str, Backend] = {"sqlite": Fts5(), "postgresql": PgTsvector()}


def backend(conn: Connection) -> Backend:
    return BACKENDS[conn.dialect.name]


def create(conn: Connection) -> None:
    backend(conn).create(conn)
