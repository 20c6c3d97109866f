"""Full-text index of every text the library holds, in the database's own engine.

One row per segment that carries words: its text (a note passage, caption, subtitle cue, transcript
passage), the phonetic keys of that text (:mod:`mmsearch.analysis.tokens`, so a misheard word still matches)
and the words of its file's name. The file name goes on the segments with text, or — for a file without
text (an image, a video, a sound) — on its first segment, so a name matches once per file.

Backends by dialect (:data:`mmsearch.catalog.fulltext.BACKENDS`, one module each: ``sqlite.py``,
``postgresql.py``, each holding its own SQL), same contract: they list postings (which segments hold a token),
count document frequencies and join a segment's stored phonetic column; :func:`search` ranks the same way
on both and returns :class:`FtsHit` (segment id, ``score > 0`` higher-is-better) best first.

A query arrives analysed (:class:`~mmsearch.catalog.records.QueryWords`, mmsearch/query/words.py) and is
asked in two steps (:func:`plan`), so that a library of 100k passages costs what the specific
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

import math
from collections.abc import Iterable, Sequence
from typing import Protocol

from sqlalchemy import text as sql
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import TableClause

from mmsearch.catalog.records import MAX_TERMS, FtsHit, FtsQuery, FtsRow, QueryWords

COMMON = 500  # segments: a token in this many or more picks no candidates by itself (counted up to here)
GENERATION = "fulltext_generation"  # the meta row bumped by every change of the full-text rows
MAX_TOKENS = 2 * MAX_TERMS  # tokens of one query: its words and its phonetic keys


def plan(query: QueryWords, df: dict[str, int]) -> FtsQuery:
    """The two-step full-text query of ``query`` given its tokens' document frequencies (module docstring)."""
    def found(token: str) -> bool:  # a token no segment holds asks for nothing (one not counted: asked)
        return df.get(token, 1) > 0

    terms = [t for t in query.terms if found(t)]
    keys = [k for k in query.keys if found(k)]
    words = tuple(t for t in terms if df.get(t, 0) < COMMON)
    specific_keys = tuple(k for k in keys if df.get(k, 0) < COMMON)
    return FtsQuery(words, specific_keys, tuple(terms), tuple(keys),
                    tuple(specificity(df.get(t, 0)) for t in words + specific_keys))


def search(conn: Connection, be: Backend, query: FtsQuery, limit: int, fill: int | None = None) -> list[FtsHit]:
    """Up to ``limit`` ranked segments for ``query`` in the backend ``be``, best first, topped up to ``fill``
    (default ``limit``) with unranked ones (the module docstring)."""
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

    def of(self, conn: Connection, be: Backend, words: Sequence[str], keys: Sequence[str]) -> dict[str, int]:
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
            for (token, is_key), n in zip(missing, be.frequencies(conn, missing, COMMON)):
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


class Backend(Protocol):
    def create(self, conn: Connection) -> None: ...
    def insert(self, conn: Connection, rows: Sequence[FtsRow]) -> None: ...
    def delete(self, conn: Connection, segment_ids: Sequence[int]) -> None: ...
    def best(self, conn: Connection, tokens: Sequence[tuple[str, bool]], weights: Sequence[float],
             limit: int) -> Iterable[tuple[int, float]]:
        """The ``limit`` segments with the highest summed ``weights`` of the ``tokens`` they hold (a key: in the
        phonetic column), as (segment id, sum), best first, ties to the smaller id; one statement (the database
        sums: a query's postings never cross into Python), at most :data:`MAX_TOKENS` tokens."""
        ...

    def any_of(self, conn: Connection, tokens: Sequence[tuple[str, bool]], limit: int) -> Iterable[int]:
        """Up to ``limit`` segments holding any of ``tokens``, in index order."""
        ...

    def frequencies(self, conn: Connection, tokens: Sequence[tuple[str, bool]], cap: int) -> list[int]:
        """Segments holding each token (a key: in the phonetic column), counted up to ``cap``: one UNION ALL
        statement per :data:`MAX_TOKENS` tokens."""
        ...

    def keys_join(self) -> tuple[TableClause, ColumnElement, ColumnElement]:
        """What joins a segment to its stored phonetic keys: (table, its segment id column, the keys as one
        space-separated string)."""
        ...


# The shape of the reading statements both backends share (each builds its own from its parts, as constants):
# a part per token ``{n}`` (match parameter ``:m{n}``, weight ``:w{n}``), joined into one UNION ALL.
def best_params(matches: Sequence[str], weights: Sequence[float], limit: int) -> dict[str, str | float | int]:
    """The parameters of a backend's ranked statement for ``matches`` (at most :data:`MAX_TOKENS`)."""
    if len(matches) > MAX_TOKENS:
        raise ValueError(f"{len(matches)} full-text tokens in one query; at most {MAX_TOKENS}")
    params: dict[str, str | float | int] = {"k": int(limit)}
    for n, (match, weight) in enumerate(zip(matches, weights)):
        params[f"m{n}"], params[f"w{n}"] = match, float(weight)
    return params


def count_batches(matches: Sequence[str], cap: int) -> Iterable[tuple[int, dict[str, int | str]]]:
    """(how many, parameters) of each counting statement for ``matches``: :data:`MAX_TOKENS` at a time."""
    for start in range(0, len(matches), MAX_TOKENS):
        chunk = matches[start:start + MAX_TOKENS]
        yield len(chunk), {"cap": int(cap), **{f"m{n}": match for n, match in enumerate(chunk)}}


def counts_in_order(rows: Iterable[tuple[int, int]], n: int) -> list[int]:
    """A counting statement's (index, count) rows as the list of ``n`` counts."""
    counts = {int(i): int(c) for i, c in rows}
    return [int(counts.get(i, 0)) for i in range(n)]


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

