"""Full-text index of every text the library holds, in the database's own engine.

One row per segment that carries words: its text (a note passage, caption, subtitle cue, transcript
passage), the phonetic keys of that text (:mod:`mmsearch.analysis.phonetic`, so a misheard word still matches)
and the words of its file's name. The file name goes on the segments with text, or — for a file without
text (an image, a video, a sound) — on its first segment, so a name matches once per file.

Backends by dialect (:data:`BACKENDS`), same contract: they list postings (which segments hold a token),
count document frequencies and join a segment's stored phonetic column; :func:`search` ranks the same way
on both and returns :class:`FtsHit` (segment id, ``score > 0`` higher-is-better) best first.

A query is asked in two steps (:func:`plan`), so that a library of 100k passages costs what the specific
words cost, not what "the" costs: first, ranked, the query's *specific* tokens — its words and phonetic
keys (of words, adjacent pairs and triples) found in fewer than ``COMMON`` segments, up to ``limit``; then,
only when that found fewer than ``fill`` segments (default ``limit``), other segments holding any query word
or key up to ``fill`` in all, in index order (no ranking: :mod:`mmsearch.query.ranking` orders them), each scored
below every ranked hit. A small library hands every matching segment on; a large one the best matches of
its specific words first. Segments found by common words alone are arbitrary among thousands, so a search
tops up to its ``k`` with them, not more (each costs a row read and a word match).
A token's document frequency is counted up to ``COMMON`` (a bounded scan, :class:`Frequencies`) and
remembered per database until the full text changes: every insert or delete of full-text rows bumps a
generation (``meta.fulltext_generation``) in its own transaction, read once per query. The counts are
therefore exact, so a token found in no segment is left out of the query (of a long query's words, pairs
and triples most are: each costs a MATCH), and the word match weighs query words by them
(:func:`specificity`).

The ranked step scores a segment by the summed :func:`specificity` of the specific tokens it holds (an IDF
coordinate match), ties to the older segment. Not bm25 / ts_rank_cd: those read every matching row's
length (FTS5: one lookup per row, ~6 us; 5 ms for a query matching 600 rows of 100k), and what they add —
term frequency, length — :mod:`mmsearch.query.ranking` weighs itself on the candidates (``precision``); the
postings alone cost ~2 us a row (docs/benchmarks.md, bench_text_search latency).

- SQLite: an FTS5 table (``unicode61`` tokenizer, diacritics folded), rowid = segment id.
- PostgreSQL: a ``tsvector`` per segment (``simple`` configuration: no stemming, like FTS5) with a GIN
  index, weights A (text), B (phonetic), C (name).

Rows are written and deleted by the catalog in the same transactions as their segments.
"""
from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import bindparam, column, func, literal_column, table
from sqlalchemy import text as sql
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import TableClause

from mmsearch.analysis.phonetic import phonetic_keys as _phonetic_keys

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 32  # words of one query used for matching


COMMON = 500  # segments: a token in this many or more picks no candidates by itself (counted up to here)
GENERATION = "fulltext_generation"  # the meta row bumped by every change of the full-text rows


@dataclass(frozen=True)
class FtsQuery:
    """What a search asks: the specific ``words``/``keys`` ranked first, then ``broad`` ones (any match)."""

    words: tuple[str, ...]  # specific words (in fewer than COMMON segments)
    keys: tuple[str, ...]  # specific phonetic keys
    broad_words: tuple[str, ...]  # every query word
    broad_keys: tuple[str, ...]  # every phonetic key of the query
    weights: tuple[float, ...] = ()  # specificity of each of words + keys, in that order (default 1 each)

    def tokens(self) -> list[tuple[str, bool]]:
        """The specific tokens as (token, is a phonetic key), words first."""
        return [(w, False) for w in self.words] + [(k, True) for k in self.keys]


@dataclass(frozen=True)
class FtsHit:
    segment_id: int
    score: float


@dataclass(frozen=True)
class FtsRow:
    segment_id: int
    text: str
    phonetic: str
    name: str


def words(text: str | None) -> list[str]:
    """Lower-case word tokens, as both backends' tokenizers see them (``_`` splits words here)."""
    return _WORD.findall((text or "").lower().replace("_", " "))


def phonetic_keys(text: str) -> list[str]:
    """The phonetic keys of a text's words and adjacent word pairs (:func:`mmsearch.analysis.phonetic.phonetic_keys`),
    lower-cased as both backends store them."""
    return [k.lower() for k in _phonetic_keys(text or "")]


def query_keys(query: str) -> list[str]:
    """The distinct phonetic keys of a query, in order, at most :data:`MAX_TERMS`."""
    return list(dict.fromkeys(phonetic_keys(query)))[:MAX_TERMS]


def plan(query: str, df: dict[str, int]) -> FtsQuery:
    """The two-step full-text query of ``query`` given its tokens' document frequencies (module docstring)."""
    def found(token: str) -> bool:  # a token no segment holds asks for nothing (one not counted: asked)
        return df.get(token, 1) > 0

    terms = [t for t in query_terms(query) if found(t)]
    keys = [k for k in query_keys(query) if found(k)]
    words = tuple(t for t in terms if df.get(t, 0) < COMMON)
    specific_keys = tuple(k for k in keys if df.get(k, 0) < COMMON)
    return FtsQuery(words, specific_keys, tuple(terms), tuple(keys),
                    tuple(specificity(df.get(t, 0)) for t in words + specific_keys))


def search(conn: Connection, query: FtsQuery, limit: int, fill: int | None = None) -> list[FtsHit]:
    """Up to ``limit`` ranked segments for ``query``, best first, topped up to ``fill`` (default ``limit``)
    with unranked ones (the module docstring)."""
    be = backend(conn)
    tokens = query.tokens()
    weights = query.weights if len(query.weights) == len(tokens) else (1.0,) * len(tokens)
    hits = [FtsHit(int(i), float(score)) for i, score in be.best(conn, tokens, weights, int(limit))] if tokens else []
    wanted = int(limit) if fill is None else min(int(limit), int(fill))
    if len(hits) >= wanted or not query.broad_words:
        return hits
    broad = [(w, False) for w in query.broad_words] + [(k, True) for k in query.broad_keys]
    return _fill(hits, be.any_of(conn, broad, wanted + len(hits)), wanted)


def specificity(df: int) -> float:
    """The weight of a query word found in ``df`` segments: ``log(1 + COMMON / df)`` (an IDF that needs no
    library size: a word in 1 segment weighs 6.2, one in ``COMMON`` or more 0.69)."""
    return math.log1p(COMMON / max(1, min(df, COMMON)))


class Frequencies:
    """Document frequencies of tokens (``word`` any column, ``key`` the phonetic column), counted up to
    ``COMMON`` by the backend and remembered per database URL while its full-text generation stands."""

    MAX_TOKENS = 100_000  # remembered per database; past that the memory starts again

    def __init__(self) -> None:
        self._seen: dict[str, tuple[int, dict[str, int]]] = {}

    def of(self, conn: Connection, words: Sequence[str], keys: Sequence[str]) -> dict[str, int]:
        url = str(conn.engine.url)
        now = generation(conn)  # read before counting: a write after it bumps it and drops these counts
        held = self._seen.get(url)
        if held is None or held[0] != now or len(held[1]) > self.MAX_TOKENS:
            held = self._seen[url] = (now, {})
        seen = held[1]
        out: dict[str, int] = {}
        missing: list[tuple[str, bool]] = []
        for token, is_key in [(w, False) for w in words] + [(k, True) for k in keys]:
            cached = seen.get(("k:" if is_key else "w:") + token)
            if cached is not None:
                out[token] = max(out.get(token, 0), cached)
            else:
                missing.append((token, is_key))
        if missing:
            for (token, is_key), n in zip(missing, backend(conn).frequencies(conn, missing, COMMON)):
                seen[("k:" if is_key else "w:") + token] = n
                out[token] = max(out.get(token, 0), n)
        return out


def generation(conn: Connection) -> int:
    """The full-text generation of the database (0 before its first change)."""
    value = conn.execute(sql("SELECT value FROM meta WHERE key = :k"), {"k": GENERATION}).scalar()
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def changed(conn: Connection) -> None:
    """Bump the full-text generation, in the caller's transaction (one writer at a time: the library lock)."""
    bumped = conn.execute(sql("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = :k"),
                          {"k": GENERATION})
    if not bumped.rowcount:
        conn.execute(sql("INSERT INTO meta (key, value) VALUES (:k, '1')"), {"k": GENERATION})


FREQUENCIES = Frequencies()


def phonetic_text(text: str) -> str:
    """The phonetic column of a text: its keys, space-separated."""
    return " ".join(phonetic_keys(text))


ALTERNATIVES = "alternatives"  # the key of a segment's detail JSON listing other readings of its text


def phonetic_column(text: str, detail: str | None = None) -> str:
    """The phonetic column of a segment: the keys of its text, then those of the other readings its ``detail``
    JSON lists under ``alternatives`` (a recogniser's next-best hypotheses) that are not already there. Their
    words are heard, not read: they match by sound only, never as exact words."""
    keys = phonetic_keys(text)
    others = alternatives(detail)
    if others:
        seen = set(keys)
        for other in others:
            for key in phonetic_keys(other):
                if key not in seen:
                    seen.add(key)
                    keys.append(key)
    return " ".join(keys)


def alternatives(detail: str | None) -> list[str]:
    """The ``alternatives`` a segment's ``detail`` JSON lists ([] for none or for detail that is not JSON)."""
    if not detail or ALTERNATIVES not in detail:
        return []
    try:
        found = json.loads(detail).get(ALTERNATIVES)
    except (ValueError, AttributeError):
        return []
    return [str(a) for a in found] if isinstance(found, list) else []


def name_words(path: str) -> str:
    """The searchable words of a file's name: ``meeting_budget-2024.ogg`` -> ``meeting budget 2024``."""
    return " ".join(name_tokens(path))


def name_tokens(path: str) -> list[str]:
    """:func:`name_words` as a list."""
    return words(os.path.splitext(os.path.basename(path))[0])


class Backend(Protocol):
    def create(self, conn: Connection) -> None: ...
    def insert(self, conn: Connection, rows: Sequence[FtsRow]) -> None: ...
    def delete(self, conn: Connection, segment_ids: Sequence[int]) -> None: ...
    def best(self, conn: Connection, tokens: Sequence[tuple[str, bool]], weights: Sequence[float],
             limit: int) -> Iterable[tuple[int, float]]:
        """The ``limit`` segments with the highest summed ``weights`` of the ``tokens`` they hold (a key: in the
        phonetic column), as (segment id, sum), best first, ties to the smaller id."""
        ...

    def any_of(self, conn: Connection, tokens: Sequence[tuple[str, bool]], limit: int) -> Iterable[int]:
        """Up to ``limit`` segments holding any of ``tokens``, in index order."""
        ...

    def frequencies(self, conn: Connection, tokens: Sequence[tuple[str, bool]], cap: int) -> list[int]: ...

    def keys_join(self) -> tuple[TableClause, ColumnElement, ColumnElement]:
        """What joins a segment to its stored phonetic keys: (table, its segment id column, the keys as one
        space-separated string)."""
        ...


def _fts5_quote(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def _fts5_match(token: str, is_key: bool) -> str:
    """An FTS5 MATCH of a word (any column) or a phonetic key (the phonetic column)."""
    return ("phonetic : " if is_key else "") + _fts5_quote(token)


def _pg_lexeme(term: str) -> str:
    return "'" + term.replace("'", "''").replace("\\", "") + "'"


def _pg_match(token: str, is_key: bool) -> str:
    """A tsquery of a word or a phonetic key (weight B: the phonetic column)."""
    return _pg_lexeme(token) + (":B" if is_key else "")


MAX_TOKENS = 2 * MAX_TERMS  # tokens of one query: its words and its phonetic keys

# The reading statements by dialect, SQL text built from these constants only (values go in parameters):
# a part per token ``{n}`` (match parameter ``:m{n}``, weight ``:w{n}``), joined into one UNION ALL.
_UNION = " UNION ALL "
_BEST_OF = "SELECT i, sum(w) AS s FROM ({union}) p GROUP BY i ORDER BY s DESC, i LIMIT :k"
_BEST_PART = {
    "sqlite": "SELECT rowid AS i, :w{n} AS w FROM segment_fts WHERE segment_fts MATCH :m{n}",
    "postgresql": "SELECT segment_id AS i, CAST(:w{n} AS DOUBLE PRECISION) AS w FROM segment_fts "
                  "WHERE doc @@ to_tsquery('simple', :m{n})",
}
_COUNT_PART = {
    "sqlite": "SELECT {n} AS i, (SELECT count(*) FROM (SELECT 1 FROM segment_fts WHERE "
              "segment_fts MATCH :m{n} LIMIT :cap) s) AS c",
    "postgresql": "SELECT {n} AS i, (SELECT count(*) FROM (SELECT 1 FROM segment_fts WHERE "
                  "doc @@ to_tsquery('simple', :m{n}) LIMIT :cap) s) AS c",
}
_ANY_OF = {
    "sqlite": "SELECT rowid FROM segment_fts WHERE segment_fts MATCH :m LIMIT :k",
    "postgresql": "SELECT segment_id FROM segment_fts WHERE doc @@ to_tsquery('simple', :m) LIMIT :k",
}
# dialect -> the statement for n tokens, n = 0 .. MAX_TOKENS (a table: no SQL text is built per query)
_BEST_SQL = {dialect: tuple(_BEST_OF.format(union=_UNION.join(part.format(n=n) for n in range(count)))
                            for count in range(MAX_TOKENS + 1)) for dialect, part in _BEST_PART.items()}
_COUNT_SQL = {dialect: tuple(_UNION.join(part.format(n=n) for n in range(count))
                             for count in range(MAX_TOKENS + 1)) for dialect, part in _COUNT_PART.items()}


class _Queries:
    """The reading statements of a backend (``DIALECT``: its key in the statement tables above), ``OR``
    (what joins matches into one) and ``match`` (a token as a match)."""

    DIALECT = OR = ""

    @staticmethod
    def match(token: str, is_key: bool) -> str:
        raise NotImplementedError

    def best(self, conn: Connection, tokens: Sequence[tuple[str, bool]], weights: Sequence[float],
             limit: int) -> Iterable[tuple[int, float]]:
        return _best(conn, [self.match(t, is_key) for t, is_key in tokens], weights, limit, self.DIALECT)

    def any_of(self, conn: Connection, tokens: Sequence[tuple[str, bool]], limit: int) -> Iterable[int]:
        rows = conn.execute(sql(_ANY_OF[self.DIALECT]),
                            {"m": self.OR.join(self.match(t, is_key) for t, is_key in tokens), "k": int(limit)})
        return (int(i) for (i,) in rows)

    def frequencies(self, conn: Connection, tokens: Sequence[tuple[str, bool]], cap: int) -> list[int]:
        """Segments holding each token (a key: in the phonetic column), counted up to ``cap``: one statement."""
        return _count_each(conn, [self.match(t, is_key) for t, is_key in tokens], cap, self.DIALECT)


class Fts5(_Queries):
    """SQLite FTS5."""

    DIALECT, OR = "sqlite", " OR "
    match = staticmethod(_fts5_match)

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
            changed(conn)

    def delete(self, conn: Connection, segment_ids: Sequence[int]) -> None:
        statement = sql("DELETE FROM segment_fts WHERE rowid IN :ids").bindparams(bindparam("ids", expanding=True))
        for chunk in _chunks([int(i) for i in segment_ids], 900):
            conn.execute(statement, {"ids": chunk})
        if segment_ids:
            changed(conn)

    def keys_join(self) -> tuple[TableClause, ColumnElement, ColumnElement]:
        fts = table("segment_fts", column("rowid"), column("phonetic"))
        return fts, fts.c.rowid, fts.c.phonetic


class PgTsvector(_Queries):
    """PostgreSQL tsvector + GIN."""

    DIALECT, OR = "postgresql", " | "
    match = staticmethod(_pg_match)

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
        for chunk in _chunks(list(segment_ids), 900):
            conn.execute(sql("DELETE FROM segment_fts WHERE segment_id = ANY(:ids)"), {"ids": [int(i) for i in chunk]})
        if segment_ids:
            changed(conn)

    def keys_join(self) -> tuple[TableClause, ColumnElement, ColumnElement]:
        fts = table("segment_fts", column("segment_id"), column("doc"))
        b_lexemes = func.ts_filter(fts.c.doc, literal_column("'{b}'"))  # weight B: the phonetic column
        return fts, fts.c.segment_id, func.array_to_string(func.tsvector_to_array(b_lexemes), " ")


def _best(conn: Connection, matches: Sequence[str], weights: Sequence[float], limit: int,
          dialect: str) -> list[tuple[int, float]]:
    """The ``limit`` segments with the highest summed weight of the ``matches`` they satisfy, one statement
    (the database sums: a query's postings never cross into Python); at most :data:`MAX_TOKENS` matches."""
    if not matches:
        return []
    if len(matches) > MAX_TOKENS:
        raise ValueError(f"{len(matches)} full-text tokens in one query; at most {MAX_TOKENS}")
    params: dict[str, str | float | int] = {"k": int(limit)}
    for n, (match, weight) in enumerate(zip(matches, weights)):
        params[f"m{n}"], params[f"w{n}"] = match, float(weight)
    rows = conn.execute(sql(_BEST_SQL[dialect][min(len(matches), len(weights))]), params)
    return [(int(i), float(s)) for i, s in rows.all()]


def _count_each(conn: Connection, matches: Sequence[str], cap: int, dialect: str) -> list[int]:
    """How many segments match each of ``matches`` (counted up to ``cap``), one UNION ALL statement per
    :data:`MAX_TOKENS` matches."""
    out: list[int] = []
    for start in range(0, len(matches), MAX_TOKENS):
        chunk = matches[start:start + MAX_TOKENS]
        params: dict[str, int | str] = {"cap": int(cap), **{f"m{n}": match for n, match in enumerate(chunk)}}
        counts = {int(i): int(c) for i, c in conn.execute(sql(_COUNT_SQL[dialect][len(chunk)]), params)}
        out += [int(counts.get(n, 0)) for n in range(len(chunk))]
    return out


def _fill(hits: list[FtsHit], more: Iterable[int], limit: int) -> list[FtsHit]:
    """``hits`` topped up to ``limit`` with unranked segments (not already there), scored below every hit."""
    seen = {h.segment_id for h in hits}
    floor = min((h.score for h in hits), default=1.0) / 2
    out = list(hits)
    for seg_id in more:
        if len(out) >= limit:
            break
        if seg_id not in seen:
            seen.add(seg_id)
            out.append(FtsHit(seg_id, floor))
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
