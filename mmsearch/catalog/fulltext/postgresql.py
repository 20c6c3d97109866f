"""The full text on PostgreSQL: a ``tsvector`` per segment (``simple`` configuration: no stemming, like FTS5)
with a GIN index, weights A (text), B (phonetic), C (name). Every statement is built here from constants
(values go in parameters)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import column, func, literal_column, table
from sqlalchemy import text as sql
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import TableClause

from mmsearch.catalog.connection import chunks
from mmsearch.catalog.fulltext.base import MAX_TOKENS, best_params, changed, count_batches, counts_in_order
from mmsearch.catalog.records import FtsRow

_COUNT = 2 * 32 + 1  # statements for 0 .. MAX_TOKENS tokens (checked below: a constant the SQL check can read)
_UNION = " UNION ALL "
_BEST_OF = "SELECT i, sum(w) AS s FROM ({union}) p GROUP BY i ORDER BY s DESC, i LIMIT :k"
_BEST_PART = ("SELECT segment_id AS i, CAST(:w{n} AS DOUBLE PRECISION) AS w FROM segment_fts "
              "WHERE doc @@ to_tsquery('simple', :m{n})")
_COUNT_PART = ("SELECT {n} AS i, (SELECT count(*) FROM (SELECT 1 FROM segment_fts WHERE "
               "doc @@ to_tsquery('simple', :m{n}) LIMIT :cap) s) AS c")
_ANY_OF = "SELECT segment_id FROM segment_fts WHERE doc @@ to_tsquery('simple', :m) LIMIT :k"
# the statement for n tokens, n = 0 .. MAX_TOKENS (a table: no SQL text is built per query)
_BEST_SQL = tuple(_BEST_OF.format(union=_UNION.join(_BEST_PART.format(n=n) for n in range(c))) for c in range(_COUNT))
_COUNT_SQL = tuple(_UNION.join(_COUNT_PART.format(n=n) for n in range(c)) for c in range(_COUNT))
assert len(_BEST_SQL) == MAX_TOKENS + 1


def match(token: str, is_key: bool) -> str:
    """A tsquery of a word or a phonetic key (weight B: the phonetic column)."""
    return "'" + token.replace("'", "''").replace("\\", "") + "'" + (":B" if is_key else "")


class PgTsvector:
    """PostgreSQL tsvector + GIN (:class:`mmsearch.catalog.fulltext.base.Backend`)."""

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
            changed(conn)

    def delete(self, conn: Connection, segment_ids: Sequence[int]) -> None:
        for chunk in chunks(list(segment_ids)):
            conn.execute(sql("DELETE FROM segment_fts WHERE segment_id = ANY(:ids)"), {"ids": [int(i) for i in chunk]})
        if segment_ids:
            changed(conn)

    def best(self, conn: Connection, tokens: Sequence[tuple[str, bool]], weights: Sequence[float],
             limit: int) -> Iterable[tuple[int, float]]:
        if not tokens:
            return []
        params = best_params([match(t, is_key) for t, is_key in tokens], weights, limit)
        rows = conn.execute(sql(_BEST_SQL[min(len(tokens), len(weights))]), params)
        return [(int(i), float(s)) for i, s in rows.all()]

    def any_of(self, conn: Connection, tokens: Sequence[tuple[str, bool]], limit: int) -> Iterable[int]:
        rows = conn.execute(sql(_ANY_OF), {"m": " | ".join(match(t, is_key) for t, is_key in tokens),
                                           "k": int(limit)})
        return (int(i) for (i,) in rows)

    def frequencies(self, conn: Connection, tokens: Sequence[tuple[str, bool]], cap: int) -> list[int]:
        out: list[int] = []
        for n, params in count_batches([match(t, is_key) for t, is_key in tokens], cap):
            out += counts_in_order(conn.execute(sql(_COUNT_SQL[n]), params).all(), n)
        return out

    def keys_join(self) -> tuple[TableClause, ColumnElement, ColumnElement]:
        fts = table("segment_fts", column("segment_id"), column("doc"))
        b_lexemes = func.ts_filter(fts.c.doc, literal_column("'{b}'"))  # weight B: the phonetic column
        return fts, fts.c.segment_id, func.array_to_string(func.tsvector_to_array(b_lexemes), " ")
