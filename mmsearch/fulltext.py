"""Full-text index of every text the library holds, in the database's own engine.

One row per segment that carries words: its text (a note passage, caption, subtitle cue, transcript
passage), the phonetic keys of that text (:mod:`mmsearch.phonetic`, so a misheard word still matches)
and the words of its file's name. The file name goes on the segments with text, or — for a file without
text (an image, a video, a sound) — on its first segment, so a name matches once per file.

Backends by dialect (:data:`BACKENDS`), same contract: ``search`` takes the query's words and phonetic
keys (any of them may match; a key only in the phonetic column) and returns ``(segment id, score)`` best
first, ``score > 0`` higher-is-better.

- SQLite: an FTS5 table (``unicode61`` tokenizer, diacritics folded), rowid = segment id, ranked by
  ``bm25()`` with column weights text 1.0, phonetic 0.5, name 0.8.
- PostgreSQL: a ``tsvector`` per segment (``simple`` configuration: no stemming, like FTS5) with a GIN
  index, weights A (text), B (phonetic), C (name), ranked by ``ts_rank_cd``.

Rows are written and deleted by the catalog in the same transactions as their segments.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import bindparam
from sqlalchemy import text as sql
from sqlalchemy.engine import Connection

from .phonetic import phonetic_keys as _phonetic_keys

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 32  # words of one query used for matching


@dataclass(frozen=True)
class FtsRow:
    segment_id: int
    text: str
    phonetic: str
    name: str


def words(text: str | None) -> list[str]:
    """Lower-case word tokens, as both backends' tokenizers see them (``_`` splits words here)."""
    return [w for w in _WORD.findall((text or "").lower().replace("_", " ")) if w]


def phonetic_keys(text: str) -> list[str]:
    """The phonetic keys of a text's words and adjacent word pairs (:func:`mmsearch.phonetic.phonetic_keys`),
    lower-cased as both backends store them."""
    return [k.lower() for k in _phonetic_keys(text or "")]


def phonetic_text(text: str) -> str:
    """The phonetic column of a text: its keys, space-separated."""
    return " ".join(phonetic_keys(text))


def name_words(path: str) -> str:
    """The searchable words of a file's name: ``meeting_budget-2024.ogg`` -> ``meeting budget 2024``."""
    stem = os.path.splitext(os.path.basename(path))[0]
    return " ".join(words(stem))


class Backend(Protocol):
    def create(self, conn: Connection) -> None: ...
    def insert(self, conn: Connection, rows: Sequence[FtsRow]) -> None: ...
    def delete(self, conn: Connection, segment_ids: Sequence[int]) -> None: ...
    def search(self, conn: Connection, terms: Sequence[str], keys: Sequence[str],
               limit: int) -> list[tuple[int, float]]: ...


class Fts5:
    """SQLite FTS5."""

    def create(self, conn: Connection) -> None:
        conn.exec_driver_sql(
            "CREATE VIRTUAL TABLE IF NOT EXISTS segment_fts USING fts5(text, phonetic, name, "
            "tokenize = 'unicode61 remove_diacritics 2')"
        )

    def insert(self, conn: Connection, rows: Sequence[FtsRow]) -> None:
        if rows:
            conn.execute(
                sql("INSERT INTO segment_fts(rowid, text, phonetic, name) VALUES (:i, :t, :p, :n)"),
                [{"i": r.segment_id, "t": r.text, "p": r.phonetic, "n": r.name} for r in rows],
            )

    def delete(self, conn: Connection, segment_ids: Sequence[int]) -> None:
        statement = sql("DELETE FROM segment_fts WHERE rowid IN :ids").bindparams(bindparam("ids", expanding=True))
        for chunk in _chunks([int(i) for i in segment_ids], 900):
            conn.execute(statement, {"ids": chunk})

    def search(self, conn: Connection, terms: Sequence[str], keys: Sequence[str],
               limit: int) -> list[tuple[int, float]]:
        if not terms:
            return []
        quoted = ['"' + t.replace('"', '""') + '"' for t in terms]
        match = " OR ".join(quoted + ['phonetic : "' + k.replace('"', '""') + '"' for k in keys])
        rows = conn.execute(
            sql("SELECT rowid, bm25(segment_fts, 1.0, 0.5, 0.8) AS r FROM segment_fts WHERE segment_fts MATCH :m "
                "ORDER BY r LIMIT :k"),
            {"m": match, "k": int(limit)},
        )
        return [(int(i), -float(r)) for i, r in rows]


class PgTsvector:
    """PostgreSQL tsvector + GIN."""

    def create(self, conn: Connection) -> None:
        conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS segment_fts (segment_id BIGINT PRIMARY KEY "
            "REFERENCES segment(id) ON DELETE CASCADE, doc tsvector NOT NULL)"
        )
        conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_segment_fts_doc ON segment_fts USING GIN (doc)")

    def insert(self, conn: Connection, rows: Sequence[FtsRow]) -> None:
        if rows:
            conn.execute(
                sql("INSERT INTO segment_fts(segment_id, doc) VALUES (:i, "
                    "setweight(to_tsvector('simple', :t), 'A') || setweight(to_tsvector('simple', :p), 'B') || "
                    "setweight(to_tsvector('simple', :n), 'C'))"),
                [{"i": r.segment_id, "t": r.text, "p": r.phonetic, "n": r.name} for r in rows],
            )

    def delete(self, conn: Connection, segment_ids: Sequence[int]) -> None:
        for chunk in _chunks(list(segment_ids), 900):
            conn.execute(sql("DELETE FROM segment_fts WHERE segment_id = ANY(:ids)"), {"ids": [int(i) for i in chunk]})

    def search(self, conn: Connection, terms: Sequence[str], keys: Sequence[str],
               limit: int) -> list[tuple[int, float]]:
        if not terms:
            return []
        lexemes = [_pg_lexeme(t) for t in terms] + [_pg_lexeme(k) + ":B" for k in keys]  # B: the phonetic weight
        rows = conn.execute(
            sql("SELECT segment_id, ts_rank_cd(doc, q) AS r FROM segment_fts, to_tsquery('simple', :q) q "
                "WHERE doc @@ q ORDER BY r DESC, segment_id LIMIT :k"),
            {"q": " | ".join(lexemes), "k": int(limit)},
        )
        return [(int(i), float(r)) for i, r in rows]


def _pg_lexeme(term: str) -> str:
    return "'" + term.replace("'", "''").replace("\\", "") + "'"


BACKENDS: dict[str, Backend] = {"sqlite": Fts5(), "postgresql": PgTsvector()}


def backend(conn: Connection) -> Backend:
    return BACKENDS[conn.dialect.name]


def create(conn: Connection) -> None:
    backend(conn).create(conn)


def query_terms(query: str) -> list[str]:
    """The distinct words of a query, in order, at most :data:`MAX_TERMS`."""
    seen: dict[str, None] = {}
    for w in words(query):
        seen.setdefault(w, None)
    return list(seen)[:MAX_TERMS]


def _chunks(seq: list[int], n: int) -> Iterable[list[int]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]
