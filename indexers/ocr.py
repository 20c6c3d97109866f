"""The ``ocr`` job: text read in pictures becomes ``ocr`` segments.

An image gives at most one segment (start/end None) holding every line read in it; a video scene gives
one segment per stable text layout on its timeline (indexers/kinds/video/text.py). A segment's
``text`` is the recognised lines in reading order (so the full-text index finds it), its ``detail`` the
JSON ``{"blocks": [{"text", "box", "confidence"}], "frame_time": t, "size": [w, h]}`` with the boxes in
the pixel coordinates of the ``size`` picture that was read (a page scales them onto its thumbnail).
The writer embeds the text in the sentence space ``text`` when that model is here (found by meaning too).

Cost: a picture is read through the reader's gate (``read(gated=True)``): one without text costs the
pixel test and a detector pass over its text-like crops at most, no recognition. The run reads text in
its own pass after the pictures are committed (indexers/deferred.py).
"""
from __future__ import annotations

import json
from collections.abc import Sequence

from PIL import Image

from mmsearch.catalog import NewSegment
from mmsearch.encoders.ocr import OcrReader, TextBlock, blocks_text
from mmsearch.kinds import SegmentKind


def detail_json(blocks: Sequence[TextBlock], size: tuple[int, int], frame_time: float | None = None) -> str:
    """The JSON ``detail`` of an OCR segment (see the module docstring)."""
    return json.dumps({"blocks": [b.to_json() for b in blocks], "frame_time": frame_time, "size": list(size)})


def picture_segments(reader: OcrReader, image: Image.Image) -> list[NewSegment]:
    """The ``ocr`` segment of a whole picture ([] when no legible text is in it)."""
    blocks = reader.read(image, gated=True)
    if not blocks:
        return []
    return [NewSegment(kind=SegmentKind.OCR, text=blocks_text(blocks), detail=detail_json(blocks, image.size))]
