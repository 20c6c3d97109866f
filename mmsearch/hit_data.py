"""What a page (or any caller) shows of each hit beyond the hit itself: its file name, the media a caption
links to, and which part of each file a preview shows.

:func:`describe_hits` resolves the linked media of all hits in one catalog query, however many hits.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from .context import Context
from .hits import Hit
from .media.previews import Window, window


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

    @property
    def name(self) -> str:
        return os.path.basename(self.hit.path)

    @property
    def preview(self) -> Window | None:
        """What the hit's preview shows: the image, a video moment's keyframe, an audio window (None: no preview)."""
        return window(self.hit.kind, self.hit.start, self.hit.end, self.hit.keyframe)


def describe_hits(ctx: Context, hits: Sequence[Hit]) -> list[HitData]:
    """Each hit with its linked media (when that is still indexed), looked up for all hits at once."""
    paths = [h.linked for h in hits if h.linked]
    found = ctx.catalog.media_by_paths(paths) if paths else {}
    out = []
    for hit in hits:
        media = found.get(hit.linked) if hit.linked else None
        linked = LinkedMedia(media.id, media.kind, media.path) if media is not None else None
        out.append(HitData(hit, linked))
    return out
