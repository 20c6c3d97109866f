"""Serving indexed files and their thumbnails, by media id only.

Files are served by media id, never by a path taken from a request, and only while they are still what
was indexed:

- the id must be in the catalog, its path must exist and be a regular file (not a folder, FIFO or device);
- the file must belong to the library by :func:`mmsearch.roots.outside_roots`, the rule the scan applies:
  its real path lies under the recorded root that holds it (so a link in a photo folder pointing at
  ``~/.ssh/...``, or a catalog row naming ``/etc/...``, is refused, whoever wrote the catalog);
- when any component of the path is a symbolic link (the path and its real path differ), the file must
  also still have the size and modification time the catalog recorded, so a folder swapped for a link
  after indexing does not expose what the link now points at;
- what is opened is the resolved real path checked above.

Search answers go through the same rule (:func:`listable`): a hit whose file would be refused here is left
out, so no text, snippet or thumbnail read from such a file is ever returned; only a file gone from disk
under a served root (an offline drive: issue 24) is still listed, marked offline, and cannot be opened.

Range requests are answered by Starlette's :class:`FileResponse`.
"""
from __future__ import annotations

import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from fastapi import HTTPException
from fastapi.responses import FileResponse

from mmsearch.context import Context
from mmsearch.kinds import PLAIN_TEXT_KINDS
from mmsearch.media.previews import Preview
from mmsearch.query.hit_data import HitData
from mmsearch.roots import inside, outside_roots

CONTENT_TYPES = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".gif": "image/gif",
    ".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff", ".heic": "image/heic", ".heif": "image/heif",
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm",
    ".mkv": "video/x-matroska", ".avi": "video/x-msvideo",
    ".wav": "audio/wav", ".mp3": "audio/mpeg", ".flac": "audio/flac", ".ogg": "audio/ogg", ".oga": "audio/ogg",
    ".opus": "audio/ogg", ".m4a": "audio/mp4",
}
THUMB_CACHE_ITEMS = 512


@dataclass(frozen=True)
class Servable:
    """An indexed file checked for serving: its catalog row, the real path to open, and that path's stat."""

    media: Any
    real: str
    stat: os.stat_result


def _gone(media_id: int) -> HTTPException:
    return HTTPException(404, f"media {media_id} is gone from disk (re-index to forget it)")


def servable(ctx: Context, media_id: int, roots: list[str]) -> Servable:
    """The file of ``media_id`` if it may be served (see the module docstring), else an HTTP error.
    ``roots``: the folders served (the library's recorded roots, or those the server was limited to)."""
    media = ctx.catalog.media_by_id(media_id)
    if media is None:
        raise HTTPException(404, f"no media with id {media_id}")
    return checked(ctx, media, roots)


def checked(ctx: Context, media: Any, roots: list[str]) -> Servable:
    """``media`` (a catalog row) if its file may be served, else the HTTP error that says why not."""
    path, media_id = media.path, media.id
    if not os.path.isabs(path) or "\x00" in path:
        raise HTTPException(404, f"media {media_id} has no usable path")
    try:
        os.lstat(path)
    except OSError:
        raise _gone(media_id) from None
    why = outside_roots(path, roots, between_roots=ctx.settings.links_between_roots)
    if why is not None:
        raise HTTPException(403, f"media {media_id}: {why}")
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError:
        raise _gone(media_id) from None
    if not stat.S_ISREG(st.st_mode):
        raise HTTPException(404, f"media {media_id} is not a regular file")
    if real != os.path.normpath(path) and (st.st_size != media.size or abs(st.st_mtime - media.mtime) > 1e-3):
        raise HTTPException(409, f"media {media_id} changed since it was indexed (its path has a symbolic link); "
                                 f"re-index it")
    return Servable(media, real, st)


def refusal(ctx: Context, media: Any, roots: list[str]) -> HTTPException | None:
    """The error ``/file`` would answer for ``media`` (None: it would serve it)."""
    try:
        checked(ctx, media, roots)
    except HTTPException as exc:
        return exc
    return None


def listable(ctx: Context, media: Any, roots: list[str]) -> bool:
    """Whether an answer may name ``media`` (a hit, a duplicate): ``/file`` would serve it, or its file is gone
    from disk (an offline drive, an unreadable folder, a missing file: nothing can be read from it, the hit is
    marked offline or missing and cannot be opened) while its path lies under a served root."""
    exc = refusal(ctx, media, roots)
    if exc is None:
        return True
    path = os.path.normpath(media.path) if os.path.isabs(media.path) else ""
    return exc.status_code == 404 and bool(path) and not os.path.lexists(path) and any(
        inside(path, os.path.normpath(os.path.abspath(os.path.expanduser(r)))) for r in roots)


def content_type(kind: str, path: str) -> str:
    """The Content-Type of a file: texts as UTF-8 text, known media suffixes of the file's own kind, else
    bytes (a ``.html`` indexed as text is never served as a page)."""
    if kind in PLAIN_TEXT_KINDS:
        return "text/plain; charset=utf-8"
    guessed = CONTENT_TYPES.get(os.path.splitext(path)[1].lower())
    if guessed and guessed.startswith(f"{kind}/"):
        return guessed
    return "application/octet-stream"


def file_response(file: Servable) -> FileResponse:
    """The file itself, inline, with Range support."""
    return FileResponse(
        file.real,
        media_type=content_type(file.media.kind, file.real),
        stat_result=file.stat,
        filename=os.path.basename(file.media.path),
        content_disposition_type="inline",
        headers={"Cache-Control": "private, max-age=3600"},
    )


class ThumbCache:
    """A small LRU of encoded thumbnails, keyed by file identity and request."""

    def __init__(self, items: int = THUMB_CACHE_ITEMS) -> None:
        self.items = items
        self._data: OrderedDict[tuple, Preview] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Preview | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: tuple, value: Preview) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.items:
                self._data.popitem(last=False)


def shareable(ctx: Context, hits: Sequence[HitData], roots: list[str]) -> list[HitData]:
    """The hits :func:`listable` allows (the others left out: nothing read from them is returned); a caption's
    linked media that is not is dropped from its hit."""
    rows = ctx.catalog.media_by_paths([h.hit.path for h in hits] + [h.linked.path for h in hits if h.linked])
    allowed = {path: listable(ctx, row, roots) for path, row in rows.items()}
    out = []
    for data in hits:
        if not allowed.get(data.hit.path, False):
            continue
        if data.linked is not None and not allowed.get(data.linked.path, False):
            data = replace(data, linked=None)
        out.append(data)
    return out


def shareable_groups(ctx: Context, found: dict, roots: list[str]) -> dict:
    """The duplicates answer (``groups`` of ``keep`` and ``copies``, items with a ``path``) without what ``/file``
    would refuse: such copies are left out, and so is a group whose copy to keep, or every other copy, is."""
    items = [item for group in found.get("groups", []) for item in [group["keep"], *group["copies"]]]
    rows = ctx.catalog.media_by_paths(list({item["path"] for item in items}))
    allowed = {path: listable(ctx, row, roots) for path, row in rows.items()}
    groups = []
    for group in found.get("groups", []):
        copies = [c for c in group["copies"] if allowed.get(c["path"], False)]
        if allowed.get(group["keep"]["path"], False) and copies:
            groups.append({**group, "copies": copies})
    return {**found, "groups": groups}
