"""Queries over a library, the entry points: text (with negatives and examples), a file, stored vectors,
"more like this", plain words. Functions of a :class:`~mmsearch.context.Context`; they sit above their
tools: the candidates (:mod:`mmsearch.query.candidates`), the rules (:mod:`mmsearch.query.ranking`), a
mixed query (:mod:`mmsearch.query.mix`) and a file as a query (:mod:`mmsearch.query.examples`), none of
which imports this module back.

Each query reads the library's spaces once (:class:`~mmsearch.query.spaces.QuerySpaces`) and hands that
reading down to every part it runs. A query runs on one CPU thread (:mod:`mmsearch.threads`).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmsearch.catalog import Media
from mmsearch.context import Context
from mmsearch.errors import MmsearchError, ModelUnavailableError, NotFoundError
from mmsearch.hits import Hit
from mmsearch.kinds import MediaKind, Space, parse_kinds
from mmsearch.query.candidates import candidates_per_space, text_queries, word_candidates
from mmsearch.query.examples import example_query, search_example
from mmsearch.query.mix import QueryMix
from mmsearch.query.mix_rules import LIKE_WEIGHT, ParsedQuery, excluded_by_words, parse_query, unit_mean
from mmsearch.query.ranking import Filters, as_moment, finish, fuse, group, merge
from mmsearch.query.spaces import QuerySpaces
from mmsearch.query.when_where import WhenWhere
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
    phonetic keys), fused on the calibrated scale (:mod:`mmsearch.query.ranking`). ``-word`` / ``-"a phrase"``
    terms demote what resembles them and drop what holds their words; ``like`` (example files, each
    weighted ``like_weight`` against the text's 1) mixes in their calibrated scores (:mod:`mmsearch.query.mix_rules`).
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
        mix = _mix(spaces, queries, parsed, like, like_weight)
    filters = Filters(wanted, path, where=where)
    with single_threaded():
        per_space = candidates_per_space(ctx, queries, k, filters, spaces)
        lexical = word_candidates(ctx, parsed.positive, queries, filters, k, spaces) if parsed.positive else {}
        if mix is not None:
            per_space, lexical = mix.apply(per_space, lexical, k, filters)
    try:
        return finish(group(fuse([c for cands in per_space for c in cands], lexical)), k, min_score, sort)
    except ValueError as exc:
        raise MmsearchError(str(exc)) from None


def similar(ctx: Context, image: Any, k: int = 10, kinds: Sequence[str] | None = None,
            path: str | None = None, *, min_score: float | None = None, sort: str = "relevance",
            where: WhenWhere | None = None) -> list[Hit]:
    """What resembles a file, by its kind (:mod:`mmsearch.query.examples`): an image (or PIL image) finds
    pictures and video scenes that look like it and texts that describe it; a recording, sounds that sound
    alike and moments where the same is said; a video clip, scenes that look like its scenes. A file already
    in the library is queried with its stored vectors and left out of the hits."""
    wanted = check_kinds(kinds)
    spaces = QuerySpaces(ctx)
    with single_threaded():
        try:
            example = example_query(spaces, image)
        except ModelUnavailableError as exc:  # no hits, and mmsearch.pending says which model is missing
            ctx.models.mark_unavailable(Space.CLIP, exc)
            return []
        hits = search_example(spaces, example, k, Filters(wanted, path, where=where))
    try:
        return finish(hits, k, min_score, sort)
    except ValueError as exc:
        raise MmsearchError(str(exc)) from None


def _mix(spaces: QuerySpaces, queries: dict[str, np.ndarray], parsed: ParsedQuery, like: Sequence[Any],
         like_weight: float) -> QueryMix | None:
    """The rescoring of a query with negatives or examples (:mod:`mmsearch.query.mix`), None for a plain one."""
    if not parsed.negatives and not like:
        return None
    return QueryMix.of(spaces, queries, parsed, like, like_weight)


def search_vectors(ctx: Context, queries: dict[str, np.ndarray], k: int, filters: Filters = NO_FILTERS) -> list[Hit]:
    """Rank the library against ready-made query vectors, one per space name: search every space,
    merge on calibrated scores, group moments, keep the top k."""
    with single_threaded():
        per_space = candidates_per_space(ctx, queries, k, filters, QuerySpaces(ctx))
    return merge(per_space, k)


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
    queries = {name: v for name, v in ((n, unit_mean(vs)) for n, vs in source.vectors.items()) if v is not None}
    if not queries:
        raise NotFoundError("this hit has no stored vector to search with")
    found = search_vectors(ctx, queries, k + 8, Filters(check_kinds(kinds), path, where=where))
    return [h for h in found if not source.covers(h)][:k]


def media_of(ctx: Context, path: str | Path, kind: MediaKind | None = None) -> Media:
    """The catalog row of an indexed file (optionally of one kind), or MmsearchError saying why not."""
    media = ctx.catalog.media_by_path(str(Path(path).expanduser().absolute()))
    if media is None:
        raise MmsearchError(f"not in the library: {path}")
    if kind is not None and media.kind != kind:
        raise MmsearchError(f"not a {kind}: {path}")
    return media
