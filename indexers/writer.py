"""The writer: batches decoded files -> encodes -> commits -> applies to the in-memory index -> saves.

Images and texts are encoded many files at a time and each batch commits in ONE transaction; a timed
file (video, audio) is indexed by its handler and committed in one transaction of its own. A batch
that breaks the encoder is retried file by file, so only the file that breaks it fails. Snapshots are
saved at most every 30 s (Library.save); the run forces the last one.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mmsearch import _faults as faults
from mmsearch.catalog import JobMark, Media, NewSegment, WriteResult
from mmsearch.context import Context
from mmsearch.errors import MediaError
from mmsearch.kinds import Job, JobState, MediaKind
from mmsearch.media.metadata import read_header

from .encode import BatchEncoder
from .items import Decoded, Failed, FileEntry, Item, Opened, Same, Timed
from .kinds import HANDLERS, DecodeInputs, Stage, TimedResult
from .report import Tally
from .spaces import RunModels


class Writer:
    """Takes what the decode step produced, in order, on one thread."""

    def __init__(self, ctx: Context, models: RunModels, tally: Tally) -> None:
        self.catalog, self.library, self.tally = ctx.catalog, ctx.library, tally
        self.models = models
        self.encoding = BatchEncoder(models)
        self.encoder, self.space, self.batch_size = models.encoder, models.space, models.batch_size
        self.batch: list[Decoded] = []
        self.units = 0
        self.moved_from: set[str] = set()  # old paths of moved files: not removals
        self._take: dict[type, Callable[[Any], None]] = {
            Decoded: self._queue, Timed: self._timed, Same: self._same, Failed: self._failed,
        }

    def take(self, item: Item) -> None:
        self._take[type(item)](item)

    def flush(self) -> None:
        """Encode and commit the queued files (one transaction), then mirror them in the index."""
        if not self.batch:
            return
        batch, self.batch, self.units = self.batch, [], 0
        try:
            vectors = self._encoded(batch)
        except Exception:  # isolate the file that breaks the encoder
            if len(batch) == 1:
                raise
            for item in batch:
                self.batch = [item]
                try:
                    self.flush()
                except Exception as exc:  # noqa: BLE001 - one failed file, reported; the batch goes on
                    self.take(Failed(item.entry, "encode", f"{type(exc).__name__}: {exc}"))
            return
        faults.point("encode")
        items = [(item.fields, HANDLERS[item.entry.kind].segments(item, vecs)) for item, vecs in zip(batch, vectors)]
        marks = [_with_errors(self.models.marks(item.entry.kind), item.job_errors) for item in batch]
        result = self.catalog.write_media(items, self._space_name, replace_ids=[i.old.id for i in batch if i.old],
                                          jobs=marks)
        faults.point("apply")
        self.library.apply(result, self.space)
        self.library.save()
        for item in batch:
            self.tally.indexed(item.entry.path, replaced=item.old is not None)

    def _encoded(self, batch: list[Decoded]) -> list[dict[str, list[np.ndarray]]]:
        """Each file's vectors: encoded here, or as they came already encoded (``item.vectors``: a cluster run's
        encode actors did it, with the same :class:`~.encode.BatchEncoder`)."""
        vectors = iter(self.encoding.vectors([item for item in batch if item.vectors is None]))
        return [item.vectors if item.vectors is not None else next(vectors) for item in batch]

    def remove(self, media_ids: Sequence[int]) -> None:
        """Delete media whose files are gone, from the catalog (one transaction) and then the index."""
        removed = self.catalog.remove_media(media_ids)
        faults.point("remove")
        self.library.apply(WriteResult([], {}, removed))
        self.tally.removed(len(media_ids))

    @property
    def _space_name(self) -> str | None:
        return self.space.name if self.space is not None else None

    def _queue(self, item: Decoded) -> None:
        self.batch.append(item)
        self.units += item.units
        if self.units >= self.batch_size:
            self.flush()

    def _same(self, item: Same) -> None:
        if item.moved:
            self.moved_from.add(item.media.path)
        self.catalog.touch_media(item.media.id, size=item.entry.size, mtime=item.entry.mtime,
                                 path=item.entry.path if item.moved else None)
        self.tally.same(item.entry.path, item.moved)

    def _failed(self, item: Failed) -> None:
        entry = item.entry
        self.catalog.record_error(entry.path, item.stage, item.message, entry.size, entry.mtime)
        self.tally.failed(entry.path, item.message)

    def _timed(self, job: Timed) -> None:
        """Index one video or audio file through its handler and commit it in one transaction."""
        # the models load outside the file's try: a model the library cannot use (another model than the one
        # recorded) stops the run with its one line, as marking the file would; it is not this file's failure
        inputs = self.models.timed_inputs(job.entry.kind)
        try:
            done = HANDLERS[job.entry.kind].index(job, inputs)
        except Exception as exc:  # noqa: BLE001 - one bad file must never stop a run
            self._failed(Failed.of(job.entry, "decode", exc))
            return
        self.commit_timed(job, done)

    def commit_timed(self, job: Timed, done: TimedResult) -> None:
        """Commit a timed file indexed already (here, or by a cluster run's encode actors)."""
        self._commit_one(job, done.segments, done.notes, done.job_errors)

    def _commit_one(self, job: Timed, segments: list[NewSegment], notes: list[str],
                    job_errors: dict[str, str] | None = None) -> None:
        result = self.catalog.write_media([(job.fields, segments)], self._space_name,
                                          replace_ids=[job.old.id] if job.old else [],
                                          jobs=[_with_errors(self.models.marks(job.entry.kind), job_errors or {})])
        self.library.apply(result)
        if notes:
            # Indexed what could be decoded; keep a visible note in `mmsearch errors`.
            self.catalog.record_error(job.entry.path, "decode", "; ".join(notes), job.entry.size, job.entry.mtime)
        self.library.save()
        self.tally.indexed(job.entry.path, replaced=job.old is not None)

    def backfill(self, media: Media, names: set[str]) -> None:
        """Do the pending work ``names`` of a file already in the library, without touching its other
        segments: decode it once for all of them, encode, commit in one transaction with its job marks.
        The ``metadata`` job reads the file's header only (EXIF, container tags) into its media row."""
        handler = HANDLERS[MediaKind(media.kind)]
        entry = FileEntry(media.path, media.size, media.mtime, MediaKind(media.kind))
        errors: dict[str, str] = {}
        fields = read_header(media.path, handler.timed).fields() if Job.METADATA in names else None
        work = names - {Job.METADATA}
        segments: list[NewSegment] = []
        timed = self.models.timed_inputs(entry.kind, work) if handler.timed and work else None  # as in _timed
        try:
            if not work:
                pass
            elif timed is not None:
                done = handler.index(Timed(entry, None, {}), timed, work)
                segments, errors = done.segments, done.job_errors
            else:
                data = None
                if handler.read_limit is not None:
                    with open(media.path, "rb") as fh:
                        data = fh.read(handler.read_limit + 1)
                opened = Opened(entry, None, {"path": media.path}, data)
                inputs = DecodeInputs(self.models.ctx.settings, self.encoder)
                item = handler.decode(opened, inputs, Stage("decode"))
                faults.point("decode")
                if isinstance(item, Failed):
                    raise MediaError(item.message)
                assert isinstance(item, Decoded)
                vectors = self.encoding.vectors([item], spaces=work)[0]
                segments = handler.segments(item, vectors)
                errors = item.job_errors
        except Exception as exc:  # noqa: BLE001 - one bad file must never stop a run
            failed = Failed.of(entry, "decode", exc)
            marks = {n: JobMark(JobState.FAILED, None, failed.message) for n in work}
            self.catalog.set_jobs(media.id, marks)
            self.tally.unreadable(entry.path, failed.message)
            if fields is None:
                return
            names, segments, errors = {Job.METADATA}, [], {}  # what the header said is kept
        faults.point("encode")
        marks = _with_errors(self.models.marks(entry.kind, only=names), errors)
        result = self.catalog.add_segments(media.id, segments, marks, fields=fields, space_name=self._space_name)
        faults.point("apply")
        self.library.apply(result)
        self.library.save()
        if any(mark.state == JobState.DONE for mark in marks.values()):
            self.tally.backfilled(entry.path)  # work was done, not only re-marked pending


def _with_errors(marks: dict[str, JobMark], errors: dict[str, str]) -> dict[str, JobMark]:
    """A file's job marks, the jobs that failed on it marked failed with their reason."""
    return {**marks, **{n: JobMark(JobState.FAILED, None, why) for n, why in errors.items() if n in marks}}
