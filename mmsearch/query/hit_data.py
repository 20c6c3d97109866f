"""What a page (or any caller) shows of each hit beyond the hit itself: its file name, the media a caption
links to, which part of each file a preview shows, and where the text read in a picture is (OCR boxes).

:func:`describe_hits` resolves the linked media of all hits in one catalog query, and the OCR boxes of all
hits in one more, however many hits.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mmsearch.context import Context
from mmsearch.hits import Hit
from mmsearch.media.previews import Window, window
from mmsearch.presence import mark_hits


@dataclass(frozen=True)
class LinkedMedia:
    """The indexed file a hit's caption (or subtitle track) describes."""

    id: int
    kind: str
    path: str

    @property
    def preview(self) -> Window | None:
        """What a preview of the whole linked file shows (None: it has no preview)."""
        return window(self.kind)


@dataclass(frozen=True)
class HitData:
    """A hit with what is needed to show it."""

    hit: Hit
    linked: LinkedMedia | None = None
    ocr: dict[str, Any] | None = None  # the matched OCR segment's detail: {"blocks", "frame_time", "size"}

    @property
    def boxes(self) -> list[list[list[float]]] | None:
        """The matched OCR text's boxes (four corners each, pixels of :attr:`boxes_size`); None when no OCR
        matched, or when the preview shows another frame than the one read (a video hit's keyframe)."""
        if not self.ocr:
            return None
        read_at, shown = self.ocr.get("frame_time"), self.hit.keyframe
        if read_at is not None and shown is not None and abs(float(read_at) - float(shown)) > 0.05:
            return None
        return [b["box"] for b in self.ocr.get("blocks", [])]

    @property
    def boxes_size(self) -> list[int] | None:
        """``[width, height]`` of the picture the boxes are in (the page scales them onto its thumbnail)."""
        return list(self.ocr["size"]) if self.ocr and self.ocr.get("size") else None

    @property
    def name(self) -> str:
        return os.path.basename(self.hit.path)

    @property
    def preview(self) -> Window | None:
        """What the hit's preview shows: the image, a video moment's keyframe, an audio window (None: no preview)."""
        return window(self.hit.kind, self.hit.start, self.hit.end, self.hit.keyframe)


def describe_hits(ctx: Context, hits: Sequence[Hit]) -> list[HitData]:
    """Each hit with its linked media (when that is still indexed), looked up for all hits at once, and its
    ``offline`` / ``missing`` flags set (:func:`mmsearch.presence.mark_hits`)."""
    mark_hits(ctx.catalog, hits)
    paths = [h.linked for h in hits if h.linked]
    found = ctx.catalog.media_by_paths(paths) if paths else {}
    details = _ocr_details(ctx, [h.extra["ocr_segment"] for h in hits if h.extra.get("ocr_segment")])
    out = []
    for hit in hits:
        media = found.get(hit.linked) if hit.linked else None
        linked = LinkedMedia(media.id, media.kind, media.path) if media is not None else None
        out.append(HitData(hit, linked, details.get(hit.extra.get("ocr_segment") or -1)))
    return out


def _ocr_details(ctx: Context, segment_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The parsed ``detail`` of OCR segments by id (one query; an unreadable detail is left out)."""
    if not segment_ids:
        return {}
    out = {}
    for seg_id, detail in ctx.catalog.details_of(segment_ids[:900]).items():
        try:
            out[seg_id] = json.loads(detail) if detail else None
        except ValueError:
            continue
    return {k: v for k, v in out.items() if isinstance(v, dict)}
