"""Bulk reads: everything of a kind at once, for integrity checks (``check``), index rebuilds, calibration samples
and the duplicates report."""
from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from mmsearch.catalog.connection import CatalogConnection, chunks
from mmsearch.catalog.records import IntegrityFacts, decode_vectors
from mmsearch.catalog.schema import Media, Segment, Space


class Bulk(CatalogConnection):
    """Reads of whole tables or spaces, a batch at a time where they may be large."""

    def integrity_facts(self) -> IntegrityFacts:
        """Counts and dangling references, for ``check``."""
        with self.session() as s:
            parent = aliased(Segment)
            return IntegrityFacts(
                media=int(s.scalar(select(func.count()).select_from(Media)) or 0),
                segments=int(s.scalar(select(func.count()).select_from(Segment)) or 0),
                orphans=list(s.scalars(
                    select(Segment.id).outerjoin(Media, Media.id == Segment.media_id).where(Media.id.is_(None)))),
                no_space=list(s.scalars(
                    select(Segment.id).outerjoin(Space, Space.id == Segment.space_id)
                    .where(Segment.space_id.is_not(None), Space.id.is_(None)))),
                no_parent=list(s.scalars(
                    select(Segment.id).outerjoin(parent, parent.id == Segment.parent_id)
                    .where(Segment.parent_id.is_not(None), parent.id.is_(None)))),
                empty_media=list(s.scalars(
                    select(Media.path).outerjoin(Segment, Segment.media_id == Media.id).where(Segment.id.is_(None)))),
                paths=list(s.scalars(select(Media.path).order_by(Media.path))),
            )

    def iter_raw_vectors(self, space_id: int, batch: int = 20_000) -> Iterator[list[tuple[int, int, bytes | None]]]:
        """(segment id, media id, stored vector bytes) of a space in id order, a batch at a time, unchecked."""
        last = -1
        with self.session() as s:
            while True:
                rows = s.execute(
                    select(Segment.id, Segment.media_id, Segment.vector)
                    .where(Segment.space_id == space_id, Segment.id > last)
                    .order_by(Segment.id)
                    .limit(batch)
                ).all()
                if not rows:
                    return
                yield [(int(a), int(b), c) for a, b, c in rows]
                last = rows[-1][0]

    def vector_blobs(self, ids: Sequence[int]) -> dict[int, bytes]:
        """Stored vector bytes of segments by id (unchecked)."""
        out: dict[int, bytes] = {}
        with self.session() as s:
            for chunk in chunks([int(i) for i in ids]):
                query = select(Segment.id, Segment.vector).where(Segment.id.in_(chunk), Segment.vector.is_not(None))
                out.update({int(a): b for a, b in s.execute(query) if b is not None})
        return out

    def iter_vectors(self, space_id: int, dim: int, batch: int = 50_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All (ids, float32 vectors) of a space, in id order, in batches (for index rebuilds); a segment
        without stored bytes is left out."""
        for rows in self.iter_raw_vectors(space_id, batch):
            kept = [(sid, blob) for sid, _, blob in rows if blob is not None]
            if kept:
                yield (np.fromiter((sid for sid, _ in kept), dtype=np.int64, count=len(kept)),
                       decode_vectors([blob for _, blob in kept], dim))

    def sample_vectors(self, space_id: int, dim: int, n: int, kinds: Sequence[str] | None = None) -> np.ndarray:
        """About ``n`` stored vectors of a space (of segments of ``kinds``, if given) drawn at random; all of
        them for a small set.

        Draws random ids between the space's smallest and largest segment id and keeps those that belong:
        a few indexed lookups, never a scan of a large table. A rare kind that random ids seldom hit is
        read directly, up to ``n`` rows."""
        where = [Segment.space_id == space_id] + ([Segment.kind.in_(list(kinds))] if kinds else [])
        with self.session() as s:
            lo, hi, count = s.execute(select(func.min(Segment.id), func.max(Segment.id), func.count(Segment.id))
                                      .where(*where)).one()
            if not count:
                return np.zeros((0, dim), np.float32)
            if count <= n:
                return decode_vectors(list(s.scalars(select(Segment.vector).where(*where))), dim)
            rng = random.Random(space_id)  # the same sample for the same library state
            blobs: list[bytes] = []
            for _ in range(4):
                ids = sorted({rng.randint(lo, hi) for _ in range(n)})
                for chunk in chunks(ids):
                    blobs += [b for b in s.scalars(select(Segment.vector).where(*where, Segment.id.in_(chunk))) if b]
                if len(blobs) >= n // 2:
                    break
            if len(blobs) < n // 2:
                blobs = list(s.scalars(select(Segment.vector).where(*where).limit(n)))
            return decode_vectors(blobs[:n], dim)

    def vector_ids(self, space_id: int) -> np.ndarray:
        with self.session() as s:
            ids = s.scalars(select(Segment.id).where(Segment.space_id == space_id).order_by(Segment.id)).all()
            return np.asarray(ids, dtype=np.int64)

    def duplicate_candidates(self, segment_kind: str, space: str) -> tuple[list[dict], np.ndarray, np.ndarray]:
        """Every segment of ``segment_kind`` (image, scene) with its media's facts and its ``detail`` (for
        mmsearch.query.duplicates.report), its vector in ``space`` (zeros where it has none) and which rows have one."""
        names = ("segment_id", "media_id", "path", "kind", "start", "end", "keyframe", "width", "height",
                 "duration", "size", "detail")
        with self.session() as s:
            sp = s.scalar(select(Space).where(Space.name == space))
            rows = s.execute(
                select(Segment.id, Segment.media_id, Media.path, Segment.kind, Segment.start, Segment.end,
                       Segment.keyframe, Media.width, Media.height, Media.duration, Media.size, Segment.detail,
                       Segment.space_id, Segment.vector)
                .join(Media, Media.id == Segment.media_id)
                .where(Segment.kind == segment_kind)
                .order_by(Segment.id)
            ).all()
        dim = sp.dim if sp is not None else 1
        has = np.array([sp is not None and r.space_id == sp.id and r.vector is not None for r in rows], bool)
        vectors = np.zeros((len(rows), dim), np.float32)
        if has.any():
            vectors[has] = decode_vectors([r.vector for r, h in zip(rows, has) if h], dim)
        return [dict(zip(names, r[:12])) for r in rows], vectors, has
