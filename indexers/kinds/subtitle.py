"""Subtitle files (.srt, .vtt): merged cues, one timed ``subtitle`` segment each; ``clip.srt`` or
``clip.en.srt`` beside ``clip.mp4`` is linked to that video, so its cues are moments of the video."""
from __future__ import annotations

import os

import numpy as np

from mmsearch.catalog import NewSegment
from mmsearch.kinds import MediaKind, SegmentKind
from mmsearch.media.subtitles import merge_cues, parse_subtitles

from ..items import Decoded, Opened
from .base import DecodeInputs, KindHandler, Stage


class SubtitleHandler(KindHandler):
    kind = MediaKind.SUBTITLE

    def decode(self, opened: Opened, inputs: DecodeInputs, stage: Stage) -> Decoded:
        cues = merge_cues(parse_subtitles(opened.entry.path))
        return Decoded(opened.entry, opened.old, opened.fields, texts=[c.text for c in cues],
                       spans=[(c.start, c.end) for c in cues])

    def segments(self, item: Decoded, vectors: dict[str, list[np.ndarray]]) -> list[NewSegment]:
        return [NewSegment(kind=SegmentKind.SUBTITLE, vector=v, text=t, start=a, end=b, space=space)
                for space, vecs in vectors.items() for v, t, (a, b) in zip(vecs, item.texts, item.spans)]

    def link_keys(self, path: str) -> tuple[str, ...]:
        stem = os.path.splitext(path)[0]
        return (stem, os.path.splitext(stem)[0])  # clip.srt, clip.en.srt
