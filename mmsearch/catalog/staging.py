"""Re-embedding a space (indexers/reembed.py): staged segments beside the live ones, and the swap.

A re-embed writes each file's new segments as *staged* rows: kind ``~SPACE``, no space and no full-text row, the
HELD columns (kind, text, detail: :data:`mmsearch.catalog.records.HELD`) waiting in ``detail`` as JSON and the
CARRIED ones as columns, so no query, listing or check sees them; a staging space row records the new model and a
job row under the staging name marks each file done. :meth:`Staging.swap_space` turns them into the space's
segments in one transaction, every declared column restored. Both derive from the one declaration of a segment's
columns, so a new column travels through a re-embed without a change here.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from mmsearch import _faults as faults
from mmsearch.catalog import fulltext
from mmsearch.catalog.connection import chunks
from mmsearch.catalog.records import CARRIED, HELD, JobMark, NewSegment, encode_vector
from mmsearch.catalog.schema import FileJob, Media, Segment, Space, staged_kind, staging_name, utcnow
from mmsearch.catalog.writes import Writes, bump, mark_jobs, reword, segment_values
from mmsearch.errors import LibraryError, ReembedIncompleteError
from mmsearch.kinds import WORK_BY_KIND, JobState, MediaKind


class Staging(Writes):
    """A re-embed's staged rows, checks and swap."""

    def staging_space(self, space: str, model_id: str, dim: int, spec: str) -> Space:
        """The staging row of a re-embed of ``space`` to ``model_id``: a resumed re-embed to the same model
        keeps the files already staged; one to another model first discards them."""
        name = staging_name(space)
        with self._writing() as s:
            row = s.scalar(select(Space).where(Space.name == name))
            if row is not None and (row.model_id != model_id or row.dim != dim):
                _discard_staged(s, space)
                s.delete(row)
                s.flush()
                row = None
            if row is None:
                row = Space(name=name, model_id=model_id, dim=dim, epoch=0, spec=spec)
                s.add(row)
                s.flush()
            return row

    def reembed_targets(self, space: str) -> list[int]:
        """Media ids whose work in ``space`` a re-embed redoes: those with segments in it or marked done in it."""
        with self.session() as s:
            row = s.scalar(select(Space).where(Space.name == space))
            if row is None:
                return []
            with_segments = set(s.scalars(select(Segment.media_id).where(Segment.space_id == row.id).distinct()))
            done = set(s.scalars(select(FileJob.media_id).where(FileJob.name == space,
                                                                 FileJob.state == JobState.DONE)))
            return sorted(int(m) for m in with_segments | done)

    def staged_media(self, space: str) -> set[int]:
        """Media ids a re-embed of ``space`` has staged (done); a file that failed is tried again by the next run."""
        with self.session() as s:
            return {int(m) for m in s.scalars(select(FileJob.media_id).where(
                FileJob.name == staging_name(space), FileJob.state == JobState.DONE))}

    def unstaged(self, space: str) -> dict[int, str]:
        """media id -> why, for every file a re-embed of ``space`` must redo and has not staged: the reason its
        last try recorded, or "not re-embedded yet". Empty: the re-embed is complete and may swap."""
        with self.session() as s:
            return _unstaged(s, space)

    def stored_texts(self, media_id: int, space: str) -> list[Segment]:
        """One file's segments in ``space`` that carry a text, in id order (re-embedded from the text alone)."""
        with self.session() as s:
            row = s.scalar(select(Space).where(Space.name == space))
            if row is None:
                return []
            return list(s.scalars(select(Segment).where(Segment.media_id == media_id, Segment.space_id == row.id,
                                                        Segment.text.is_not(None)).order_by(Segment.id)))

    def stage_segments(self, media_id: int, space: str, segments: Sequence[NewSegment], mark: JobMark,
                       parent_ids: Sequence[int | None] | None = None) -> int:
        """Stage one file's re-embedded segments of ``space`` with its staging job mark, in ONE transaction
        (a file staged before is replaced). ``parent_ids``: absolute parents of segments whose parent is not
        in the write. Returns the number of vectors staged."""
        kind = staged_kind(space)
        with self._writing() as s:
            if s.get(Media, media_id) is None:
                raise LibraryError(f"media {media_id} is gone from the catalog")
            s.execute(delete(Segment).where(Segment.media_id == media_id, Segment.kind == kind))
            rows: list[Segment] = []
            for n, seg in enumerate(segments):
                parent = rows[seg.parent].id if seg.parent is not None else (parent_ids[n] if parent_ids else None)
                values = segment_values(seg)
                held = {name: values[name] for name in HELD}
                row = Segment(media_id=media_id, kind=kind, parent_id=parent, space_id=None, detail=json.dumps(held),
                              vector=encode_vector(seg.vector) if seg.vector is not None else None,
                              **{name: values[name] for name in CARRIED})
                s.add(row)
                s.flush()
                rows.append(row)
            mark_jobs(s, media_id, {staging_name(space): mark})
            faults.point("commit")
            return sum(1 for seg in segments if seg.vector is not None)

    def swap_space(self, space: str, *, force: bool = False) -> Space:
        """Make a finished re-embed the space, in ONE transaction: the space's old segments go (with their
        full-text rows), the staged ones become its segments, the space row takes the new model (epoch bumped),
        the staging job marks become the space's, the affected files' words are indexed again, and the staging
        row goes. Returns the space row.

        The rule: it swaps only when every file of the space is staged (checked inside the transaction);
        otherwise it raises :class:`ReembedIncompleteError` and changes nothing. ``force`` swaps anyway: the
        files not staged lose their vectors in the space and their work there is pending again."""
        with self._writing() as s:
            row = s.scalar(select(Space).where(Space.name == space))
            staging = s.scalar(select(Space).where(Space.name == staging_name(space)))
            if row is None or staging is None:
                raise LibraryError(f"no re-embed of space {space!r} is under way")
            missing = _unstaged(s, space)
            if missing and not force:
                raise ReembedIncompleteError(space, missing)
            for media_id in missing:  # --force: their old vectors go below, their work is to be done again
                s.merge(FileJob(media_id=media_id, name=staging_name(space), state=JobState.FAILED,
                                model_id=None, error=missing[media_id], updated=utcnow()))
            s.flush()
            touched = _drop_space_segments(s, row.id)
            touched |= _promote(s, space, row.id)
            kinds = {int(m): k for m, k in s.execute(select(Media.id, Media.kind))}
            for job in list(s.scalars(select(FileJob).where(FileJob.name == staging_name(space)))):
                if space in WORK_BY_KIND.get(MediaKind(kinds[job.media_id]), ()):
                    state = job.state if job.state == JobState.DONE else JobState.PENDING
                    s.merge(FileJob(media_id=job.media_id, name=space, state=state, model_id=job.model_id,
                                    error=job.error, updated=utcnow()))
                s.delete(job)
            s.execute(update(Space).where(Space.id == row.id).values(
                model_id=staging.model_id, spec=staging.spec, dim=staging.dim))
            bump(s, {row.id})
            s.delete(staging)
            reword(s, sorted(touched))
            s.flush()
            s.refresh(row)
            return row

    def discard_staging(self, space: str) -> bool:
        """Drop an unfinished re-embed of ``space`` (its staged segments, marks and staging row); False: none."""
        with self._writing() as s:
            staging = s.scalar(select(Space).where(Space.name == staging_name(space)))
            if staging is None:
                return False
            _discard_staged(s, space)
            s.delete(staging)
            return True


def _drop_space_segments(s: Session, space_id: int) -> set[int]:
    """Delete a space's segments with their full-text rows (children detached); returns their media ids."""
    conn = s.connection()
    old = list(s.scalars(select(Segment.id).where(Segment.space_id == space_id)))
    touched = {int(m) for m in s.scalars(select(Segment.media_id).where(Segment.space_id == space_id).distinct())}
    for chunk in chunks(old):
        s.execute(update(Segment).where(Segment.parent_id.in_(chunk)).values(parent_id=None))
        fulltext.backend(conn).delete(conn, list(chunk))
        s.execute(delete(Segment).where(Segment.id.in_(chunk)))
    return touched


def _promote(s: Session, space: str, space_id: int) -> set[int]:
    """Turn the staged rows of ``space`` into its segments: every HELD column back from the JSON, the space set
    where a vector is; returns their media ids."""
    touched: set[int] = set()
    promoted: list[dict[str, Any]] = []
    for seg_id, media_id, detail, vector in s.execute(
            select(Segment.id, Segment.media_id, Segment.detail, Segment.vector)
            .where(Segment.kind == staged_kind(space))):
        held = json.loads(detail or "{}")
        touched.add(int(media_id))
        promoted.append({"sid": seg_id, **{f"new_{name}": held.get(name) for name in HELD},
                         "new_space": space_id if vector is not None else None})
    if promoted:
        table = Segment.__table__
        s.connection().execute(update(table).where(table.c.id == bindparam("sid")).values(
            space_id=bindparam("new_space"), **{name: bindparam(f"new_{name}") for name in HELD}), promoted)
    return touched


def _unstaged(s: Session, space: str) -> dict[int, str]:
    row = s.scalar(select(Space).where(Space.name == space))
    if row is None:
        return {}
    targets = set(s.scalars(select(Segment.media_id).where(Segment.space_id == row.id).distinct()))
    targets |= set(s.scalars(select(FileJob.media_id).where(FileJob.name == space, FileJob.state == JobState.DONE)))
    marks = {int(m): (st, err) for m, st, err in s.execute(
        select(FileJob.media_id, FileJob.state, FileJob.error).where(FileJob.name == staging_name(space)))}
    out: dict[int, str] = {}
    for media_id in sorted(int(m) for m in targets):
        state, error = marks.get(media_id, (None, None))
        if state != JobState.DONE:
            out[media_id] = error or "not re-embedded yet"
    return out


def _discard_staged(s: Session, space: str) -> None:
    s.execute(delete(Segment).where(Segment.kind == staged_kind(space)))
    s.execute(delete(FileJob).where(FileJob.name == staging_name(space)))
