"""The endpoints, in four groups: the page, queries, information, and media files.

Each endpoint only routes: it reads its parameters, calls the library (:mod:`mmsearch.query.search`,
:mod:`mmsearch.status`, :mod:`mmsearch.query.hit_data`, :mod:`mmsearch.media.previews`) with the app's
:class:`~mmsearch.context.Context`, and shapes the answer (:mod:`.schemas`). Endpoints that query or decode
are plain ``def`` functions, so FastAPI runs them in its thread pool and the event loop never blocks.
"""
from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, Response

from mmsearch import status
from mmsearch.context import Context
from mmsearch.hits import Hit
from mmsearch.media import previews
from mmsearch.query import search as searching
from mmsearch.query.hit_data import describe_hits
from mmsearch.query.mix_rules import LIKE_WEIGHT
from mmsearch.query.ranking import PAGE_MIN_SCORE
from mmsearch.query.when_where import WhenWhere

from .files import file_response, servable, shareable, shareable_groups
from .guards import read_upload, require_media_access, require_token
from .media_tokens import Sign
from .schemas import (
    MEDIA_PROBLEMS,
    PROBLEMS,
    DuplicatesOut,
    ErrorOut,
    MediaOut,
    Problem,
    SearchOut,
    StatsOut,
    duplicates_out,
    media_out,
    search_out,
)

STATIC = Path(__file__).parent / "static"
STATIC_TYPES = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
# The page loads nothing from elsewhere: no CDN, no inline script.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self'; script-src 'self'; "
    "style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
MAX_ID = 2**63 - 1  # SQL integer range: larger ids are a 422, not an overflow deep in the database driver


def get_context(request: Request) -> Context:
    """The app's single shared Context."""
    return request.app.state.context


def get_roots(request: Request) -> list[str]:
    """The folders whose files may be served: those the server was limited to, else the library's recorded
    roots (read per request: an index run elsewhere may add one)."""
    fixed = request.app.state.roots
    return list(fixed) if fixed is not None else request.app.state.context.catalog.roots()


def get_signer(request: Request) -> Sign:
    """How media URLs in answers are signed (with a media token when the app has an access token)."""
    return request.app.state.sign


# Parameter types (module level: the annotations are strings, resolved in this namespace).
Ctx = Annotated[Context, Depends(get_context)]
Signer = Annotated[Sign, Depends(get_signer)]
Roots = Annotated[list[str], Depends(get_roots)]
Kind = Literal["image", "text", "video", "audio"]
KindQ = Annotated[list[Kind] | None, Query(description="keep only these kinds (repeatable)")]
TopQ = Annotated[int, Query(ge=1, le=200, description="number of hits")]
MinScoreQ = Annotated[float | None, Query(ge=-100, le=100, allow_inf_nan=False,
                                          description="leave out hits below this calibrated score (the page sends "
                                          f"{PAGE_MIN_SCORE}); default: none")]
SortQ = Annotated[Literal["relevance", "date"], Query(description="relevance, or date (the best hits, oldest first)")]
PathQ = Annotated[str | None, Query(max_length=1000,
                                       description="only files whose path matches this glob or substring")]
AfterQ = Annotated[str | None, Query(max_length=40, description="only media made at or after this: 2024-05-01, "
                                     "2024-05-01T14:30, 2024-05, 2024 (server's local time unless Z or +02:00)")]
BeforeQ = Annotated[str | None, Query(max_length=40, description="only media made before the end of this day "
                                      "(minute, month, year): 2024-05-31 includes May 31")]
CameraQ = Annotated[str | None, Query(max_length=100, description="camera make/model contains this (any case)")]
NearQ = Annotated[str | None, Query(max_length=80, description="LAT,LON[,KM]: taken within KM km (default 1)")]
IdQ = Annotated[int | None, Query(ge=1, le=MAX_ID)]
MediaId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
TextQ = Annotated[str, Query(min_length=1, max_length=2000, description="what you are looking for, in words")]
LikeQ = Annotated[list[Annotated[int, Query(ge=1, le=MAX_ID)]] | None, Query(
    max_length=8, description="media ids of example files mixed into the query (repeatable)")]
LikeWeightQ = Annotated[float, Query(gt=0, le=100, allow_inf_nan=False,
                                     description="weight of each example against the words' 1.0")]
SecondsQ = Annotated[float | None, Query(ge=0, le=1e7, allow_inf_nan=False, description="seconds (video, audio)")]
SpanQ = Annotated[float | None, Query(gt=0, le=600, allow_inf_nan=False, description="seconds of audio")]
SizeQ = Annotated[int, Query(ge=32, le=1024, description="longest side in pixels")]
ImageFile = Annotated[UploadFile, File(description="an image (jpg, png, webp, gif, bmp, tiff)")]

page = APIRouter(include_in_schema=False)
queries = APIRouter(prefix="/api", dependencies=[Depends(require_token)], responses=PROBLEMS)
information = APIRouter(prefix="/api", dependencies=[Depends(require_token)], responses=PROBLEMS)
media_files = APIRouter(prefix="/api", dependencies=[Depends(require_media_access)], responses=MEDIA_PROBLEMS)
ROUTERS = (page, queries, information, media_files)


def _answer(ctx: Context, roots: list[str], query: str, hits: list[Hit], started: float, sign: Sign) -> SearchOut:
    """The answer, without the hits whose file ``/file`` would refuse (files.py), and the work that waits."""
    from mmsearch.pending import pending

    return search_out(query, shareable(ctx, describe_hits(ctx, hits), roots), started, sign,
                      [p.line for p in pending(ctx)])


# -- the page ------------------------------------------------------------------------------------------
@page.get("/")
def index_page() -> HTMLResponse:
    return HTMLResponse(
        (STATIC / "index.html").read_text(encoding="utf-8"),
        headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"},
    )


@page.get("/static/{name}")
def static_file(name: str) -> Response:
    # A fixed list of files: nothing from the request is ever joined to a path.
    media_type = STATIC_TYPES.get(name)
    if media_type is None:
        raise HTTPException(404, "Not Found")
    return Response((STATIC / name).read_bytes(), media_type=media_type, headers={"Cache-Control": "no-cache"})


# -- queries -------------------------------------------------------------------------------------------
@queries.get("/search", response_model=SearchOut, summary="Search by text (-word: negative terms), with examples")
def search(request: Request, ctx: Ctx, sign: Signer, roots: Roots, q: TextQ, kind: KindQ = None, k: TopQ = 20,
           path: PathQ = None, min_score: MinScoreQ = None, sort: SortQ = "relevance", like: LikeQ = None,
           like_weight: LikeWeightQ = LIKE_WEIGHT, after: AfterQ = None, before: BeforeQ = None,
           camera: CameraQ = None, near: NearQ = None) -> SearchOut:
    started = time.perf_counter()
    examples = [Path(servable(ctx, media_id, roots).media.path) for media_id in like or []]
    where = WhenWhere.parse(after, before, camera, near)
    with request.app.state.search_lock:
        hits = searching.search(ctx, q, k=k, kinds=kind, path=path or None, min_score=min_score, sort=sort,
                                like=examples, like_weight=like_weight, where=where)
    return _answer(ctx, roots, q, hits, started, sign)


@queries.post(
    "/search/image",
    response_model=SearchOut,
    summary="Search by an uploaded image",
    responses={413: {"model": Problem, "description": "upload too large"},
               422: {"model": Problem, "description": "not a decodable image"}},
)
def search_image(request: Request, ctx: Ctx, sign: Signer, roots: Roots, file: ImageFile, kind: KindQ = None,
                 k: TopQ = 20, path: PathQ = None, sort: SortQ = "relevance", after: AfterQ = None,
                 before: BeforeQ = None, camera: CameraQ = None, near: NearQ = None) -> SearchOut:
    from mmsearch.media.images import load_image

    started = time.perf_counter()
    where = WhenWhere.parse(after, before, camera, near)
    data = read_upload(file, request.app.state.max_upload)
    image, _, _ = load_image(io.BytesIO(data), max_side=1024)  # type: ignore[arg-type]  # a file object opens too
    with request.app.state.search_lock:
        hits = searching.search(ctx, image, k=k, kinds=kind, path=path or None, sort=sort, where=where)
    return _answer(ctx, roots, f"image {file.filename or ''}".strip(), hits, started, sign)


@queries.get(
    "/similar",
    response_model=SearchOut,
    summary="More like this: hits similar to a hit (by its segment id) or to a whole file (media id)",
    responses={404: {"model": Problem, "description": "no such segment or media, or it has no vector"}},
)
def similar(request: Request, ctx: Ctx, sign: Signer, roots: Roots, segment_id: IdQ = None, media_id: IdQ = None,
            kind: KindQ = None, k: TopQ = 20, path: PathQ = None, after: AfterQ = None, before: BeforeQ = None,
            camera: CameraQ = None, near: NearQ = None) -> SearchOut:
    started = time.perf_counter()
    where = WhenWhere.parse(after, before, camera, near)
    source = media_id if segment_id is None else getattr(ctx.catalog.segments([segment_id]).get(segment_id),
                                                             "media_id", None)
    if source is not None:
        servable(ctx, source, roots)  # a file that may not be served is no example either
    with request.app.state.search_lock:
        hits = searching.more_like(ctx, segment_id=segment_id, media_id=media_id, k=k, kinds=kind, path=path or None,
                                   where=where)
    label = f"segment {segment_id}" if segment_id is not None else f"media {media_id}"
    return _answer(ctx, roots, f"like {label}", hits, started, sign)


# -- information ---------------------------------------------------------------------------------------
@information.get("/stats", response_model=StatsOut, summary="Files, segments, spaces and their models")
def stats(ctx: Ctx) -> dict:
    return status.stats(ctx)


@information.get("/errors", response_model=list[ErrorOut], summary="Files that could not be indexed, and why")
def errors(ctx: Ctx) -> list[dict]:
    return status.errors(ctx)


@information.get("/duplicates", response_model=DuplicatesOut,
                 summary="Groups of near-duplicate images, video scenes and videos, each with the copy to keep")
def duplicates(ctx: Ctx, sign: Signer, roots: Roots, kind: Literal["image", "video"] | None = None,
               threshold: Annotated[float | None, Query(ge=0, le=63, allow_inf_nan=False,
                                                        description="hash bits of 63 (default 12)")] = None) -> dict:
    from mmsearch.query.duplicates import find_duplicates

    return duplicates_out(shareable_groups(ctx, find_duplicates(ctx, kind, threshold).to_dict(), roots), sign)


@information.get("/media/{media_id}", response_model=MediaOut, summary="Facts about one indexed file",
                 responses={404: {"model": Problem, "description": "no such media"}})
def media_info(ctx: Ctx, sign: Signer, roots: Roots, media_id: MediaId) -> MediaOut:
    return media_out(servable(ctx, media_id, roots).media, sign)


# -- media files ---------------------------------------------------------------------------------------
@media_files.get(
    "/media/{media_id}/file",
    summary="The indexed file itself (supports HTTP Range requests)",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "the file"},
               206: {"description": "the requested byte range"},
               416: {"description": "range not satisfiable"}},
)
def media_file(ctx: Ctx, roots: Roots, media_id: MediaId) -> FileResponse:
    return file_response(servable(ctx, media_id, roots))


@media_files.get(
    "/media/{media_id}/thumb",
    summary="Thumbnail: an image scaled down, a video's frame at t, an audio waveform from t for d seconds",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}, "description": "the thumbnail"},
               422: {"model": Problem, "description": "the file cannot be decoded"}},
)
def media_thumb(request: Request, ctx: Ctx, roots: Roots, media_id: MediaId, t: SecondsQ = None, d: SpanQ = None,
                size: SizeQ = 320) -> Response:
    file = servable(ctx, media_id, roots)
    media, st = file.media, file.stat
    key = (media.id, file.real, st.st_size, st.st_mtime_ns, media.kind, t, d, size)
    cache = request.app.state.thumbs
    preview = cache.get(key)
    if preview is None:
        with request.app.state.thumb_slots:
            preview = previews.thumbnail(media.kind, file.real, at=t, seconds=d, max_side=size,
                                         duration=media.duration)
        cache.put(key, preview)
    return Response(preview.data, media_type=preview.media_type, headers={"Cache-Control": "private, max-age=86400"})
