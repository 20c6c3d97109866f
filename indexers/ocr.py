"""The ``ocr`` job: text read in pictures becomes ``ocr`` segments.

An image gives at most one segment (start/end None) holding every line read in it; a video scene gives
one segment per stable text layout on its timeline (:func:`mmsearch.analysis.ocr_keyframes.read_scene_text`:
the detector probes the scene's sampled frames, the recogniser reads one frame per layout). A segment's
``text`` is the recognised lines in reading order (so the full-text index finds it), its ``detail`` the
JSON ``{"blocks": [{"text", "box", "confidence"}], "frame_time": t, "size": [w, h]}`` with the boxes in
the pixel coordinates of the ``size`` picture that was read (a page scales them onto its thumbnail).
The writer embeds the text in the sentence space ``text`` when that model is here (found by meaning too).

Cost: a picture is read through the reader's gate (``read(gated=True)``): one without text costs the
pixel test and a detector pass over its text-like crops at most, no recognition. The run reads text in
its own pass after the pictures are committed (indexers/deferred.py).
"""
from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence

from PIL import Image

from mmsearch.analysis.ocr_keyframes import read_scene_text
from mmsearch.catalog import NewSegment
from mmsearch.encoders.ocr import OcrReader, TextBlock, blocks_text
from mmsearch.errors import MediaError
from mmsearch.kinds import SegmentKind

JPEG_QUALITY = 90  # kept video frames: the layout comparison's noise at this quality is far below its threshold


def detail_json(blocks: Sequence[TextBlock], size: tuple[int, int], frame_time: float | None = None) -> str:
    """The JSON ``detail`` of an OCR segment (see the module docstring)."""
    return json.dumps({"blocks": [b.to_json() for b in blocks], "frame_time": frame_time, "size": list(size)})


def picture_segments(reader: OcrReader, image: Image.Image) -> list[NewSegment]:
    """The ``ocr`` segment of a whole picture ([] when no legible text is in it)."""
    blocks = reader.read(image, gated=True)
    if not blocks:
        return []
    return [NewSegment(kind=SegmentKind.OCR, text=blocks_text(blocks), detail=detail_json(blocks, image.size))]


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
