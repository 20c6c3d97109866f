"""A query's candidates: encode per space -> index candidates -> catalog join + filters -> calibrate, and the
word candidates of the full-text index on the same calibrated scale. The tools the entry points
(:mod:`mmsearch.query.search`), a mixed query (:mod:`mmsearch.query.mix`) and a file as a query
(:mod:`mmsearch.query.examples`) share; the rules live in :mod:`mmsearch.query.ranking`.

A text query is encoded once per space of the library that takes text and every such space is
searched. Each space is asked for ``max(4k, k+32)`` candidates, growing x4 until enough hits survive
the filters (kind, path, excluded files, when and where) or the space is exhausted. Every function takes the
query's :class:`~mmsearch.query.spaces.QuerySpaces` (one reading of the spaces per query); ``None`` reads
them afresh (a caller outside a query: a benchmark).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from mmsearch.analysis import tokens
from mmsearch.catalog.fulltext.base import specificity
from mmsearch.catalog.records import SegmentRow, SpaceRow, WordRow
from mmsearch.context import Context
from mmsearch.errors import ModelUnavailableError
from mmsearch.kinds import READ_KINDS, SegmentKind
from mmsearch.query.ranking import (
    FULLTEXT,
    SHORT_PASSAGE,
    Candidate,
    Filters,
    WordMatch,
    as_moment,
    candidates,
    group,
    word_match,
)
from mmsearch.query.spaces import QuerySpaces
from mmsearch.query.words import analyse


def text_queries(ctx: Context, text: str, spaces: QuerySpaces | None = None) -> dict[str, np.ndarray]:
    """The query encoded once per space of the library that takes text (recent ones remembered)."""
    out = {}
    for space in (spaces or QuerySpaces(ctx)).rows.values():
        ctx.models.follow(space)
        try:
            vector = ctx.models.text_vector(space.name, text)
        except ModelUnavailableError as exc:  # the other spaces and the words still answer (mmsearch.pending)
            ctx.models.mark_unavailable(space.name, exc)
            continue
        if vector is not None:
            out[space.name] = vector
    return out


def candidates_per_space(ctx: Context, queries: dict[str, np.ndarray], k: int, filters: Filters,
                         spaces: QuerySpaces | None = None) -> list[list[Candidate]]:
    """Calibrated candidates of each queried space (:func:`space_candidates`), one list per space."""
    spaces = spaces or QuerySpaces(ctx)
    out = []
    for name, vector in queries.items():
        space = spaces.named(name)
        if space is not None:
            out.append(space_candidates(ctx, space, vector, k, filters, spaces))
    return out


def space_candidates(ctx: Context, space: SpaceRow, vector: np.ndarray, k: int, filters: Filters,
                     spaces: QuerySpaces | None = None) -> list[Candidate]:
    """Calibrated candidates of one space, enough of them to give ``k`` hits after filtering and grouping."""
    spaces = spaces or QuerySpaces(ctx)
    index = spaces.index(space)
    total = index.ntotal
    if total == 0:
        return []
    background = spaces.background(space, vector)
    keep = filters.matcher()
    fetch = min(total, max(4 * k, k + 32))
    while True:
        scores, ids = index.search(vector[None, :], fetch)
        found = [i for i in ids[0] if i >= 0]
        cands = candidates(scores[0], ids[0], ctx.catalog.segments(found, filters.where), background, space.name,
                           keep)
        if len(group(cands)) >= k or fetch >= total:
            return cands
        fetch = min(total, fetch * 4)


WORD_CANDIDATES = 64  # full-text hits a query hands to the word match (at least; 4k when k is larger)
WORD_WEIGHTS: Callable[[int], float] = specificity  # a query word's weight from its document frequency


def word_candidates(ctx: Context, query: str, queries: dict[str, np.ndarray], filters: Filters, k: int,
                    spaces: QuerySpaces | None = None) -> dict[int, tuple[WordMatch, Candidate]]:
    """Segments whose words (text, file name, phonetic keys) match the query, from the full-text index,
    each with its word match and its semantic score where it has a vector in a queried space.

    The index hands on its best ``max(WORD_CANDIDATES, 4k)`` segments, topped up to ``k`` with unranked ones
    holding only common words (:func:`mmsearch.catalog.fulltext.base.search`); their rows, stored vectors and
    phonetic keys come in one statement."""
    analysed = analyse(query)  # once: the full-text read and the word match take it
    terms = analysed.terms
    found, df = ctx.catalog.fulltext_hits(analysed, limit=max(WORD_CANDIDATES, 4 * k), fill=k)
    if not terms or not found:
        return {}
    spaces = spaces or QuerySpaces(ctx)
    rows = ctx.catalog.word_rows([h.segment_id for h in found], filters.where)
    keep = filters.matcher()
    term_keys = analysed.term_keys
    weights = [WORD_WEIGHTS(df.get(t, 0)) for t in terms]
    matched: list[tuple[WordMatch, WordRow, SegmentRow]] = []
    for hit in found:
        got = rows.get(hit.segment_id)
        if got is None:
            continue
        moment = as_moment(got.row)
        if not keep(moment):
            continue
        # text read from pixels: matched read apart, and as read (the full text holds both)
        said = tokens.words(tokens.passage(got.row.text, got.row.kind in READ_KINDS))
        words = set(said).union(tokens.words(got.row.text), tokens.name_tokens(got.row.path))
        keys = got.keys.split()
        # a short transcript passage's near sounds are measured against its own text's keys, not against its
        # other readings' (only speech has those: other rows' stored keys are their text's)
        heard = (tokens.phonetic_keys(got.row.text or "")
                 if got.row.kind == SegmentKind.SPEECH and len(said) <= SHORT_PASSAGE else None)
        match = word_match(terms, words, term_keys, keys, len(said), weights, heard)
        if match.coverage:
            matched.append((match, got, moment))
    scored = _semantic(spaces, [got for _, got, _ in matched], queries)
    out: dict[int, tuple[WordMatch, Candidate]] = {}
    for match, got, moment in matched:
        score, cosine, name = scored[got.row.id]
        out[got.row.id] = (match, Candidate(score, cosine, moment, name, frozenset()))
    return out


def _semantic(spaces: QuerySpaces, found: Sequence[WordRow],
              queries: dict[str, np.ndarray]) -> dict[int, tuple[float, float, str]]:
    """(calibrated score, cosine, space name) of each word match by its stored vector where that is in a
    queried space, else (0, 0, ``fulltext``); one product per space."""
    out = {got.row.id: (0.0, 0.0, FULLTEXT) for got in found}
    by_space: dict[int, list[WordRow]] = {}
    for got in found:
        if got.row.space_id is not None:
            by_space.setdefault(got.row.space_id, []).append(got)
    for space_id, group_rows in by_space.items():
        space = spaces.by_id(space_id)
        if space is None:
            continue
        name, dim = space.name, space.dim
        out.update({got.row.id: (0.0, 0.0, name) for got in group_rows})
        query = queries.get(name)
        usable = [got for got in group_rows if got.vector is not None and len(got.vector) == 2 * dim]
        if query is None or not usable:
            continue
        stored = np.frombuffer(b"".join(bytes(got.vector or b"") for got in usable), dtype=np.float16)
        cosines = stored.reshape(len(usable), dim).astype(np.float32) @ query
        calibration = spaces.background(space, query)
        for got, cosine in zip(usable, cosines.tolist()):
            out[got.row.id] = (calibration(got.row).calibrate(cosine), cosine, name)
    return out

