"""Full-text index of every text the library holds, in the database's own engine.

One row per segment that carries words: its text (a note passage, caption, subtitle cue, transcript
passage), the phonetic keys of that text (:mod:`mmsearch.phonetic`, so a misheard word still matches)
and the words of its file's name. The file name goes on the segments with text, or — for a file without
text (an image, a video, a sound) — on its first segment, so a name matches once per file.

Backends by dialect (:data:`BACKENDS`), same contract: ``search`` takes a :class:`FtsQuery` and returns
:class:`FtsHit` (segment id, ``score > 0`` higher-is-better, the stored phonetic column) best first.

A query is asked in two steps (:func:`plan`), so that a library of 100k passages costs what the specific
words cost, not what "the" costs: first, ranked (bm25 / ts_rank_cd), the query's *specific* tokens — its
words and phonetic keys (of words, adjacent pairs and triples) found in fewer than ``COMMON`` segments;
then, only when that found fewer than ``limit`` segments, the other segments holding any query word or key,
in index order (no ranking: :mod:`mmsearch.ranking` orders them), each scored below every ranked hit. A
small library hands every matching segment on; a large one the best matches of its specific words first.
A token's document frequency is counted up to ``COMMON`` (a bounded scan, :class:`Frequencies`) and
remembered ``DF_TTL`` seconds per database; the word match weighs query words by it (:func:`specificity`).

- SQLite: an FTS5 table (``unicode61`` tokenizer, diacritics folded), rowid = segment id, ranked by
  ``bm25()`` with column weights text 1.0, phonetic 0.5, name 0.8.
- PostgreSQL: a ``tsvector`` per segment (``simple`` configuration: no stemming, like FTS5) with a GIN
  index, weights A (text), B (phonetic), C (name), ranked by ``ts_rank_cd``.

Rows are written and deleted by the catalog in the same transactions as their segments.
"""
from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import bindparam
from sqlalchemy import text as sql
from sqlalchemy.engine import Connection

from .phonetic import phonetic_keys as _phonetic_keys

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 32  # words of one query used for matching


COMMON = 500  # segments: a token in this many or more picks no candidates by itself (counted up to here)
DF_TTL = 300.0  # seconds a counted document frequency is reused


@dataclass(frozen=True)
class FtsQuery:
    """What the backends ask: the specific ``words``/``keys`` ranked first, then ``broad`` ones (any match)."""

    words: tuple[str, ...]  # specific words (in fewer than COMMON segments)
    keys: tuple[str, ...]  # specific phonetic keys
    broad_words: tuple[str, ...]  # every query word
    broad_keys: tuple[str, ...]  # every phonetic key of the query


@dataclass(frozen=True)
class FtsHit:
    segment_id: int
    score: float
    phonetic: str  # the stored phonetic column: the passage's keys, space-separated


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


def query_keys(query: str) -> list[str]:
    """The distinct phonetic keys of a query, in order, at most :data:`MAX_TERMS`."""
    return list(dict.fromkeys(phonetic_keys(query)))[:MAX_TERMS]


def plan(query: str, df: dict[str, int]) -> FtsQuery:
    """The two-step full-text query of ``query`` given its tokens' document frequencies (module docstring)."""
    terms, keys = query_terms(query), query_keys(query)
    return FtsQuery(tuple(t for t in terms if df.get(t, 0) < COMMON), tuple(k for k in keys if df.get(k, 0) < COMMON),
                    tuple(terms), tuple(keys))


def specificity(df: int) -> float:
    """The weight of a query word found in ``df`` segments: ``log(1 + COMMON / df)`` (an IDF that needs no
    library size: a word in 1 segment weighs 6.2, one in ``COMMON`` or more 0.69)."""
    return math.log1p(COMMON / max(1, min(df, COMMON)))


class Frequencies:
    """Document frequencies of tokens (``word`` any column, ``key`` the phonetic column), counted up to
    ``COMMON`` by the backend and remembered ``DF_TTL`` seconds per database URL."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], tuple[int, float]] = {}

    def of(self, conn: Connection, words: Sequence[str], keys: Sequence[str]) -> dict[str, int]:
        now = time.monotonic()
        url = str(conn.engine.url)
        out: dict[str, int] = {}
        missing: list[tuple[str, bool]] = []
        for token, is_key in [(w, False) for w in words] + [(k, True) for k in keys]:
            cached = self._seen.get((url, ("k:" if is_key else "w:") + token))
            if cached is not None and now - cached[1] < DF_TTL:
                out[token] = max(out.get(token, 0), cached[0])
            else:
                missing.append((token, is_key))
        if missing:
            counted = backend(conn).frequencies(conn, missing, COMMON)
            if len(self._seen) > 100_000:
                self._seen.clear()
            for (token, is_key), n in zip(missing, counted):
                self._seen[(url, ("k:" if is_key else "w:") + token)] = (n, now)
                out[token] = max(out.get(token, 0), n)
        return out


FREQUENCIES = Frequencies()


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
    def search(self, conn: Connection, query: FtsQuery, limit: int) -> list[FtsHit]: ...
    def frequencies(self, conn: Connection, tokens: Sequence[tuple[str, bool]], cap: int) -> list[int]: ...


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

    def search(self, conn: Connection, query: FtsQuery, limit: int) -> list[FtsHit]:
        hits: list[FtsHit] = []
        if query.words or query.keys:
            match = _fts5_any(query.words, query.keys)
            rows = conn.execute(
                sql("SELECT rowid, bm25(segment_fts, 1.0, 0.5, 0.8) AS r, phonetic FROM segment_fts "
                    "WHERE segment_fts MATCH :m ORDER BY r LIMIT :k"),
                {"m": match, "k": int(limit)},
            )
            hits = [FtsHit(int(i), -float(r), p or "") for i, r, p in rows]
        broad = "SELECT rowid, phonetic FROM segment_fts WHERE segment_fts MATCH :m LIMIT :k"
        return _fill_broad(conn, hits, limit, broad, _fts5_any(query.broad_words, query.broad_keys)
                           if query.broad_words else "")

    def frequencies(self, conn: Connection, tokens: Sequence[tuple[str, bool]], cap: int) -> list[int]:
        """Segments holding each token (a key: in the phonetic column), counted up to ``cap``: one statement."""
        return _count_each(conn, [("phonetic : " if is_key else "") + _fts5_quote(t) for t, is_key in tokens], cap,
                           "segment_fts MATCH {p}")


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

    def search(self, conn: Connection, query: FtsQuery, limit: int) -> list[FtsHit]:
        hits: list[FtsHit] = []
        keys = "array_to_string(tsvector_to_array(ts_filter(doc, '{b}')), ' ')"  # the B (phonetic) lexemes
        if query.words or query.keys:
            rows = conn.execute(
                sql(f"SELECT segment_id, ts_rank_cd(doc, q) AS r, {keys} FROM segment_fts, "
                    "to_tsquery('simple', :q) q WHERE doc @@ q ORDER BY r DESC, segment_id LIMIT :k"),
                {"q": _pg_any(query.words, query.keys), "k": int(limit)},
            )
            hits = [FtsHit(int(i), float(r), p or "") for i, r, p in rows if r > 0]
        broad = f"SELECT segment_id, {keys} FROM segment_fts WHERE doc @@ to_tsquery('simple', :m) LIMIT :k"
        return _fill_broad(conn, hits, limit, broad, _pg_any(query.broad_words, query.broad_keys)
                           if query.broad_words else "")

    def frequencies(self, conn: Connection, tokens: Sequence[tuple[str, bool]], cap: int) -> list[int]:
        """Segments holding each token (a key: with weight B), counted up to ``cap``: one statement."""
        return _count_each(conn, [_pg_lexeme(t) + (":B" if is_key else "") for t, is_key in tokens], cap,
                           "doc @@ to_tsquery('simple', {p})")


def _fill_broad(conn: Connection, hits: list[FtsHit], limit: int, statement: str, match: str) -> list[FtsHit]:
    """``hits`` filled up to ``limit`` with the segments holding the query's common words (unranked, below
    every ranked hit): ``statement`` selects (id, phonetic keys) for the match ``:m`` and a limit ``:k``; an
    empty ``match``: none to add."""
    if len(hits) >= limit or not match:
        return hits
    rows = conn.execute(sql(statement), {"m": match, "k": int(limit) + len(hits)})
    return _fill(hits, ((int(i), p or "") for i, p in rows), limit)


def _count_each(conn: Connection, matches: Sequence[str], cap: int, holds: str) -> list[int]:
    """How many segments match each of ``matches`` (counted up to ``cap``), in one UNION ALL statement;
    ``holds`` is the dialect's condition with ``{p}`` where a match's parameter goes."""
    parts: list[str] = []
    params: dict[str, int | str] = {"cap": int(cap)}
    for n, match in enumerate(matches):
        params[f"m{n}"] = match
        parts.append(f"SELECT {n} AS i, (SELECT count(*) FROM (SELECT 1 FROM segment_fts WHERE "
                     f"{holds.format(p=f':m{n}')} LIMIT :cap) s) AS c")
    counts: dict[int, int] = {}
    if parts:
        counts = {int(i): int(c) for i, c in conn.execute(sql(" UNION ALL ".join(parts)), params)}
    return [int(counts.get(n, 0)) for n in range(len(matches))]


def _fts5_quote(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def _fts5_any(words: Sequence[str], keys: Sequence[str]) -> str:
    """An FTS5 MATCH of any word (any column) or any key (phonetic column)."""
    return " OR ".join([_fts5_quote(w) for w in words] + ["phonetic : " + _fts5_quote(k) for k in keys])


def _pg_lexeme(term: str) -> str:
    return "'" + term.replace("'", "''").replace("\\", "") + "'"


def _pg_any(words: Sequence[str], keys: Sequence[str]) -> str:
    """A tsquery of any word or any key (weight B: the phonetic column)."""
    return " | ".join([_pg_lexeme(w) for w in words] + [_pg_lexeme(k) + ":B" for k in keys])


def _fill(hits: list[FtsHit], more: Iterable[tuple[int, str]], limit: int) -> list[FtsHit]:
    """``hits`` topped up to ``limit`` with unranked segments (not already there), scored below every hit."""
    seen = {h.segment_id for h in hits}
    floor = min((h.score for h in hits), default=1.0) / 2
    out = list(hits)
    for seg_id, phonetic in more:
        if len(out) >= limit:
            break
        if seg_id not in seen:
            seen.add(seg_id)
            out.append(FtsHit(seg_id, floor, phonetic))
    return out


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
