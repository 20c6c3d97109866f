"""The catalog join a query reads segments through, and the when-and-where filter in SQL.

A query's filter (:class:`mmsearch.catalog.records.MediaWhere`; mmsearch/query/when_where.py holds the rule and
its exact test) becomes SQL conditions over the media columns before any grouping: the time bounds, the camera
substring, and for a place its bounding box (the exact circle is the query's ``keeps``).
"""
from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import and_, bindparam, case, func, or_, select
from sqlalchemy.orm import aliased

from mmsearch.catalog.fulltext import BACKENDS
from mmsearch.catalog.records import MediaWhere
from mmsearch.catalog.schema import Media, Segment


def where_clauses(where: MediaWhere, time: Any, make: Any, model: Any, lat: Any, lon: Any) -> list[Any]:
    """SQL conditions over the media columns (``time``: the media time in UTC seconds)."""
    out: list[Any] = []
    if where.after is not None:
        out.append(time >= where.after)
    if where.before is not None:
        out.append(time < where.before)
    if where.camera:
        named = func.lower(func.coalesce(make, "") + " " + func.coalesce(model, ""))
        out.append(named.contains(where.camera, autoescape=True))
    if where.near is not None:
        lo, hi, lons = where.near.box()
        out += [lat.is_not(None), lon.is_not(None), lat.between(lo, hi)]
        if lons:
            out.append(or_(*(and_(lon >= w, lon <= e) for w, e in lons)))
    return out


@functools.lru_cache(maxsize=16)
def segments_by_id(where: MediaWhere | None = None):
    """The per-query join as one statement built once (per filter): building it costs more than running it
    (~3 ms of a 1,000-image library's ~6 ms search), and a fixed statement hits SQLAlchemy's cache."""
    return segment_columns(where).where(Segment.id.in_(bindparam("ids", expanding=True)))


@functools.lru_cache(maxsize=16)
def word_rows_by_id(dialect: str, where: MediaWhere | None = None):
    """The word match's join: SegmentRow's columns, the stored vector, the phonetic keys (built once per
    dialect and filter, like :func:`segments_by_id`)."""
    fts, segment_id, keys = BACKENDS[dialect].keys_join()
    return (segment_columns(where).add_columns(Segment.vector, keys).outerjoin(fts, segment_id == Segment.id)
            .where(Segment.id.in_(bindparam("ids", expanding=True))))


def segment_columns(where: MediaWhere | None = None):
    """SELECT of SegmentRow's columns: a segment, its media, and the media that one links to; the when and
    where columns are those of the linked media for a caption or subtitle file. ``where``: only matches."""
    linked = aliased(Media)

    def fact(column: str) -> Any:
        return case((linked.id.is_not(None), getattr(linked, column)), else_=getattr(Media, column))

    media_time = case((linked.id.is_not(None), func.coalesce(linked.taken_at, linked.mtime)),
                      else_=func.coalesce(Media.taken_at, Media.mtime))
    facts = [fact(c) for c in ("time_offset", "time_source", "camera_make", "camera_model", "lat", "lon")]
    q = (
        select(Segment.id, Segment.media_id, Segment.kind, Segment.start, Segment.end, Segment.keyframe,
               Segment.parent_id, Segment.text, Media.path, Media.kind, Media.link_id, linked.path, linked.kind,
               Segment.space_id, media_time, *facts)
        .join(Media, Media.id == Segment.media_id)
        .outerjoin(linked, linked.id == Media.link_id)
    )
    if where is not None:
        q = q.where(*where_clauses(where, media_time, facts[2], facts[3], facts[4], facts[5]))
    return q
