"""The text shown in a video: ``ocr`` segments per scene, on the span each text layout is shown.

A scene gives one segment per stable text layout on its timeline
(:func:`mmsearch.analysis.ocr_keyframes.read_scene_text`: the detector probes the scene's sampled frames, the
recogniser reads one frame per layout); the segment's ``text`` and ``detail`` are as for a picture
(indexers/ocr.py), its keyframe the frame that was read. The run's deferred pass (indexers/deferred.py) samples the
frames as the first pass sampled them (:func:`sampled_frames`) and reads them against the scenes the catalog
holds: the first pass keeps them (:func:`keep_frames`, JPEG in memory) and hands them over (:func:`hand_over`);
a video whose frames were not kept (too many, or the file changed since, or indexed in another process) is
sampled again. The detector's boxes of kept frames are remembered per picture (ahead.py: detected on the
first pass's idle decode thread, and never twice for identical pictures).
"""
from __future__ import annotations

import io
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, cast

from PIL import Image

from mmsearch.analysis.ocr_keyframes import read_scene_text
from mmsearch.catalog import NewSegment
from mmsearch.encoders.ocr import OcrReader
from mmsearch.errors import MediaError
from mmsearch.kinds import SegmentKind
from mmsearch.media.video import FrameSampler

from ...ocr import detail_json
from .ahead import Detections, Remembering, decoded, detect_ahead, digest
from .frames import SAMPLE_SIDE

JPEG_QUALITY = 90  # kept video frames: the layout comparison's noise at this quality is far below its threshold
# Kept frames waiting for the run's OCR pass, all videos together (about 2,000 frames of 448 px): a video whose
# frames would pass it is sampled again in that pass instead. Keeping costs ~1 ms of CPU a frame; sampling again
# ~14 ms (decord, 640x360 H.264, measured on this 2-core machine).
KEEP_BYTES = 64 * 2**20


class KeptFrames:
    """Sampled video frames kept (JPEG in memory, a few tens of KB each) for the OCR probes of each scene.
    ``limit`` (bytes): past it, every frame is dropped and ``full`` set (the frames are sampled again)."""

    def __init__(self, limit: int | None = None) -> None:
        self._frames: list[tuple[float, bytes]] = []
        self.limit = limit
        self.size = 0
        self.full = False
        self.detections = Detections()  # the detector's boxes of these pictures (ahead.py)

    def keep(self, time: float, image: Image.Image) -> None:
        if self.full:
            return
        buf = io.BytesIO()
        image.convert("RGB").save(buf, format="JPEG", quality=JPEG_QUALITY)
        self._frames.append((float(time), buf.getvalue()))
        self.size += len(self._frames[-1][1])
        if self.limit is not None and self.size > self.limit:
            self._frames, self.size, self.full = [], 0, True

    def encoded(self, start: float = float("-inf"), end: float = float("inf")) -> list[tuple[float, bytes]]:
        """The frames with ``start <= time < end`` as kept (JPEG), in time order."""
        return [(t, b) for t, b in sorted(self._frames) if start <= t < end]

    def between(self, start: float, end: float) -> list[tuple[float, Image.Image]]:
        """The frames with ``start <= time < end``, decoded, in time order."""
        return [(t, decoded(b)) for t, b in self.encoded(start, end)]

    def detect_ahead(self, reader: Any) -> Callable[[Callable[[], bool], list[float] | None], None]:
        """The first pass's idle work for ``reader``: the detector on these frames (ahead.py)."""
        return detect_ahead(self.encoded, self.detections, reader)


def scene_text_segments(reader: OcrReader, frames: KeptFrames, scenes: Sequence[NewSegment],
                        full_frame: Callable[[float], Image.Image]) -> list[NewSegment]:
    """The ``ocr`` segments of a video's ``scenes`` (scene segments: start, end, keyframe): each text span
    on its own start-end, its frame as keyframe. ``full_frame(t)`` gives the frame read at full size (a
    frame that cannot be decoded falls back to the sampled one)."""
    sizes: dict[float, tuple[int, int]] = {}
    detector = Remembering(reader, frames.detections)
    probing = cast(OcrReader, detector)  # a reader whose detect answers from what is known (ahead.py)

    def full(t: float) -> Image.Image | None:
        try:
            image = full_frame(t)
        except MediaError:
            return None
        sizes[round(t, 3)] = image.size
        return image

    out: list[NewSegment] = []
    for scene in scenes:
        start, end = float(scene.start or 0.0), float(scene.end or 0.0)
        kept = [(t, decoded(b), digest(b)) for t, b in frames.encoded(start, end)]
        if not kept:
            continue
        detector.know([(image, key) for _, image, key in kept])
        sampled = [(t, image) for t, image, _ in kept]
        fallback = sampled[0][1].size
        for span in read_scene_text(probing, sampled, start, end, keyframe_time=scene.keyframe, full_frame=full):
            size = sizes.get(span.frame_time, fallback)
            out.append(NewSegment(kind=SegmentKind.OCR, text=span.text, start=span.start, end=span.end,
                                  keyframe=span.frame_time, detail=detail_json(span.blocks, size, span.frame_time)))
    return out


_waiting: OrderedDict[tuple, KeptFrames] = OrderedDict()  # handed over by the first pass, oldest first
_waiting_lock = threading.Lock()


def _key(path: str, interval: float) -> tuple | None:
    """The file as it is now (path, size, mtime) and the sampling: frames kept of other content never match."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (path, st.st_size, st.st_mtime_ns, float(interval))


def keep_frames() -> KeptFrames:
    """An empty :class:`KeptFrames` for the first pass to fill (``keep`` on the decode thread), bounded by
    :data:`KEEP_BYTES`."""
    return KeptFrames(limit=KEEP_BYTES)


def hand_over(path: str, interval: float, kept: KeptFrames) -> None:
    """Keep a video's sampled frames for the OCR pass of this process (:func:`sampled_frames` takes them);
    the oldest are dropped past :data:`KEEP_BYTES` in all (those videos are sampled again)."""
    key = _key(path, interval)
    if key is None or kept.full:
        return
    with _waiting_lock:
        _waiting.pop(key, None)
        _waiting[key] = kept
        total = sum(k.size for k in _waiting.values())
        while total > KEEP_BYTES and _waiting:
            total -= _waiting.popitem(last=False)[1].size


def release_all() -> None:
    """Drop every video's frames still waiting for this process's OCR pass."""
    with _waiting_lock:
        _waiting.clear()


def sampled_frames(path: str, interval: float) -> KeptFrames:
    """A video's frames sampled as the first pass samples them (every ``interval`` s, at most 448 px), kept:
    the first pass's own when it handed them over for the file as it is now (taken: used once), else sampled
    again."""
    key = _key(path, interval)
    with _waiting_lock:
        handed = _waiting.pop(key, None) if key is not None else None
    if handed is not None:
        return handed
    kept = KeptFrames()
    with FrameSampler(path, interval=interval, max_side=SAMPLE_SIDE) as sampler:
        for frame in sampler:
            kept.keep(frame.time, frame.image)
    return kept
