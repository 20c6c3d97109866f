"""HTTP API and web page of ``mmsearch serve`` (FastAPI).

:func:`create_app` builds the app around ONE :class:`~mmsearch.Engine`, shared by every request (a
FastAPI dependency). Endpoints that call the engine or decode media are plain ``def`` functions, so
FastAPI runs them in its thread pool and the event loop never blocks.

API (the OpenAPI schema is served at ``/api/openapi.json``)::

    GET  /api/search?q=TEXT&kind=image&kind=video&k=20&path=GLOB   text query
    POST /api/search/image  (multipart: file=IMAGE; kind, k, path)  query by an uploaded image
    GET  /api/similar?segment_id=N | media_id=N  (kind, k, path)    "more like this" for a hit
    GET  /api/stats                                                 what the library holds
    GET  /api/errors                                                files that could not be indexed
    GET  /api/media/{id}                                            facts about one indexed file
    GET  /api/media/{id}/file                                       the file itself (Range requests)
    GET  /api/media/{id}/thumb?t=SECONDS&d=SECONDS&size=PX          JPEG thumbnail / PNG waveform

Files are served by media id only, never by a path taken from a request, and only while they are
still what was indexed:

- the id must be in the catalog, its path must exist and be a regular file (not a folder, FIFO or
  device);
- a file that is itself a symbolic link is served only when its target lies inside the link's own
  folder, or is itself an indexed file (so a link in a photo folder pointing at ``~/.ssh/...`` or
  ``/etc/...`` is refused);
- when any component of the path is a symbolic link (the path and its real path differ), the file
  must also still have the size and modification time the catalog recorded, so a folder swapped
  for a link after indexing does not expose what the link now points at;
- what is opened is the resolved real path checked above.

Access: with a token (``create_app(engine, token=T)``) every ``/api`` request needs
``Authorization: Bearer T``; the media URLs (``/file``, ``/thumb``) also accept ``?token=T`` because
``<img>`` and ``<video>`` cannot send headers. The page itself and its script and style (static,
no library data in them) are public; the page asks for the token when the API answers 401. Without
a token the server answers only requests whose ``Host`` is a loopback name (``allowed_hosts``), which
blocks DNS-rebinding attacks from web pages the user visits.
"""
from __future__ import annotations

import hmac
import io
import ipaddress
import math
import os
import stat
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Annotated, Any, Iterable, Literal, Optional

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers

from mmsearch.errors import (
    LibraryLockedError,
    MediaError,
    MmsearchError,
    ModelMismatchError,
    ModelUnavailableError,
)

STATIC = Path(__file__).parent / "static"
_STATIC_TYPES = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}

Kind = Literal["image", "text", "video", "audio"]
MAX_ID = 2**63 - 1  # SQL integer range: larger ids are a 422, not an overflow deep in the database driver
MAX_UPLOAD = 32 * 1024 * 1024
THUMB_CACHE_ITEMS = 512
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

# The page loads nothing from elsewhere: no CDN, no inline script.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self'; script-src 'self'; "
    "style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

_CONTENT_TYPES = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".gif": "image/gif",
    ".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff", ".heic": "image/heic", ".heif": "image/heif",
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm",
    ".mkv": "video/x-matroska", ".avi": "video/x-msvideo",
    ".wav": "audio/wav", ".mp3": "audio/mpeg", ".flac": "audio/flac", ".ogg": "audio/ogg", ".oga": "audio/ogg",
    ".opus": "audio/ogg", ".m4a": "audio/mp4",
}


# -- response models (they document the API in the OpenAPI schema) -------------------------------
class HitOut(BaseModel):
    """One search result. Times are seconds on the file's timeline, ``null`` for whole files."""

    path: str
    name: str = Field(description="file name of path")
    kind: str = Field(description="image, text, video or audio")
    score: float
    start: Optional[float] = None
    end: Optional[float] = None
    space: str = Field(description="embedding space that matched")
    keyframe: Optional[float] = Field(None, description="video: time of the frame that matched best")
    text: Optional[str] = Field(None, description="the matching passage of a text hit")
    linked: Optional[str] = Field(None, description="a caption's image (path)")
    linked_media_id: Optional[int] = None
    media_id: int
    segment_id: int
    media_url: str = Field(description="the file (Range requests supported); add ?token= when a token is set")
    thumb_url: Optional[str] = Field(None, description="thumbnail (image), keyframe (video), waveform (audio)")
    linked_thumb_url: Optional[str] = None


class SearchOut(BaseModel):
    query: str
    hits: list[HitOut]
    took_ms: float


class MediaOut(BaseModel):
    id: int
    path: str
    name: str
    kind: str
    size: int
    duration: Optional[float] = None
    width: Optional[int] = None
    height: Optional[int] = None
    media_url: str
    thumb_url: Optional[str] = None


class SpaceOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    model: str
    dim: int
    vectors: int


class StatsOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    library: str
    files: int
    by_kind: dict[str, int]
    segments: dict[str, int]
    bytes: int
    errors: int
    spaces: list[SpaceOut]


class ErrorOut(BaseModel):
    path: str
    stage: str
    message: str
    time: str


class Problem(BaseModel):
    detail: Any


_PROBLEMS = {
    400: {"model": Problem, "description": "bad query"},
    401: {"model": Problem, "description": "missing or wrong access token"},
}
_MEDIA_PROBLEMS = {
    **_PROBLEMS,
    403: {"model": Problem, "description": "file not served (symbolic link out of the library)"},
    404: {"model": Problem, "description": "no such media, or its file is gone"},
    409: {"model": Problem, "description": "file changed since it was indexed"},
}


# -- helpers -----------------------------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost names: addresses no other machine can reach."""
    h = host.strip().strip("[]").lower()
    if h == "localhost" or h.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def _clock(seconds: float) -> str:
    return f"{seconds:.3f}".rstrip("0").rstrip(".")


def thumb_url(kind: str, media_id: int, start: float | None = None, end: float | None = None,
              keyframe: float | None = None) -> str | None:
    base = f"/api/media/{media_id}/thumb"
    if kind == "image":
        return base
    if kind == "video":
        at = keyframe if keyframe is not None else (start or 0.0)
        return f"{base}?t={_clock(max(0.0, at))}"
    if kind == "audio":
        if start is None:
            return base
        span = (end - start) if end is not None and end > start else 10.0
        return f"{base}?t={_clock(max(0.0, start))}&d={_clock(min(span, 600.0))}"
    return None


def _host_name(host: str) -> str:
    """The name part of a Host header: ``[::1]:8000`` -> ``::1``, ``localhost:8000`` -> ``localhost``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


class _HostGuard:
    """ASGI middleware: answer only requests whose Host header names an allowed host."""

    def __init__(self, app: Any, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = {h.strip("[]").lower() for h in allowed}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            host = Headers(scope=scope).get("host", "")
            if _host_name(host) not in self.allowed:
                response = JSONResponse(
                    {"detail": f"unexpected Host header {host!r}: without an access token this server "
                               f"answers only {', '.join(sorted(self.allowed))}"},
                    status_code=400,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _SecurityHeaders:
    """ASGI middleware: headers every response carries."""

    HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + self.HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _ThumbCache:
    """A small LRU of encoded thumbnails, keyed by file identity and request."""

    def __init__(self, items: int) -> None:
        self.items = items
        self._data: OrderedDict[tuple, tuple[bytes, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> tuple[bytes, str] | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: tuple, value: tuple[bytes, str]) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.items:
                self._data.popitem(last=False)


# -- the app ---------------------------------------------------------------------------------------
bearer = HTTPBearer(auto_error=False, description="the server's access token (when it has one)")
query_token = APIKeyQuery(name="token", auto_error=False, description="the access token, for media URLs")


# Parameter types (module level: the annotations are strings, resolved in this namespace).
KindQ = Annotated[Optional[list[Kind]], Query(description="keep only these kinds (repeatable)")]
TopQ = Annotated[int, Query(ge=1, le=200, description="number of hits")]
PathQ = Annotated[Optional[str], Query(max_length=1000, description="only files whose path matches this glob or substring")]
IdQ = Annotated[Optional[int], Query(ge=1, le=MAX_ID)]
MediaId = Annotated[int, PathParam(ge=1, le=MAX_ID)]


def get_engine(request: Request) -> Any:
    """The app's single shared Engine."""
    return request.app.state.engine


EngineDep = Annotated[Any, Depends(get_engine)]


def _token_ok(request: Request, given: str | None) -> None:
    expected: str | None = request.app.state.token
    if not expected:
        return
    if given is None or not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8", "replace")):
        raise HTTPException(
            401,
            "missing or wrong access token: send 'Authorization: Bearer TOKEN' "
            "(media URLs may use ?token=TOKEN); the token is the one `mmsearch serve` was started with",
            headers={"WWW-Authenticate": "Bearer"},
        )


def require_token(
    request: Request, credentials: Annotated[Optional[HTTPAuthorizationCredentials], Depends(bearer)]
) -> None:
    _token_ok(request, credentials.credentials if credentials else None)


def require_token_or_query(
    request: Request,
    credentials: Annotated[Optional[HTTPAuthorizationCredentials], Depends(bearer)],
    token: Annotated[Optional[str], Depends(query_token)],
) -> None:
    _token_ok(request, credentials.credentials if credentials else token)


def create_app(
    engine: Any,
    token: str | None = None,
    *,
    allowed_hosts: Iterable[str] | None = None,
    thumb_workers: int = 2,
    max_upload: int = MAX_UPLOAD,
) -> FastAPI:
    """The web app and JSON API over ``engine`` (not closed by the app: the caller owns it).

    Args:
        engine: an open :class:`mmsearch.Engine`, shared by all requests.
        token: when set, every API and media request must carry it (see the module docstring).
        allowed_hosts: Host header names answered when there is no token (default: loopback names).
        thumb_workers: how many thumbnails are decoded at once.
        max_upload: largest image upload (bytes); larger request bodies are refused with 413.
    """
    import inspect

    limit = {}
    if "max_body_size" in inspect.signature(FastAPI).parameters:  # newer FastAPI: refused before it is spooled
        limit["max_body_size"] = max_upload + 64 * 1024
    app = FastAPI(
        **limit,
        title="mmsearch",
        summary="Search photos, videos, recordings and notes by describing them.",
        version=_version(),
        openapi_url="/api/openapi.json",
        docs_url=None,  # Swagger UI would load from a CDN; the schema is at /api/openapi.json
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.token = token or None
    app.state.search_lock = threading.Lock()
    app.state.thumb_slots = threading.BoundedSemaphore(max(1, thumb_workers))
    app.state.thumbs = _ThumbCache(THUMB_CACHE_ITEMS)

    app.add_middleware(_SecurityHeaders)
    if not token:
        app.add_middleware(_HostGuard, allowed=allowed_hosts if allowed_hosts is not None else LOOPBACK_HOSTS)

    @app.exception_handler(MmsearchError)
    async def _mmsearch_error(_request: Request, exc: MmsearchError) -> JSONResponse:
        if isinstance(exc, ModelMismatchError):
            status = 409
        elif isinstance(exc, (ModelUnavailableError, LibraryLockedError)):
            status = 503
        elif isinstance(exc, MediaError):
            status = 422
        else:
            status = 400
        return JSONResponse({"detail": str(exc)}, status_code=status)

    # -- page --------------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(
            (STATIC / "index.html").read_text(encoding="utf-8"),
            headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"},
        )

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        # A fixed list of files: nothing from the request is ever joined to a path.
        media_type = _STATIC_TYPES.get(name)
        if media_type is None:
            raise HTTPException(404, "Not Found")
        return Response((STATIC / name).read_bytes(), media_type=media_type, headers={"Cache-Control": "no-cache"})

    api = APIRouter(prefix="/api", dependencies=[Depends(require_token)], responses=_PROBLEMS)
    files = APIRouter(prefix="/api", dependencies=[Depends(require_token_or_query)], responses=_MEDIA_PROBLEMS)

    # -- queries -----------------------------------------------------------------------------------
    @api.get("/search", response_model=SearchOut, summary="Search by text")
    def search(
        engine: EngineDep,
        q: Annotated[str, Query(min_length=1, max_length=2000, description="what you are looking for, in words")],
        kind: KindQ = None,
        k: TopQ = 20,
        path: PathQ = None,
    ) -> SearchOut:
        t0 = time.perf_counter()
        with app.state.search_lock:
            hits = engine.search(q, k=k, kinds=kind, path=path or None)
        return _results(engine, q, hits, t0)

    @api.post(
        "/search/image",
        response_model=SearchOut,
        summary="Search by an uploaded image",
        responses={413: {"model": Problem, "description": "upload too large"},
                   422: {"model": Problem, "description": "not a decodable image"}},
    )
    def search_image(
        engine: EngineDep,
        file: Annotated[UploadFile, File(description="an image (jpg, png, webp, gif, bmp, tiff)")],
        kind: KindQ = None,
        k: TopQ = 20,
        path: PathQ = None,
    ) -> SearchOut:
        t0 = time.perf_counter()
        data = file.file.read(max_upload + 1)
        if len(data) > max_upload:
            raise HTTPException(413, f"image larger than {max_upload} bytes")
        if not data:
            raise HTTPException(400, "empty upload")
        from mmsearch.media.images import load_image

        image, _, _ = load_image(io.BytesIO(data), max_side=1024)
        with app.state.search_lock:
            hits = engine.search(image, k=k, kinds=kind, path=path or None)
        return _results(engine, f"image {file.filename or ''}".strip(), hits, t0)

    @api.get(
        "/similar",
        response_model=SearchOut,
        summary="More like this: hits similar to a hit (by its segment id) or to a whole file (media id)",
        responses={404: {"model": Problem, "description": "no such segment or media, or it has no vector"}},
    )
    def similar(
        engine: EngineDep,
        segment_id: IdQ = None,
        media_id: IdQ = None,
        kind: KindQ = None,
        k: TopQ = 20,
        path: PathQ = None,
    ) -> SearchOut:
        t0 = time.perf_counter()
        if (segment_id is None) == (media_id is None):
            raise HTTPException(400, "give exactly one of segment_id (a hit) or media_id (a whole file)")
        queries, source = _source_vectors(engine, segment_id, media_id)
        with app.state.search_lock:
            found = engine.search_vectors(queries, k + 8, tuple(kind) if kind else None, path or None)
        hits = [h for h in found if not _is_source(h, source)][:k]
        label = f"segment {segment_id}" if segment_id is not None else f"media {media_id}"
        return _results(engine, f"like {label}", hits, t0)

    # -- information -------------------------------------------------------------------------------
    @api.get("/stats", response_model=StatsOut, summary="Files, segments, spaces and their models")
    def stats(engine: EngineDep) -> dict:
        return engine.stats()

    @api.get("/errors", response_model=list[ErrorOut], summary="Files that could not be indexed, and why")
    def errors(engine: EngineDep) -> list[dict]:
        return engine.errors()

    @api.get("/media/{media_id}", response_model=MediaOut, summary="Facts about one indexed file",
             responses={404: {"model": Problem, "description": "no such media"}})
    def media_info(engine: EngineDep, media_id: MediaId) -> MediaOut:
        media = engine.catalog.media_by_id(media_id)
        if media is None:
            raise HTTPException(404, f"no media with id {media_id}")
        return MediaOut(
            id=media.id, path=media.path, name=os.path.basename(media.path), kind=media.kind, size=media.size,
            duration=media.duration, width=media.width, height=media.height,
            media_url=f"/api/media/{media.id}/file", thumb_url=thumb_url(media.kind, media.id),
        )

    # -- media -------------------------------------------------------------------------------------
    @files.get(
        "/media/{media_id}/file",
        summary="The indexed file itself (supports HTTP Range requests)",
        response_class=FileResponse,
        responses={200: {"content": {"application/octet-stream": {}}, "description": "the file"},
                   206: {"description": "the requested byte range"},
                   416: {"description": "range not satisfiable"}},
    )
    def media_file(engine: EngineDep, media_id: MediaId) -> FileResponse:
        media, real, st = _servable(engine, media_id)
        return FileResponse(
            real,
            media_type=_content_type(media.kind, real),
            stat_result=st,
            filename=os.path.basename(media.path),
            content_disposition_type="inline",
            headers={"Cache-Control": "private, max-age=3600"},
        )

    @files.get(
        "/media/{media_id}/thumb",
        summary="Thumbnail: an image scaled down, a video's frame at t, an audio waveform from t for d seconds",
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}, "image/png": {}}, "description": "the thumbnail"},
                   422: {"model": Problem, "description": "the file cannot be decoded"}},
    )
    def media_thumb(
        engine: EngineDep,
        media_id: MediaId,
        t: Annotated[Optional[float], Query(ge=0, le=1e7, allow_inf_nan=False, description="seconds (video, audio)")] = None,
        d: Annotated[Optional[float], Query(gt=0, le=600, allow_inf_nan=False, description="seconds of audio")] = None,
        size: Annotated[int, Query(ge=32, le=1024, description="longest side in pixels")] = 320,
    ) -> Response:
        media, real, st = _servable(engine, media_id)
        key = (media.id, real, st.st_size, st.st_mtime_ns, media.kind, t, d, size)
        cached = app.state.thumbs.get(key)
        if cached is None:
            with app.state.thumb_slots:
                cached = _make_thumb(media, real, t, d, size)
            app.state.thumbs.put(key, cached)
        data, media_type = cached
        return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=86400"})

    app.include_router(api)
    app.include_router(files)
    return app


# -- query helpers ---------------------------------------------------------------------------------
def _results(engine: Any, query: str, hits: list, t0: float) -> SearchOut:
    return SearchOut(query=query, hits=[_hit_out(engine, h) for h in hits], took_ms=round((time.perf_counter() - t0) * 1000, 1))


def _hit_out(engine: Any, hit: Any) -> HitOut:
    linked_id = linked_thumb = None
    if hit.linked:
        linked = engine.catalog.media_by_path(hit.linked)
        if linked is not None:
            linked_id, linked_thumb = linked.id, thumb_url(linked.kind, linked.id)
    return HitOut(
        path=hit.path, name=os.path.basename(hit.path), kind=hit.kind, score=round(float(hit.score), 6),
        start=hit.start, end=hit.end, space=hit.space, keyframe=hit.keyframe, text=hit.text, linked=hit.linked,
        linked_media_id=linked_id, media_id=hit.media_id, segment_id=hit.segment_id,
        media_url=f"/api/media/{hit.media_id}/file",
        thumb_url=thumb_url(hit.kind, hit.media_id, hit.start, hit.end, hit.keyframe),
        linked_thumb_url=linked_thumb,
    )


def _source_vectors(engine: Any, segment_id: int | None, media_id: int | None) -> tuple[dict[str, np.ndarray], dict]:
    """The query vectors (one per space) of a hit or a whole file, and what to leave out of the hits.

    A segment without a vector of its own (a moment whose frames carry the vectors) is represented
    by its child segments, else by the segments of its file that overlap it.
    """
    from sqlalchemy import select

    from mmsearch.catalog import Media, Segment, Space, decode_vectors

    with engine.catalog.session() as s:
        if segment_id is not None:
            seg = s.get(Segment, segment_id)
            if seg is None:
                raise HTTPException(404, f"no segment with id {segment_id}")
            media_id = seg.media_id
        media = s.get(Media, media_id)
        if media is None:
            raise HTTPException(404, f"no media with id {media_id}")
        rows = s.execute(
            select(Segment.id, Segment.start, Segment.end, Segment.parent_id, Space.name, Space.dim, Segment.vector)
            .join(Space, Space.id == Segment.space_id)
            .where(Segment.media_id == media_id, Segment.vector.is_not(None))
            .order_by(Segment.id)
        ).all()
    source = {"media_ids": {media.id} | ({media.link_id} if media.link_id else set()), "start": None, "end": None}
    if segment_id is not None:
        chosen = [r for r in rows if r.id == segment_id] or [r for r in rows if r.parent_id == segment_id]
        if not chosen and seg.start is not None:
            chosen = [r for r in rows if r.start is not None and r.start < (seg.end or seg.start) and (r.end or r.start) > seg.start]
        rows = chosen
        source.update(start=seg.start, end=seg.end)
    if not rows:
        raise HTTPException(404, "this hit has no stored vector to search with")
    by_space: dict[str, list] = {}
    for r in rows:
        by_space.setdefault(r.name, []).append(r)
    queries = {}
    for name, group in by_space.items():
        vectors = decode_vectors([r.vector for r in group], group[0].dim)
        v = vectors.mean(axis=0)
        norm = float(np.linalg.norm(v))
        if norm > 0 and math.isfinite(norm):
            queries[name] = (v / norm).astype(np.float32)
    if not queries:
        raise HTTPException(404, "this hit has no usable vector to search with")
    return queries, source


def _is_source(hit: Any, source: dict) -> bool:
    if hit.media_id not in source["media_ids"]:
        return False
    if source["start"] is None or hit.start is None:
        return True  # the same whole file
    end = source["end"] if source["end"] is not None else source["start"]
    return hit.start < end + 1e-6 and (hit.end if hit.end is not None else hit.start) > source["start"] - 1e-6


# -- file helpers ----------------------------------------------------------------------------------
def _servable(engine: Any, media_id: int) -> tuple[Any, str, os.stat_result]:
    """The catalog row, the real path to open and its stat, or an HTTP error (see module docstring)."""
    media = engine.catalog.media_by_id(media_id)
    if media is None:
        raise HTTPException(404, f"no media with id {media_id}")
    path = media.path
    if not os.path.isabs(path) or "\x00" in path:
        raise HTTPException(404, f"media {media_id} has no usable path")
    try:
        link = os.lstat(path)
    except OSError:
        raise HTTPException(404, f"media {media_id} is gone from disk (re-index to forget it)") from None
    real = os.path.realpath(path)
    if stat.S_ISLNK(link.st_mode) and not _link_allowed(engine, path, real):
        raise HTTPException(403, f"media {media_id} is a symbolic link out of its folder; not served")
    try:
        st = os.stat(real)
    except OSError:
        raise HTTPException(404, f"media {media_id} is gone from disk (re-index to forget it)") from None
    if not stat.S_ISREG(st.st_mode):
        raise HTTPException(404, f"media {media_id} is not a regular file")
    if real != os.path.normpath(path) and (st.st_size != media.size or abs(st.st_mtime - media.mtime) > 1e-3):
        raise HTTPException(409, f"media {media_id} changed since it was indexed (its path has a symbolic link); re-index it")
    return media, real, st


def _link_allowed(engine: Any, path: str, real: str) -> bool:
    folder = os.path.realpath(os.path.dirname(path))
    try:
        inside = os.path.commonpath([folder, real]) == folder
    except ValueError:
        inside = False
    return inside or engine.catalog.media_by_path(real) is not None


def _content_type(kind: str, path: str) -> str:
    if kind in ("text", "subtitle"):
        return "text/plain; charset=utf-8"
    guessed = _CONTENT_TYPES.get(os.path.splitext(path)[1].lower())
    if guessed and guessed.startswith(f"{kind}/"):
        return guessed
    return "application/octet-stream"


def _make_thumb(media: Any, real: str, t: float | None, d: float | None, size: int) -> tuple[bytes, str]:
    if media.kind == "image":
        from mmsearch.media.images import load_image

        return _jpeg(load_image(real, max_side=size)[0]), "image/jpeg"
    if media.kind == "video":
        try:
            from mmsearch.media.video import frame_at
        except ImportError:
            raise HTTPException(404, "video thumbnails need mmsearch's video support (PyAV)") from None
        at = t or 0.0
        if media.duration:
            at = min(at, float(media.duration))
        return _jpeg(frame_at(real, at, size)), "image/jpeg"
    if media.kind == "audio":
        try:
            from mmsearch.media.audio import load_audio
        except ImportError:
            raise HTTPException(404, "audio waveforms need mmsearch's audio support") from None
        samples = load_audio(real, 8000, mono=True, max_seconds=d or 30.0, start=t or 0.0)
        return _waveform(samples, size), "image/png"
    raise HTTPException(404, f"no thumbnail for a {media.kind} file")


def _jpeg(image: Any) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=82, optimize=True)
    return buf.getvalue()


def _waveform(samples: np.ndarray, size: int) -> bytes:
    from PIL import Image, ImageDraw

    width, height = size, max(24, size * 9 // 16)
    img = Image.new("RGB", (width, height), (24, 30, 42))
    draw = ImageDraw.Draw(img)
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    x = x[np.isfinite(x)]
    if x.size:
        peak = float(np.max(np.abs(x))) or 1.0
        mid = height / 2
        for col, chunk in enumerate(np.array_split(x, width)):
            if chunk.size:
                lo, hi = float(chunk.min()) / peak, float(chunk.max()) / peak
                draw.line([(col, mid - hi * (mid - 2)), (col, mid - lo * (mid - 2))], fill=(110, 190, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("mmsearch")
    except Exception:  # noqa: BLE001
        return "0"
