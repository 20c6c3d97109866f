"""Queries over a library: encode per space -> index candidates -> catalog join + filters -> calibrate ->
merge -> group. Functions of a :class:`~mmsearch.context.Context`; the rules live in :mod:`mmsearch.ranking`.

A text query is encoded once per space of the library that takes text and every such space is
searched. Each space is asked for ``max(4k, k+32)`` candidates, growing x4 until enough hits survive
the filters (kind, path, excluded files, when and where) or the space is exhausted. A query runs on one CPU thread
(:mod:`mmsearch.threads`).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmsearch.analysis import tokens
from mmsearch.catalog.fulltext.base import specificity
from mmsearch.catalog.records import SegmentRow, SpaceRow, WordRow
from mmsearch.context import Context
from mmsearch.errors import MmsearchError, ModelUnavailableError, NotFoundError
from mmsearch.hits import Hit
from mmsearch.kinds import MediaKind, SegmentKind, Space, parse_kinds
from mmsearch.query.when_where import WhenWhere
from mmsearch.query.words import analyse
from mmsearch.query_mix import LIKE_WEIGHT, ParsedQuery, excluded_by_words, parse_query
from mmsearch.query_spaces import QuerySpaces
from mmsearch.ranking import (
    FULLTEXT,
    SHORT_PASSAGE,
    Candidate,
    Filters,
    WordMatch,
    as_moment,
    candidates,
    finish,
    fuse,
    group,
    merge,
    word_match,
)
from mmsearch.threads import single_threaded

NO_FILTERS = Filters()


def check_kinds(kinds: Sequence[str] | None) -> tuple[str, ...] | None:
    """Query kinds (None: every kind); raises MmsearchError naming the choices on an unknown one."""
    try:
        return parse_kinds(kinds)
    except ValueError as exc:
        raise MmsearchError(str(exc)) from None


def search(ctx: Context, query: Any, k: int = 10, kinds: Sequence[str] | None = None, path: str | None = None,
           *, min_score: float | None = None, sort: str = "relevance", like: Sequence[Any] = (),
           like_weight: float = LIKE_WEIGHT, where: WhenWhere | None = None) -> list[Hit]:
    """Rank the library against a text (``str``), an image file (``Path``) or a PIL image.

    A text is matched by meaning in every space that takes text and by its words (full-text index and
    phonetic keys), fused on the calibrated scale (:mod:`mmsearch.ranking`). ``-word`` / ``-"a phrase"``
    terms demote what resembles them and drop what holds their words; ``like`` (example files, each
    weighted ``like_weight`` against the text's 1) mixes in their calibrated scores (:mod:`mmsearch.query_mix`).
    ``min_score`` drops hits below it; ``sort`` is ``relevance`` or ``date``; ``where``: when and where the
    media was made (:class:`~mmsearch.query.when_where.WhenWhere`)."""
    wanted = check_kinds(kinds)
    if not isinstance(query, str):
        return similar(ctx, query, k, wanted, path, min_score=min_score, sort=sort, where=where)
    try:
        parsed = parse_query(query, allow_empty=bool(like))
    except ValueError as exc:
        raise MmsearchError(str(exc)) from None
    spaces = QuerySpaces(ctx)
    with single_threaded():  # every space's text encoder; search_vectors takes care of itself
        queries = text_queries(ctx, parsed.positive, spaces) if parsed.positive else {}
        mix = _mix(ctx, queries, parsed, like, like_weight)
    filters = Filters(wanted, path, where=where)
    with single_threaded():
        per_space = _per_space(ctx, queries, k, filters, spaces)
        lexical = word_candidates(ctx, parsed.positive, queries, filters, k, spaces) if parsed.positive else {}
        if mix is not None:
            per_space, lexical = mix.apply(ctx, per_space, lexical, k, filters)
    try:
        return finish(group(fuse([c for cands in per_space for c in cands], lexical)), k, min_score, sort)
    except ValueError as exc:
        raise MmsearchError(str(exc)) from None


def similar(ctx: Context, image: Any, k: int = 10, kinds: Sequence[str] | None = None,
            path: str | None = None, *, min_score: float | None = None, sort: str = "relevance",
            where: WhenWhere | None = None) -> list[Hit]:
    """What resembles a file, by its kind (:mod:`mmsearch.example_query`): an image (or PIL image) finds
    pictures and video scenes that look like it and texts that describe it; a recording, sounds that sound
    alike and moments where the same is said; a video clip, scenes that look like its scenes. A file already
    in the library is queried with its stored vectors and left out of the hits."""
    from mmsearch.example_query import example_query, search_example

    wanted = check_kinds(kinds)
    with single_threaded():
        try:
            example = example_query(ctx, image)
        except ModelUnavailableError as exc:  # no hits, and mmsearch.pending says which model is missing
            ctx.models.mark_unavailable(Space.CLIP, exc)
            return []
        hits = search_example(ctx, example, k, Filters(wanted, path, where=where))
    try:
        return finish(hits, k, min_score, sort)
    except ValueError as exc:
        raise MmsearchError(str(exc)) from None


def _mix(ctx: Context, queries: dict[str, np.ndarray], parsed: ParsedQuery, like: Sequence[Any],
         like_weight: float) -> Any:
    """The rescoring of a query with negatives or examples (:mod:`mmsearch.mixed_search`), None for a plain one."""
    if not parsed.negatives and not like:
        return None
    from mmsearch.mixed_search import QueryMix

    return QueryMix.of(ctx, queries, parsed, like, like_weight)


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


def image_query(ctx: Context, image: Any) -> tuple[np.ndarray, int | None]:
    """The clip-space vector of an image (stored, when the file is in the library) and its media id."""
    if isinstance(image, (str, Path)):
        p = Path(image).expanduser().absolute()
        media = ctx.catalog.media_by_path(str(p))
        if media is not None:
            stored = ctx.catalog.vectors_of_media(media.id).get(Space.CLIP)
            if stored is not None and len(stored):
                return stored[0], media.id
        from mmsearch.media.images import load_image

        pil, _, _ = load_image(p)
    else:
        pil = image
    row = ctx.catalog.space(Space.CLIP)
    if row is not None:
        ctx.models.follow(row)
    enc = ctx.models.encoder(Space.CLIP)
    return enc.encode_prepared([enc.prepare_image(pil)])[0], None


def search_vectors(ctx: Context, queries: dict[str, np.ndarray], k: int, filters: Filters = NO_FILTERS) -> list[Hit]:
    """Rank the library against ready-made query vectors, one per space name: search every space,
    merge on calibrated scores, group moments, keep the top k."""
    with single_threaded():
        per_space = _per_space(ctx, queries, k, filters)
    return merge(per_space, k)


def _per_space(ctx: Context, queries: dict[str, np.ndarray], k: int, filters: Filters,
               spaces: QuerySpaces | None = None) -> list[list[Candidate]]:
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
        said = tokens.words(got.row.text)
        words = set(said).union(tokens.name_tokens(got.row.path))
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


def keyword_search(ctx: Context, words: str, k: int = 10, kinds: Sequence[str] | None = None,
                   path: str | None = None, *, where: WhenWhere | None = None) -> list[Hit]:
    """Passages (speech, subtitles, texts) that contain every word of ``words``, case-insensitively."""
    keep = Filters(check_kinds(kinds), path, where=where).matcher()
    try:
        parsed = parse_query(words)
    except ValueError as exc:
        raise MmsearchError(str(exc)) from None
    terms = [w for w in parsed.positive.lower().split() if w]
    negatives = parsed.negative_words()
    hits: list[Hit] = []
    for row in ctx.catalog.segments_containing(terms, limit=max(10 * k, 200)):
        row = as_moment(row)
        if keep(row) and not excluded_by_words(negatives, (row.text,)):
            hits.append(Hit(path=row.path, kind=row.media_kind, score=1.0, start=row.start, end=row.end,
                            space="keyword", text=row.text, linked=row.link_path, media_id=row.media_id,
                            segment_id=row.id))
    return hits[:k]


def more_like(ctx: Context, *, segment_id: int | None = None, media_id: int | None = None, k: int = 10,
              kinds: Sequence[str] | None = None, path: str | None = None,
              where: WhenWhere | None = None) -> list[Hit]:
    """"More like this": hits similar to one hit (``segment_id``) or a whole file (``media_id``), the source
    itself left out. A segment without a vector of its own (a scene whose frames carry them) is represented
    by its child segments, else by the segments of its file that overlap it; several vectors of one space
    are averaged."""
    if (segment_id is None) == (media_id is None):
        raise MmsearchError("give exactly one of segment_id (a hit) or media_id (a whole file)")
    source = ctx.catalog.similarity_source(segment_id=segment_id, media_id=media_id)
    if source is None:
        what = f"segment with id {segment_id}" if segment_id is not None else f"media with id {media_id}"
        raise NotFoundError(f"no {what}")
    queries = {}
    for name, vectors in source.vectors.items():
        v = vectors.mean(axis=0)
        norm = float(np.linalg.norm(v))
        if norm > 0 and math.isfinite(norm):
            queries[name] = (v / norm).astype(np.float32)
    if not queries:
        raise NotFoundError("this hit has no stored vector to search with")
    found = search_vectors(ctx, queries, k + 8, Filters(check_kinds(kinds), path, where=where))
    return [h for h in found if not source.covers(h)][:k]


def media_of(ctx: Context, path: str | Path, kind: MediaKind | None = None) -> Any:
    """The catalog row of an indexed file (optionally of one kind), or MmsearchError saying why not."""
    media = ctx.catalog.media_by_path(str(Path(path).expanduser().absolute()))
    if media is None:
        raise MmsearchError(f"not in the library: {path}")
    if kind is not None and media.kind != kind:
        raise MmsearchError(f"not a {kind}: {path}")
    return media
