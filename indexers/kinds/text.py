"""Notes and captions (.txt, .md): split into passages, one ``text`` segment each. A ``.txt`` beside an
image or video (``photo.txt`` or ``photo.jpg.txt``) is also linked to it as its caption."""
from __future__ import annotations

import numpy as np

from mmsearch.catalog import NewSegment
from mmsearch.kinds import MediaKind, SegmentKind
from mmsearch.media.text import passages, read_text

from ..items import Decoded, Failed, Opened
from .base import DecodeInputs, KindHandler, Stage

CAPTION_SUFFIX = ".txt"


class TextHandler(KindHandler):
    kind = MediaKind.TEXT

    def decode(self, opened: Opened, inputs: DecodeInputs, stage: Stage) -> Decoded | Failed:
        parts = passages(read_text(opened.entry.path, inputs.settings.max_text_chars))
        if not parts:
            return Failed(opened.entry, "decode", "empty text file")
        return Decoded(opened.entry, opened.old, opened.fields, texts=parts)

    def segments(self, item: Decoded, vectors: dict[str, list[np.ndarray]]) -> list[NewSegment]:
        return [NewSegment(kind=SegmentKind.TEXT, vector=v, text=t, space=space)
                for space, vecs in vectors.items() for v, t in zip(vecs, item.texts)]

    def link_keys(self, path: str) -> tuple[str, ...]:
        return (path[: -len(CAPTION_SUFFIX)],) if path.endswith(CAPTION_SUFFIX) else ()
