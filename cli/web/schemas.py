"""The API's response models (they document it in the OpenAPI schema), and how library results become them."""
from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mmsearch.media.previews import Window, window
from mmsearch.query.hit_data import HitData
from mmsearch.query.when_where import facts_json

from .media_tokens import Sign, unsigned

WHEN_WHERE_FIELDS = ("media_time", "time_source", "camera", "lat", "lon")


class HitOut(BaseModel):
    """One search result. Times are seconds on the file's timeline, ``null`` for whole files."""

    path: str
    name: str = Field(description="file name of path")
    kind: str = Field(description="image, text, video or audio")
    score: float
    start: float | None = None
    end: float | None = None
    space: str = Field(description="embedding space that matched")
    keyframe: float | None = Field(None, description="video: time of the frame that matched best")
    text: str | None = Field(None, description="the matching passage of a text hit")
    linked: str | None = Field(None, description="a caption's image (path)")
    linked_media_id: int | None = None
    media_id: int
    segment_id: int
    media_url: str = Field(description="the file (Range requests supported); with a token set, the URL carries a "
                                       "media token for this file (?mt=)")
    thumb_url: str | None = Field(None, description="thumbnail (image), keyframe (video), waveform (audio)")
    linked_thumb_url: str | None = None
    signals: list[str] = Field(default_factory=list,
                               description="what found it: embedding spaces (clip, text, audio), fulltext, phonetic, "
                                           "ocr (text read in the picture)")
    boxes: list[list[list[float]]] | None = Field(
        None, description="ocr: where the matched text is, four [x, y] corners per line, pixels of boxes_size")
    boxes_size: list[int] | None = Field(None, description="ocr: [width, height] of the picture the boxes are in")
    media_time: str | None = Field(None, description="when the media was made, ISO 8601 (at its own UTC offset "
                                   "when known, else UTC)")
    time_source: str | None = Field(None, description="where media_time comes from: exif, container or mtime")
    camera: str | None = Field(None, description="camera make and model, when the file names them")
    lat: float | None = Field(None, description="where it was taken, decimal degrees, when the file says")
    lon: float | None = None
    offline: bool = Field(False, description="its drive or folder is offline: found, but it cannot be opened "
                          "until the drive is back")
    missing: bool = Field(False, description="its file is gone from disk and will be forgotten after the grace period")


class SearchOut(BaseModel):
    query: str
    hits: list[HitOut]
    took_ms: float
    pending: list[str] = Field([], description="work that waits for a model, one line each (mmsearch.pending): "
                                               "what this answer could not search")


class MediaOut(BaseModel):
    id: int
    path: str
    name: str
    kind: str
    size: int
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    media_url: str
    thumb_url: str | None = None


class SpaceOut(BaseModel):
    """A space or job of the library; one whose model cannot be had has no model or dim, and a ``reason``."""

    model_config = ConfigDict(extra="allow")
    name: str
    model: str | None = None
    dim: int | None = None
    vectors: int
    active: bool = True
    reason: str | None = None


class StatsOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    library: str
    files: int
    by_kind: dict[str, int]
    segments: dict[str, int]
    bytes: int
    errors: int
    spaces: list[SpaceOut]
    jobs: dict[str, dict[str, int]] = Field(default_factory=dict,
                                            description="per space/job: files done, pending, failed")


class ErrorOut(BaseModel):
    path: str
    stage: str
    message: str
    time: str


class Problem(BaseModel):
    detail: Any


PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "bad query"},
    401: {"model": Problem, "description": "missing or wrong access token"},
}
MEDIA_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **PROBLEMS,
    403: {"model": Problem, "description": "file not served (symbolic link out of the library)"},
    404: {"model": Problem, "description": "no such media, or its file is gone"},
    409: {"model": Problem, "description": "file changed since it was indexed"},
}


# -- URLs ----------------------------------------------------------------------------------------------
def media_url(media_id: int) -> str:
    return f"/api/media/{media_id}/file"


def _clock(seconds: float) -> str:
    return f"{seconds:.3f}".rstrip("0").rstrip(".")


def thumb_url(media_id: int, shown: Window | None) -> str | None:
    """The thumbnail URL of a file showing ``shown`` (None: the file has no thumbnail)."""
    if shown is None:
        return None
    params = [f"{name}={_clock(value)}" for name, value in (("t", shown.at), ("d", shown.seconds)) if value is not None]
    return f"/api/media/{media_id}/thumb" + ("?" + "&".join(params) if params else "")


# -- results -------------------------------------------------------------------------------------------
def hit_out(data: HitData, sign: Sign = unsigned) -> HitOut:
    hit, linked = data.hit, data.linked
    return HitOut(
        path=hit.path, name=data.name, kind=hit.kind, score=round(float(hit.score), 6),
        start=hit.start, end=hit.end, space=hit.space, keyframe=hit.keyframe, text=hit.text, linked=hit.linked,
        linked_media_id=linked.id if linked else None, media_id=hit.media_id, segment_id=hit.segment_id,
        media_url=sign(media_url(hit.media_id), hit.media_id),
        thumb_url=_signed(sign, thumb_url(hit.media_id, data.preview), hit.media_id),
        linked_thumb_url=_signed(sign, thumb_url(linked.id, linked.preview), linked.id) if linked else None,
        signals=list(hit.extra.get("signals", [hit.space])), boxes=data.boxes, boxes_size=data.boxes_size,
        offline=hit.offline, missing=hit.missing,
        **{k: v for k, v in facts_json(hit.extra).items() if k in WHEN_WHERE_FIELDS},
    )


def _signed(sign: Sign, url: str | None, media_id: int) -> str | None:
    return sign(url, media_id) if url is not None else None


def search_out(query: str, hits: Sequence[HitData], started: float, sign: Sign = unsigned,
               pending: Sequence[str] = ()) -> SearchOut:
    """A query's answer; ``started`` is its ``time.perf_counter()`` at arrival."""
    return SearchOut(query=query, hits=[hit_out(h, sign) for h in hits],
                     took_ms=round((time.perf_counter() - started) * 1000, 1), pending=list(pending))


def media_out(media: Any, sign: Sign = unsigned) -> MediaOut:
    return MediaOut(
        id=media.id, path=media.path, name=os.path.basename(media.path), kind=media.kind, size=media.size,
        duration=media.duration, width=media.width, height=media.height,
        media_url=sign(media_url(media.id), media.id),
        thumb_url=_signed(sign, thumb_url(media.id, window(media.kind)), media.id),
    )


class DuplicateCheckOut(BaseModel):
    disagreement: float = Field(description="worst cell's residual over its contrast once aligned (0: same pixels)")
    correlation: float = Field(description="correlation of the aligned grey pictures")
    max_disagreement: float = Field(description="the most a confirmed copy may disagree (for ``flat``: grey levels)")
    crop: list[float] = Field(description="margins (left, top, right, bottom) of the window found in the other")
    aligned: str = Field("grid", description="what found the window: template (match over offsets and scales), "
                                             "features (matched keypoints), grid (no OpenCV), flat (two flat "
                                             "pictures: their colours, no window)")


class DuplicateWhyOut(BaseModel):
    with_: str = Field(alias="with", description="the picture this copy was matched with")
    decided_by: str = Field(description="check (pixels, or colours of flat pictures) or hash (within its trusted "
                                        "bits); never the vectors alone")
    bits: int | None = Field(None, description="hash bits apart (None: a side has no hash)")
    threshold: float = Field(description="hash bits two copies may differ by")
    trusted_bits: int = Field(description="bits the hash alone is trusted for, from how flat the pictures are "
                                          "(-1: never; above it the pixel check decides)")
    flat: float | None = Field(None, description="the pair's larger flat share (None: not measured)")
    relative: float | None = Field(None, description="vector distance over a typical pair's (None: no vectors)")
    max_relative: float = Field(description="the vectors veto a pair above this")
    check: DuplicateCheckOut | None = Field(None, description="the pixel check (None: not needed)")

    model_config = {"populate_by_name": True}


class DuplicateItemOut(BaseModel):
    path: str
    media_id: int
    segment_id: int | None
    kind: str = Field(description="image, scene or video")
    start: float | None = None
    end: float | None = None
    keyframe: float | None = Field(None, description="a scene's keyframe time (s): the thumbnail's t")
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    bits: int | None = Field(None, description="hash bits apart from the picture it was matched with "
                                                 "(None: judged by vectors)")
    why: DuplicateWhyOut | None = Field(None, description="why it is a copy (None: the copy to keep)")
    thumb_url: str | None = Field(None, description="its thumbnail (a scene's: at its keyframe)")


def duplicates_out(found: dict, sign: Sign = unsigned) -> dict:
    """The duplicates answer with each item's (signed) thumbnail URL added."""
    for group in found.get("groups", []):
        for item in [group["keep"], *group["copies"]]:
            at = item.get("keyframe") if item.get("kind") == "scene" else None
            url = f"/api/media/{item['media_id']}/thumb" + (f"?t={_clock(at)}" if at is not None else "")
            item["thumb_url"] = sign(url, item["media_id"])
    return found


class DuplicateGroupOut(BaseModel):
    kind: str
    keep: DuplicateItemOut
    copies: list[DuplicateItemOut]


class DuplicatesOut(BaseModel):
    threshold: float
    groups: list[DuplicateGroupOut]
    compared: dict[str, int]
    unhashed: dict[str, int]
    notes: list[str]
    checked: dict[str, int] = Field(default_factory=dict, description="look-alike pairs pixel-checked, by kind")
