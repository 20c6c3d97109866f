"""Switch one space to another model in place: ``reembed(ctx, space, spec)``.

Each file's work in the space is done again with the new model and *staged* (catalog.stage_segments: rows
no query, listing or check sees), one transaction per file with a job mark under the staging name, so a
re-embed killed at any point leaves the old space whole, still answering queries, and a second run resumes
where the first stopped (files already staged are skipped; a run with yet another model starts over).
When every file is staged, ONE transaction swaps (catalog.swap_space) and the space's index is rebuilt
from the stored vectors and saved. Other spaces are untouched.

Nothing is discarded that could not be redone: when a file fails (its drive is offline, it changed, it no
longer decodes) the run stops before the swap (``report.swapped`` is False, ``report.failures`` names every
file not staged and why), the old space stays whole and searchable, and the next run retries the files that
failed and resumes. ``force=True`` swaps anyway; ``report.lost`` files then lose their vectors in the space
(their work there is pending for the next index run).

What a file's work in a space is, by table (:data:`WORK`): pictures are decoded again (an image; a video's
frames, cut into scenes anew by the new model), sound windows too; every text the space holds (notes,
captions, subtitle cues, transcripts) is embedded again from its stored text — no file is read and nothing
is transcribed again.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mmsearch.analysis.tokens import passage
from mmsearch.catalog import JobMark, Media, NewSegment
from mmsearch.context import Context
from mmsearch.errors import MediaError, MmsearchError
from mmsearch.kinds import READ_KINDS, JobState, MediaKind, Space

from .items import Decoded, Failed, FileEntry, Opened, Timed
from .kinds import HANDLERS, DecodeInputs, Stage, TimedInputs
from .kinds.soundtrack import sound_segments
from .report import Progress
from .spaces import batch_size


@dataclass
class ReembedReport:
    """What a re-embed did. ``failures``: (path, reason) of every file of the space not re-embedded; then the
    space is not switched (``swapped`` False), unless ``force`` switched it anyway: ``lost`` files then hold
    nothing in the space, and their work is pending (the next index run does it with the new model)."""

    space: str
    old_model: str
    model: str
    files: int = 0  # files with work in the space
    reembedded: int = 0  # staged by this run
    resumed: int = 0  # staged by an earlier, interrupted run
    vectors: int = 0  # vectors of the space (after the swap, or the old ones when it did not swap)
    swapped: bool = False  # the space now holds the new model's vectors
    lost: int = 0  # files that lost their vectors in the space (only with force)
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["failures"] = [{"path": p, "reason": r} for p, r in self.failures]
        d["seconds"] = round(self.seconds, 3)
        return d


@dataclass(frozen=True)
class Staged:
    """One file's new segments (``parents``: absolute parent ids of re-embedded texts that had one)."""

    segments: list[NewSegment]
    parents: list[int | None] | None = None


class Reembedding:
    """A re-embed's context: the library, the new encoder, its batch size."""

    def __init__(self, ctx: Context, space: Space, encoder: Any) -> None:
        self.ctx, self.space, self.encoder = ctx, space, encoder
        self.batch_size = batch_size(ctx.settings, encoder)


Work = Callable[[Reembedding, Sequence[Media]], list["Staged | Exception"]]


def reembed(ctx: Context, space: str, spec: str, progress: Progress | None = None, *,
            force: bool = False) -> ReembedReport:
    """Re-embed ``space`` of ``ctx``'s library with the model ``spec`` (see module docstring)."""
    t0 = time.monotonic()
    try:
        name = Space(space)
    except ValueError:
        raise MmsearchError(f"unknown space {space!r}; choose from {', '.join(Space)}") from None
    library, catalog = ctx.library, ctx.catalog
    with library.writing():  # LibraryLockedError while an index run writes
        row = catalog.space(name)
        if row is None:
            raise MmsearchError(f"this library has no {name} space yet: index with "
                                f"{ctx.models.setting_hint(name)} to embed it with that model")
        encoder = ctx.models.load_unchecked(name, spec)
        report = ReembedReport(str(name), row.model_id, encoder.model_id)
        if encoder.model_id == row.model_id:
            catalog.discard_staging(name)  # an unfinished switch away from this model is abandoned
            report.vectors = library.index(row).ntotal
            report.seconds = time.monotonic() - t0
            report.swapped = True
            return report
        catalog.staging_space(name, encoder.model_id, encoder.dim, spec)
        targets = catalog.reembed_targets(name)
        staged = catalog.staged_media(name)
        report.files, report.resumed = len(targets), len(staged & set(targets))
        todo = [m for m in (catalog.media_by_id(i) for i in targets if i not in staged) if m is not None]
        job = Reembedding(ctx, name, encoder)
        if progress:
            progress.start(len(todo))
        try:
            _stage_all(job, todo, report, progress)
        finally:
            if progress:
                progress.stop()
        missing = catalog.unstaged(name)
        report.failures = _named(catalog, missing)
        if missing and not force:
            report.vectors = library.index(row).ntotal
            report.seconds = time.monotonic() - t0
            return report
        swapped = catalog.swap_space(name, force=force)
        report.swapped, report.lost = True, len(missing)
        library.rebuild(swapped)
        library.save(force=True)
        library.index_path(f"{name}~next").unlink(missing_ok=True)
        ctx.backgrounds.forget(name)
        ctx.models.adopt(encoder, spec)
        ctx.settings = ctx.models.settings
        report.vectors = library.index(swapped).ntotal
    report.seconds = time.monotonic() - t0
    return report


def _stage_all(job: Reembedding, todo: list[Media], report: ReembedReport, progress: Progress | None) -> None:
    """Stage every file of ``todo``, grouped by their work (a group's pictures share encoder batches)."""
    catalog = job.ctx.catalog
    groups: dict[Work, list[Media]] = {}
    for media in todo:
        groups.setdefault(WORK.get((job.space, MediaKind(media.kind)), restored_texts), []).append(media)
    for work, files in groups.items():
        for start in range(0, len(files), job.batch_size):
            chunk = files[start : start + job.batch_size]
            for media, done in zip(chunk, work(job, chunk)):
                if isinstance(done, Exception):
                    why = Failed.of(FileEntry(media.path, media.size, media.mtime, MediaKind(media.kind)),
                                    "decode", done).message
                    catalog.stage_segments(media.id, job.space, [], JobMark(JobState.FAILED, None, why))
                else:
                    catalog.stage_segments(media.id, job.space, done.segments,
                                           JobMark(JobState.DONE, job.encoder.model_id), done.parents)
                    report.reembedded += 1
                if progress:
                    progress.advance(1, media.path)


def _named(catalog: Any, missing: dict[int, str]) -> list[tuple[str, str]]:
    """(path, why) of the files not staged, in path order."""
    paths = {m.id: m.path for m in (catalog.media_by_id(i) for i in missing) if m is not None}
    return sorted((paths.get(i, f"media {i}"), why) for i, why in missing.items())


# -- the work of one space for one kind of file ---------------------------------------------------------
def restored_texts(job: Reembedding, files: Sequence[Media]) -> list[Staged | Exception]:
    """The texts a file holds in the space (passages, captions, cues, transcripts), embedded again from
    their stored text: same kind, times and words, a new vector."""
    out: list[Staged | Exception] = []
    for media in files:
        rows = job.ctx.catalog.stored_texts(media.id, job.space)
        vectors = _encode_texts(job, [passage(r.text, r.kind in READ_KINDS) for r in rows])  # as first embedded
        own = {r.id for r in rows}
        out.append(Staged(
            [NewSegment.again(r, v) for r, v in zip(rows, vectors)],  # every declared column kept
            [r.parent_id if r.parent_id not in own else None for r in rows],
        ))
    return out


def images(job: Reembedding, files: Sequence[Media]) -> list[Staged | Exception]:
    """Images decoded again and encoded in one batch."""
    handler = HANDLERS[MediaKind.IMAGE]
    inputs = DecodeInputs(job.ctx.settings, job.encoder)
    decoded: list[Decoded | Exception] = []
    for media in files:
        try:
            data = _read(media, handler.read_limit)
            item = handler.decode(Opened(_entry(media), None, {"path": media.path}, data), inputs, Stage("decode"))
            if isinstance(item, Failed):
                raise MediaError(item.message)
            assert isinstance(item, Decoded)
            decoded.append(item)
        except Exception as exc:  # noqa: BLE001 - one bad file must never stop a re-embed
            decoded.append(exc)
    pictures = [img for d in decoded if isinstance(d, Decoded) for img in d.images]
    vectors = iter(list(job.encoder.encode_prepared(pictures)) if pictures else [])
    out: list[Staged | Exception] = []
    for d in decoded:
        if isinstance(d, Exception):
            out.append(d)
        else:
            out.append(Staged(handler.segments(d, {job.space: [next(vectors) for _ in d.images]})))
    return out


def videos(job: Reembedding, files: Sequence[Media]) -> list[Staged | Exception]:
    """Videos: frames sampled and encoded again, cut into scenes by the new model (the soundtrack is not
    this space's work)."""
    handler = HANDLERS[MediaKind.VIDEO]
    inputs = TimedInputs(job.ctx.settings, job.encoder, job.batch_size)
    out: list[Staged | Exception] = []
    for media in files:
        try:
            _unchanged(media)
            out.append(Staged(handler.index(Timed(_entry(media), None, {}), inputs, {job.space}).segments))
        except Exception as exc:  # noqa: BLE001 - handed to the caller, which reports it per file
            out.append(exc)
    return out


def sounds(job: Reembedding, files: Sequence[Media]) -> list[Staged | Exception]:
    """Sound windows decoded again and encoded with the new CLAP model."""
    out: list[Staged | Exception] = []
    for media in files:
        try:
            _unchanged(media)
            out.append(Staged(sound_segments(media.path, float(media.duration or 0.0), job.encoder)))
        except Exception as exc:  # noqa: BLE001 - handed to the caller, which reports it per file
            out.append(exc)
    return out


# (space, kind) -> the work; a pair not named here holds texts only (restored_texts).
WORK: dict[tuple[Space, MediaKind], Work] = {
    (Space.CLIP, MediaKind.IMAGE): images,
    (Space.CLIP, MediaKind.VIDEO): videos,
    (Space.AUDIO, MediaKind.AUDIO): sounds,
    (Space.AUDIO, MediaKind.VIDEO): sounds,
}


def _encode_texts(job: Reembedding, texts: list[str]) -> list[Any]:
    vectors: list[Any] = []
    for i in range(0, len(texts), job.batch_size):
        vectors += list(job.encoder.encode_text(texts[i : i + job.batch_size]))
    return vectors


def _entry(media: Media) -> FileEntry:
    return FileEntry(media.path, media.size, media.mtime, MediaKind(media.kind))


def _unchanged(media: Media) -> None:
    """Raise when the file is not the one indexed (gone, or changed: the next index run redoes it whole)."""
    try:
        st = os.stat(media.path)
    except FileNotFoundError:
        raise FileNotFoundError(media.path) from None
    if st.st_size != media.size or abs(st.st_mtime - media.mtime) > 1e-6:
        raise MediaError("changed on disk since it was indexed (the next index run indexes it again)")


def _read(media: Media, limit: int | None) -> bytes | None:
    _unchanged(media)
    if limit is None:
        return None
    with open(media.path, "rb") as fh:
        return fh.read(limit + 1)
