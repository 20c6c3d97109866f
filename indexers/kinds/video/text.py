"""The text shown in a video: ``ocr`` segments per scene, on the span each text layout is shown.

A scene gives one segment per stable text layout on its timeline
(:func:`mmsearch.analysis.ocr_keyframes.read_scene_text`: the detector probes the scene's sampled frames, the
recogniser reads one frame per layout); the segment's ``text`` and ``detail`` are as for a picture
(indexers/ocr.py), its keyframe the frame that was read. The run's deferred pass (indexers/deferred.py) samples the
frames again as the first pass sampled them (:func:`sampled_frames`) and reads them against the scenes the catalog
holds.
"""
from __future__ import annotations

import io
from collections.abc import Callable, Sequence

from PIL import Image

from mmsearch.analysis.ocr_keyframes import read_scene_text
from mmsearch.catalog import NewSegment
from mmsearch.encoders.ocr import OcrReader
from mmsearch.errors import MediaError
from mmsearch.kinds import SegmentKind
from mmsearch.media.video import FrameSampler

from ...ocr import detail_json
from .frames import SAMPLE_SIDE

JPEG_QUALITY = 90  # kept video frames: the layout comparison's noise at this quality is far below its threshold


class KeptFrames:
    """Sampled video frames kept (JPEG in memory, a few tens of KB each) for the OCR probes of each scene."""

    def __init__(self) -> None:
        self._frames: list[tuple[float, bytes]] = []

    def keep(self, time: float, image: Image.Image) -> None:
        buf = io.BytesIO()
        image.convert("RGB").save(buf, format="JPEG", quality=JPEG_QUALITY)
        self._frames.append((float(time), buf.getvalue()))

    def between(self, start: float, end: float) -> list[tuple[float, Image.Image]]:
        """The frames with ``start <= time < end``, decoded, in time order."""
        return [(t, Image.open(io.BytesIO(b)).convert("RGB")) for t, b in sorted(self._frames) if start <= t < end]


def scene_text_segments(reader: OcrReader, frames: KeptFrames, scenes: Sequence[NewSegment],
                        full_frame: Callable[[float], Image.Image]) -> list[NewSegment]:
    """The ``ocr`` segments of a video's ``scenes`` (scene segments: start, end, keyframe): each text span
    on its own start-end, its frame as keyframe. ``full_frame(t)`` gives the frame read at full size (a
    frame that cannot be decoded falls back to the sampled one)."""
    sizes: dict[float, tuple[int, int]] = {}

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
        sampled = frames.between(start, end)
        if not sampled:
            continue
        fallback = sampled[0][1].size
        for span in read_scene_text(reader, sampled, start, end, keyframe_time=scene.keyframe, full_frame=full):
            size = sizes.get(span.frame_time, fallback)
            out.append(NewSegment(kind=SegmentKind.OCR, text=span.text, start=span.start, end=span.end,
                                  keyframe=span.frame_time, detail=detail_json(span.blocks, size, span.frame_time)))
    return out


def sampled_frames(path: str, interval: float) -> KeptFrames:
    """A video's frames sampled as the first pass samples them (every ``interval`` s, at most 448 px), kept."""
    kept = KeptFrames()
    with FrameSampler(path, interval=interval, max_side=SAMPLE_SIDE) as sampler:
        for frame in sampler:
            kept.keep(frame.time, frame.image)
    return kept
