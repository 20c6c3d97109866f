"""The write path: files with their segments, full-text rows and job marks, each call ONE transaction.

A segment row is built from its :class:`~mmsearch.catalog.records.NewSegment` by the one declaration of its
columns (``SEGMENT_COLUMNS``); its vector goes to its own space or the write's default one, and every space
whose vectors change gets a new epoch and generation token in the same transaction (:func:`bump`).
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from mmsearch import _faults as faults
from mmsearch.analysis.tokens import fulltext_text, name_words, phonetic_column
from mmsearch.catalog import fulltext
from mmsearch.catalog.connection import CatalogConnection, chunks, db_text
from mmsearch.catalog.records import (
    SEGMENT_COLUMNS,
    FtsRow,
    JobMark,
    NewSegment,
    WriteResult,
    as_stored,
    encode_vector,
)
from mmsearch.catalog.schema import GENERATION, STAGING, FileJob, IngestError, Media, Meta, Segment, Space, utcnow
from mmsearch.errors import LibraryError
from mmsearch.kinds import READ_KINDS


class Writes(CatalogConnection):
    """The catalog's writes of files, segments, jobs and errors."""

    def ensure_space(self, name: str, model_id: str, dim: int, spec: str = "") -> Space:
        """Create the space on first use; callers check model ids before writing."""
        with self._writing() as s:
            space = s.scalar(select(Space).where(Space.name == name))
            if space is None:
                space = Space(name=name, model_id=model_id, dim=dim, epoch=0, spec=spec)
                s.add(space)
                s.flush()
            return space

    def touch_media(self, media_id: int, *, size: int, mtime: float, path: str | None = None) -> None:
        with self._writing() as s:
            values: dict = {"size": size, "mtime": mtime, "missing_since": None, "missing_runs": None}
            if path is not None:
                values["path"] = path
            s.execute(update(Media).where(Media.id == media_id).values(**values))

    def set_link(self, media_id: int, link_id: int | None) -> None:
        with self._writing() as s:
            s.execute(update(Media).where(Media.id == media_id).values(link_id=link_id))

    def write_media(
        self,
        items: Sequence[tuple[dict, Sequence[NewSegment]]],
        space_name: str | None,
        replace_ids: Iterable[int] = (),
        jobs: Sequence[dict[str, JobMark]] | None = None,
    ) -> WriteResult:
        """Insert media rows with their segments in ONE transaction; remove ``replace_ids`` first.

        A segment's vector goes to its own ``space`` if it names one, else to ``space_name``. Every
        space whose vectors change gets its epoch bumped in the same transaction; the segments' words
        enter the full-text index, and ``jobs`` (aligned with ``items``) record each file's work.
        """
        with self._writing() as s:
            spaces = {sp.name: sp for sp in s.scalars(select(Space))}
            removed = delete_media(s, list(replace_ids))
            media_ids: list[int] = []
            added: dict[str, list[tuple[int, np.ndarray]]] = {}
            for n, (fields, segments) in enumerate(items):
                media = Media(**fields)
                s.add(media)
                s.flush()
                media_ids.append(media.id)
                add_segments(s, media, segments, spaces, space_name, added, named=True)
                if jobs is not None:
                    mark_jobs(s, media.id, jobs[n])
            bump(s, {sid for sid, _ in removed} | {spaces[name].id for name in added})
            # A file's old error goes with the commit that indexes it (no stale error after a crash).
            for chunk in chunks([fields["path"] for fields, _ in items]):
                s.execute(delete(IngestError).where(IngestError.path.in_(chunk)))
            faults.point("commit")
            return WriteResult(media_ids, added, removed)

    def remove_media(self, media_ids: Sequence[int]) -> list[tuple[int, int]]:
        """Delete media with their segments; returns (space id, segment id) of removed vectors."""
        if not media_ids:
            return []
        with self._writing() as s:
            removed = delete_media(s, list(media_ids))
            bump(s, {sid for sid, _ in removed})
            return removed

    def add_segments(
        self,
        media_id: int,
        segments: Sequence[NewSegment],
        jobs: dict[str, JobMark],
        *,
        replace_spaces: Sequence[str] = (),
        fields: dict | None = None,
        space_name: str | None = None,
    ) -> WriteResult:
        """Add segments to a file already in the library (a backfilled or re-embedded space), in ONE
        transaction with its job marks; its segments of ``replace_spaces`` go first, ``fields`` update
        its media row; a vector without a ``space`` goes to ``space_name``. The file's other segments are
        untouched."""
        with self._writing() as s:
            media = s.get(Media, media_id)
            if media is None:
                raise LibraryError(f"media {media_id} is gone from the catalog")
            spaces = {sp.name: sp for sp in s.scalars(select(Space))}
            removed: list[tuple[int, int]] = []
            old_ids = [sp.id for name, sp in spaces.items() if name in replace_spaces]
            if old_ids:
                gone = list(s.execute(select(Segment.id, Segment.space_id)
                                      .where(Segment.media_id == media_id, Segment.space_id.in_(old_ids))))
                removed = [(int(sid), int(seg)) for seg, sid in gone if sid is not None]
                fulltext.backend(s.connection()).delete(s.connection(), [seg for seg, _ in gone])
                s.execute(delete(Segment).where(Segment.id.in_([seg for seg, _ in gone])))
            if fields:
                s.execute(update(Media).where(Media.id == media_id).values(**fields))
            added: dict[str, list[tuple[int, np.ndarray]]] = {}
            add_segments(s, media, segments, spaces, space_name, added, named=False)
            mark_jobs(s, media_id, jobs)
            bump(s, {sid for sid, _ in removed} | {spaces[name].id for name in added})
            faults.point("commit")
            return WriteResult([media_id], added, removed)

    def set_jobs(self, media_id: int, marks: dict[str, JobMark]) -> None:
        """Record where one file stands with some of its work (no segments change)."""
        with self._writing() as s:
            mark_jobs(s, media_id, marks)

    def delete_segments(self, ids: Sequence[int]) -> None:
        """Delete segments by id (children are detached first) and bump the epochs of their spaces."""
        with self._writing() as s:
            spaces: set[int] = set()
            for chunk in chunks(list(ids)):
                spaces |= {int(sid) for (sid,) in s.execute(
                    select(Segment.space_id).where(Segment.id.in_(chunk), Segment.space_id.is_not(None)).distinct()
                ) if sid is not None}
                s.execute(update(Segment).where(Segment.parent_id.in_(chunk)).values(parent_id=None))
                fulltext.backend(s.connection()).delete(s.connection(), list(chunk))
                s.execute(delete(Segment).where(Segment.id.in_(chunk)))
            bump(s, set(spaces))

    def record_error(self, path: str, stage: str, message: str, size: int | None = None,
                     mtime: float | None = None) -> None:
        with self._writing() as s:
            s.execute(delete(IngestError).where(IngestError.path == path))
            s.add(IngestError(path=path, stage=stage, message=message[:2000], size=size, mtime=mtime))

    def ensure_generations(self) -> int:
        """Give every space without a token one (a writer's first open of an older library, so its snapshots,
        which hold no token, are replayed once). Returns how many were written."""
        with self._writing() as s:
            have = set(s.scalars(select(Meta.key).where(Meta.key.startswith(GENERATION))))
            missing = [sid for sid, name in s.execute(select(Space.id, Space.name).where(
                ~Space.name.endswith(STAGING, autoescape=True))) if GENERATION + name not in have]
            bump(s, set(missing))
            return len(missing)


def delete_media(s: Session, media_ids: list[int]) -> list[tuple[int, int]]:
    removed: list[tuple[int, int]] = []
    for chunk in chunks(media_ids):
        removed += [
            (int(sid), int(seg))
            for seg, sid in s.execute(
                select(Segment.id, Segment.space_id).where(Segment.media_id.in_(chunk), Segment.space_id.is_not(None))
            )
            if sid is not None
        ]
        s.execute(update(Media).where(Media.link_id.in_(chunk)).values(link_id=None))
        fts = fulltext.backend(s.connection())
        fts.delete(s.connection(), list(s.scalars(select(Segment.id).where(Segment.media_id.in_(chunk)))))
        s.execute(delete(Segment).where(Segment.media_id.in_(chunk)))
        s.execute(delete(Media).where(Media.id.in_(chunk)))
    return removed


def segment_values(seg: NewSegment) -> dict[str, Any]:
    """A segment's own columns (``SEGMENT_COLUMNS``) as the database stores them."""
    values = {name: getattr(seg, name) for name in SEGMENT_COLUMNS}
    values["text"] = db_text(values["text"])
    return values


def add_segments(s: Session, media: Media, segments: Sequence[NewSegment], spaces: dict[str, Space],
                 default_space: str | None, added: dict[str, list[tuple[int, np.ndarray]]], *, named: bool) -> None:
    """Insert one file's segments (parents before children), collect vectors to index, index their words.
    ``named``: the file is new, so its name enters the full-text index (on its first text segment, or its
    first segment when it has no text)."""
    rows: list[Segment] = []
    fts_rows: list[FtsRow] = []
    worded: set[tuple[str, float | None, float | None]] = set()  # one full-text row per passage, whatever its spaces
    name = name_words(media.path) if named else ""
    for seg in segments:
        space = spaces.get(seg.space or default_space or "") if seg.vector is not None else None
        if seg.vector is not None and space is None:
            raise ValueError(f"segment of unknown space {seg.space or default_space!r}")
        row = Segment(
            media_id=media.id,
            parent_id=rows[seg.parent].id if seg.parent is not None else None,
            space_id=space.id if space is not None else None,
            vector=encode_vector(seg.vector) if space is not None and seg.vector is not None else None,
            **segment_values(seg),
        )
        s.add(row)
        s.flush()
        rows.append(row)
        if space is not None and seg.vector is not None:
            added.setdefault(space.name, []).append((row.id, as_stored(seg.vector)))
        if row.text and (row.text, row.start, row.end) not in worded:
            worded.add((row.text, row.start, row.end))
            fts_rows.append(fts_row(row.id, row.text, row.kind, row.detail, name))
            name = ""  # once per file
    if name and rows:
        fts_rows.append(FtsRow(rows[0].id, "", "", name))
    fulltext.backend(s.connection()).insert(s.connection(), fts_rows)


def fts_row(segment_id: int, text: str, kind: str, detail: str | None, name: str) -> FtsRow:
    """The full-text row of a segment with text (text read from pixels: its run-together words read apart too,
    mmsearch/analysis/tokens.py)."""
    apart = kind in READ_KINDS
    return FtsRow(segment_id, fulltext_text(text, apart), phonetic_column(text, detail, apart), name)


def mark_jobs(s: Session, media_id: int, marks: dict[str, JobMark]) -> None:
    for name, mark in marks.items():
        s.merge(FileJob(media_id=media_id, name=str(name), state=str(mark.state), model_id=mark.model_id,
                        error=mark.error, updated=utcnow()))


def bump(s: Session, space_ids: set[int]) -> None:
    """A new epoch and a new random token for each space, in the transaction that changes its vectors."""
    if not space_ids:
        return
    s.execute(update(Space).where(Space.id.in_(sorted(space_ids))).values(epoch=Space.epoch + 1))
    for name in s.scalars(select(Space.name).where(Space.id.in_(sorted(space_ids)))):
        s.merge(Meta(key=GENERATION + name, value=uuid.uuid4().hex))


def reword(s: Session, media_ids: list[int]) -> None:
    """Write the full-text rows of these files again, by the rule of :func:`add_segments`: one row per passage,
    the file name on its first text segment (or its first segment when it has no text)."""
    conn = s.connection()
    fts = fulltext.backend(conn)
    for chunk in chunks(media_ids):
        rows = s.execute(
            select(Segment.id, Segment.media_id, Segment.text, Segment.start, Segment.end, Segment.kind, Media.path,
                   Segment.detail)
            .join(Media, Media.id == Segment.media_id).where(Segment.media_id.in_(list(chunk)))
            .order_by(Segment.media_id, Segment.id)).all()
        fts.delete(conn, [int(r.id) for r in rows])
        out: list[FtsRow] = []
        by_media: dict[int, list[Any]] = {}
        for r in rows:
            if not str(r.kind).startswith("~"):  # another space's staged rows are not words yet
                by_media.setdefault(int(r.media_id), []).append(r)
        for segs in by_media.values():
            name = name_words(segs[0].path)
            worded: set[tuple[str, float | None, float | None]] = set()
            for r in segs:
                if r.text and (r.text, r.start, r.end) not in worded:
                    worded.add((r.text, r.start, r.end))
                    out.append(fts_row(int(r.id), r.text, r.kind, r.detail, name))
                    name = ""
            if name:
                out.append(FtsRow(int(segs[0].id), "", "", name))
        fts.insert(conn, out)
