"""The catalog's reads: lookups of spaces, files, jobs, errors and counts, and what a query reads (the segment
join with its filters, the full text, stored vectors for "more like this")."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from sqlalchemy import func, select

from mmsearch.catalog import fulltext
from mmsearch.catalog.connection import CatalogConnection, chunks
from mmsearch.catalog.filters import segment_columns, segments_by_id, word_rows_by_id
from mmsearch.catalog.fulltext import base as fts
from mmsearch.catalog.records import (
    FtsHit,
    Generation,
    JobMark,
    MediaWhere,
    QueryWords,
    SegmentRow,
    SimilaritySource,
    WordRow,
    decode_vectors,
)
from mmsearch.catalog.schema import GENERATION, STAGING, FileJob, IngestError, Media, Meta, Segment, Space
from mmsearch.kinds import JobState


class Lookups(CatalogConnection):
    """Spaces, files, jobs, errors and counts."""

    def space(self, name: str) -> Space | None:
        with self.session() as s:
            return s.scalar(select(Space).where(Space.name == name))

    def spaces(self) -> list[Space]:
        """The library's spaces; a re-embed's staging row (``schema.staging_name``) is not one of them."""
        with self.session() as s:
            return list(s.scalars(select(Space).where(~Space.name.endswith(STAGING, autoescape=True))
                                  .order_by(Space.id)))

    def media_by_path(self, path: str) -> Media | None:
        with self.session() as s:
            return s.scalar(select(Media).where(Media.path == path))

    def media_by_id(self, media_id: int) -> Media | None:
        with self.session() as s:
            return s.get(Media, media_id)

    def all_media(self, prefix: str | None = None) -> list[Media]:
        with self.session() as s:
            q = select(Media)
            if prefix is not None:
                q = q.where(Media.path.startswith(prefix, autoescape=True))
            return list(s.scalars(q.order_by(Media.path)))

    def media_by_hash(self, content_hash: str) -> list[Media]:
        with self.session() as s:
            return list(s.scalars(select(Media).where(Media.content_hash == content_hash)))

    def media_by_paths(self, paths: Sequence[str]) -> dict[str, Media]:
        """Media rows by path for every indexed one of ``paths``, in one query per 900 paths."""
        out: dict[str, Media] = {}
        wanted = list(dict.fromkeys(paths))
        with self.session() as s:
            for chunk in chunks(wanted):
                out.update((m.path, m) for m in s.scalars(select(Media).where(Media.path.in_(list(chunk)))))
        return out

    def jobs_of(self, media_id: int) -> dict[str, JobMark]:
        with self.session() as s:
            return {j.name: JobMark(j.state, j.model_id, j.error)
                    for j in s.scalars(select(FileJob).where(FileJob.media_id == media_id))}

    def pending(self, names: Iterable[str] | None = None) -> dict[int, set[str]]:
        """Files with pending work: media id -> the pending space/job names (only ``names``, if given)."""
        with self.session() as s:
            q = select(FileJob.media_id, FileJob.name).where(FileJob.state == JobState.PENDING)
            if names is not None:
                q = q.where(FileJob.name.in_(list(names)))
            out: dict[int, set[str]] = {}
            for media_id, name in s.execute(q):
                out.setdefault(int(media_id), set()).add(name)
            return out

    def job_counts(self) -> dict[str, dict[str, int]]:
        """Per space/job name: how many files are done, pending, failed."""
        with self.session() as s:
            out: dict[str, dict[str, int]] = {}
            for name, state, n in s.execute(
                select(FileJob.name, FileJob.state, func.count()).group_by(FileJob.name, FileJob.state)
            ):
                out.setdefault(name, {str(st): 0 for st in JobState})[state] = int(n)
            return out

    def errors(self) -> list[IngestError]:
        with self.session() as s:
            return list(s.scalars(select(IngestError).order_by(IngestError.created, IngestError.id)))

    def error_states(self) -> dict[str, tuple[int | None, float | None]]:
        """path -> (size, mtime) of every file that failed."""
        with self.session() as s:
            rows = s.execute(select(IngestError.path, IngestError.size, IngestError.mtime))
            return {p: (size, mtime) for p, size, mtime in rows}

    def space_epochs(self) -> dict[str, int]:
        with self.session() as s:
            return dict(s.execute(select(Space.name, Space.epoch)).all())

    def space_generations(self) -> dict[str, Generation]:
        """name -> (epoch, token) of every space. The token is a random value written in the same transaction
        as every change of the space's vectors (``writes.bump``), so no two catalog states share one: a catalog
        rolled back by a power cut, then written again, gets new tokens where an epoch counter repeats.
        ``None``: a space no writer of this version has changed yet (a library from before tokens)."""
        with self.session() as s:
            epochs = dict(s.execute(select(Space.name, Space.epoch)).all())
            tokens = dict(s.execute(select(Meta.key, Meta.value).where(Meta.key.startswith(GENERATION))).all())
        return {name: (int(epoch), tokens.get(GENERATION + name)) for name, epoch in epochs.items()}

    def counts(self) -> dict:
        with self.session() as s:
            media = dict(s.execute(select(Media.kind, func.count()).group_by(Media.kind)).all())
            segments = dict(s.execute(select(Segment.kind, func.count()).group_by(Segment.kind)).all())
            per_space = dict(
                s.execute(
                    select(Space.name, func.count(Segment.id))
                    .join(Segment, Segment.space_id == Space.id, isouter=True)
                    .group_by(Space.name)
                ).all()
            )
            total_bytes = s.scalar(select(func.coalesce(func.sum(Media.size), 0)))
            errors = s.scalar(select(func.count()).select_from(IngestError))
        return {"media": media, "segments": segments, "vectors": per_space, "bytes": int(total_bytes or 0),
                "errors": int(errors or 0)}


class QueryReads(CatalogConnection):
    """What a query reads: the full text, the segment join with its filters, stored vectors."""

    def fulltext(self, query: QueryWords, limit: int = 200) -> list[tuple[int, float]]:
        """Segments whose words (text, phonetic keys, file name) match any word of ``query``:
        ``(segment id, score)`` best first (the summed specificity of the tokens each holds; the two-step
        query of :func:`mmsearch.catalog.fulltext.base.search`)."""
        return [(h.segment_id, h.score) for h in self.fulltext_hits(query, limit)[0]]

    def fulltext_hits(self, query: QueryWords, limit: int = 200,
                      fill: int | None = None) -> tuple[list[FtsHit], dict[str, int]]:
        """:meth:`fulltext` as :class:`~mmsearch.catalog.records.FtsHit` (topped up to ``fill`` with unranked
        ones, see :func:`mmsearch.catalog.fulltext.base.search`), with the document frequencies of the query's
        words and keys (counted up to ``COMMON``). ``query``: analysed by :func:`mmsearch.query.words.analyse`."""
        if not query.terms:
            return [], {}
        with self.sql.connect() as conn:
            be = fulltext.backend(conn)
            df = fts.FREQUENCIES.of(conn, be, query.terms, query.keys)
            return fts.search(conn, be, fts.plan(query, df), limit, fill), df

    def segments(self, ids: Sequence[int], where: MediaWhere | None = None) -> dict[int, SegmentRow]:
        """Segments by id joined with their media, in one query per 900 ids (SQLite's bound limit); ``where``:
        only those whose media match it (in SQL; ``near`` by its bounding box, see WhenWhere.keeps)."""
        out: dict[int, SegmentRow] = {}
        ids = [int(i) for i in ids]
        with self.sql.connect() as conn:  # Core, not an ORM session: a third of this hot call's time
            for chunk in chunks(ids):
                for row in conn.execute(segments_by_id(where), {"ids": chunk}).all():
                    out[row[0]] = SegmentRow.of(row)
        return out

    def word_rows(self, ids: Sequence[int], where: MediaWhere | None = None) -> dict[int, WordRow]:
        """:meth:`segments` with each one's stored vector bytes and phonetic keys (what the word match of a
        query needs), in one statement per 900 ids."""
        out: dict[int, WordRow] = {}
        statement = word_rows_by_id(self.sql.dialect.name, where)
        with self.sql.connect() as conn:
            for chunk in chunks([int(i) for i in ids]):
                for *row, vector, keys in conn.execute(statement, {"ids": chunk}).all():
                    out[row[0]] = WordRow(SegmentRow.of(row), vector, keys or "")
        return out

    def segments_of_media(self, media_id: int, kinds: Sequence[str] | None = None) -> list[SegmentRow]:
        with self.session() as s:
            q = segment_columns().where(Segment.media_id == media_id).order_by(Segment.start, Segment.id)
            if kinds:
                q = q.where(Segment.kind.in_(list(kinds)))
            return [SegmentRow(*row) for row in s.execute(q)]

    def segments_containing(self, terms: Sequence[str], limit: int = 200) -> list[SegmentRow]:
        """Text-bearing segments whose text contains every term (case-insensitive, parameterised LIKE)."""
        with self.session() as s:
            q = segment_columns().where(Segment.text.is_not(None))
            for term in terms:
                q = q.where(func.lower(Segment.text).contains(term.lower(), autoescape=True))
            return [SegmentRow(*row) for row in s.execute(q.order_by(Media.path, Segment.start).limit(limit))]

    def details_of(self, segment_ids: Sequence[int]) -> dict[int, str | None]:
        """The stored ``detail`` JSON of segments by id (one statement per 900 ids)."""
        out: dict[int, str | None] = {}
        with self.sql.connect() as conn:
            for chunk in chunks([int(i) for i in segment_ids]):
                out.update((int(i), d) for i, d in conn.execute(
                    select(Segment.id, Segment.detail).where(Segment.id.in_(list(chunk)))))
        return out

    def vectors_of_media(self, media_id: int) -> dict[str, np.ndarray]:
        """Stored vectors of one media file by space name (to query with a file already indexed)."""
        with self.session() as s:
            q = (
                select(Space.name, Space.dim, Segment.vector)
                .join(Space, Space.id == Segment.space_id)
                .where(Segment.media_id == media_id)
                .order_by(Segment.id)
            )
            grouped: dict[str, tuple[int, list[bytes]]] = {}
            for name, dim, blob in s.execute(q):
                if blob is not None:
                    grouped.setdefault(name, (dim, []))[1].append(blob)
            return {name: decode_vectors(blobs, dim) for name, (dim, blobs) in grouped.items()}

    def similarity_source(self, *, segment_id: int | None = None,
                          media_id: int | None = None) -> SimilaritySource | None:
        """The stored vectors (by space) that stand for one segment or a whole file in "more like this",
        and what they cover; None when there is no such segment or media.

        A segment without a vector of its own is represented by its child segments (a scene's frames),
        else by the segments of its file that overlap it."""
        with self.session() as s:
            seg = None
            if segment_id is not None:
                seg = s.get(Segment, segment_id)
                if seg is None:
                    return None
                media_id = seg.media_id
            media = s.get(Media, media_id)
            if media is None:
                return None
            rows = s.execute(
                select(Segment.id, Segment.start, Segment.end, Segment.parent_id, Space.name, Space.dim, Segment.vector)
                .join(Space, Space.id == Segment.space_id)
                .where(Segment.media_id == media.id, Segment.vector.is_not(None))
                .order_by(Segment.id)
            ).all()
            media_ids = frozenset({media.id} | ({media.link_id} if media.link_id else set()))
            start = end = None
            if seg is not None:
                chosen = [r for r in rows if r.id == seg.id] or [r for r in rows if r.parent_id == seg.id]
                if not chosen and seg.start is not None:
                    until = seg.end if seg.end is not None else seg.start
                    chosen = [r for r in rows if r.start is not None and r.start < until
                              and (r.end if r.end is not None else r.start) > seg.start]
                rows, start, end = chosen, seg.start, seg.end
        grouped: dict[str, tuple[int, list[bytes]]] = {}
        for r in rows:
            grouped.setdefault(r.name, (r.dim, []))[1].append(r.vector)
        vectors = {name: decode_vectors(blobs, dim) for name, (dim, blobs) in grouped.items()}
        return SimilaritySource(vectors, media_ids, start, end)
