"""The deferred pass: the slow extra jobs (``ocr``) over the files the run's first pass committed.

The first pass embeds every file's pictures, sounds and speech and commits them, marking each file's
``ocr`` job *pending* (indexers/spaces.py, ``DEFERRED``): the library answers visual and speech queries
as soon as that pass is over, at the image tower's speed. Then this pass reads the text of every file
whose ``ocr`` is pending, under the run's roots and unchanged on disk, one file per transaction (its
``ocr`` segments and its job mark together), with its own progress line. A run killed during it leaves
the rest pending; the next run's pass does them (an unchanged file is not re-indexed: only its text is
read). Each kind's handler says what is read (``text_source`` on a worker thread, ``read_text`` here):

- a picture (indexers/kinds/image.py): decoded as the first pass decodes it (``load_image``, at most
  1024 px), then :func:`indexers.ocr.picture_segments` (the gated reader: the detector only where the
  pixel test sees text);
- a video (indexers/kinds/video/): the frames the first pass sampled (every ``video_interval`` s, 448 px),
  which it kept in memory for this pass (bounded; a video whose frames were not kept, or that changed, is
  sampled again), read per scene of the catalog (text.py); a video without scenes yet (its clip work
  pending) stays pending. Whatever was kept is dropped when the run ends, this pass run or not (``release_kept``).

Files are decoded in worker threads a few ahead of the reader, which runs on this thread.
"""
from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mmsearch import _faults as faults
from mmsearch.catalog import JobMark, Media, NewSegment
from mmsearch.config import Settings
from mmsearch.context import Context
from mmsearch.kinds import Job, JobState, MediaKind, SegmentKind

from .items import Failed, FileEntry
from .kinds import HANDLERS
from .report import Tally
from .spaces import DEFERRED, RunModels

AHEAD = 2  # decoded files waiting for the reader, per worker


def release_kept() -> None:
    """Drop what the first pass kept in memory for this pass (the run's end, whether the pass ran or not)."""
    for handler in HANDLERS.values():
        handler.release_kept()


def without_deferred(pending: dict[int, set[str]]) -> dict[int, set[str]]:
    """Pending work less the deferred jobs (this module does those), files left with none dropped."""
    out = {m: names - DEFERRED for m, names in pending.items()}
    return {m: names for m, names in out.items() if names}


def run_deferred(ctx: Context, models: RunModels, tally: Tally, roots: list[Path],
                 under: Callable[[Media | None, list[Path]], bool]) -> None:
    """The ``ocr`` pass (see the module docstring); records its time in ``tally.report.passes``."""
    t0, cpu0 = time.monotonic(), time.process_time()
    models.deferring = False
    catalog = ctx.catalog
    pending = catalog.pending([Job.OCR])
    reader = models.ocr_reader() if pending else None
    if reader is None:  # nothing to read, or no reader (one warning; the files stay pending)
        return
    todo = [m for m in (catalog.media_by_id(i) for i in sorted(pending))
            if m is not None and under(m, roots) and _unchanged(m)]
    tally.start_pass("reading text", len(todo))
    workers = ctx.settings.decode_workers
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mmsearch-ocr-decode") as pool:
        waiting: deque[tuple[Media, Future]] = deque()
        for media in todo:
            waiting.append((media, pool.submit(_decoded, media, ctx.settings)))
            if len(waiting) >= workers * AHEAD:
                _read(ctx, models, reader, tally, *waiting.popleft())
        while waiting:
            _read(ctx, models, reader, tally, *waiting.popleft())
    tally.pass_done(Job.OCR.value, time.monotonic() - t0, len(todo), time.process_time() - cpu0)


def _unchanged(media: Media) -> bool:
    """Whether the file is still as the catalog has it (changed or gone: the next run re-indexes it)."""
    try:
        st = os.stat(media.path)
    except OSError:
        return False
    return st.st_size == media.size and abs(st.st_mtime - media.mtime) <= 1e-6


def _decoded(media: Media, settings: Settings) -> Any:
    """What the reader needs of a file (its kind's handler says), decoded on a worker thread."""
    return HANDLERS[MediaKind(media.kind)].text_source(media.path, settings)


def _read(ctx: Context, models: RunModels, reader: Any, tally: Tally, media: Media, decoded: Future) -> None:
    """Read one file's text and commit it with its ``ocr`` mark (failed, with the reason, when it breaks)."""
    entry = FileEntry(media.path, media.size, media.mtime, MediaKind(media.kind))
    segments: list[NewSegment] = []
    try:
        def scenes() -> list[NewSegment]:
            return [_scene(s) for s in ctx.catalog.segments_of_media(media.id, [SegmentKind.SCENE])]

        read = HANDLERS[entry.kind].read_text(reader, decoded.result(), media.path, scenes)
        if read is None:  # waits on other work (a video's text on its scenes): stays pending
            tally.pass_file(media.path, done=False)
            return
        segments = models.embed_texts(read)
        marks = models.marks(entry.kind, only={Job.OCR})
    except Exception as exc:  # noqa: BLE001 - one file's text never stops the pass
        segments, marks = [], {Job.OCR: JobMark(JobState.FAILED, None, Failed.of(entry, "ocr", exc).message)}
    faults.point("ocr")
    result = ctx.catalog.add_segments(media.id, segments, marks)
    ctx.library.apply(result)
    ctx.library.save()
    tally.pass_file(media.path)


def _scene(row: Any) -> NewSegment:
    return NewSegment(kind=SegmentKind.SCENE, start=row.start, end=row.end, keyframe=row.keyframe)
