"""The web app of ``mmsearch serve``: :func:`create_app` builds the FastAPI app around one library.

API (the OpenAPI schema is served at ``/api/openapi.json``)::

    GET  /api/search?q=TEXT&kind=image&kind=video&k=20&path=GLOB   text query
    POST /api/search/image  (multipart: file=IMAGE; kind, k, path)  query by an uploaded image
    GET  /api/similar?segment_id=N | media_id=N  (kind, k, path)    "more like this" for a hit
    GET  /api/stats                                                 what the library holds
    GET  /api/errors                                                files that could not be indexed
    GET  /api/media/{id}                                            facts about one indexed file
    GET  /api/media/{id}/file                                       the file itself (Range requests)
    GET  /api/media/{id}/thumb?t=SECONDS&d=SECONDS&size=PX          JPEG thumbnail / PNG waveform

The endpoints are in :mod:`.routes`, access rules in :mod:`.guards` (the page itself and its script and
style, static with no library data in them, are public; the page asks for the token when the API answers
401) and :mod:`.middleware` (no cross-site use, Host names, the body limit), media tokens in
:mod:`.media_tokens`, file serving rules in :mod:`.files`, response models in :mod:`.schemas`.
The threat model is docs/security.md.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence

from fastapi import FastAPI

from mmsearch.context import Context
from mmsearch.errors import MmsearchError

from .files import ThumbCache
from .guards import LOOPBACK_HOSTS, MAX_UPLOAD, problem
from .media_tokens import MediaTokens, unsigned
from .middleware import BODY_SLACK, BodyLimit, HostGuard, SameOrigin, SecurityHeaders
from .routes import ROUTERS


def create_app(
    context: Context,
    token: str | None = None,
    *,
    allowed_hosts: Iterable[str] | None = None,
    thumb_workers: int = 2,
    max_upload: int = MAX_UPLOAD,
    roots: Sequence[str] | None = None,
) -> FastAPI:
    """The web app and JSON API over ``context`` (not closed by the app: the caller owns it).

    Args:
        context: an open library's :class:`~mmsearch.context.Context`, shared by all requests.
        token: when set, every API request must carry it, and media URLs a media token (see :mod:`.guards`).
        allowed_hosts: Host header names answered when there is no token (default: loopback names).
        thumb_workers: how many thumbnails are decoded at once.
        max_upload: largest image upload (bytes); a request body larger than this plus the multipart
            framing (:data:`~.middleware.BODY_SLACK`) is refused with 413 before it is read further.
        roots: serve only files under these folders (default: the library's recorded roots, which a writer of
            a shared catalog can change).
    """
    app = FastAPI(
        title="mmsearch",
        summary="Search photos, videos, recordings and notes by describing them.",
        version=_version(),
        openapi_url="/api/openapi.json",
        docs_url=None,  # Swagger UI would load from a CDN; the schema is at /api/openapi.json
        redoc_url=None,
    )
    app.state.context = context
    app.state.roots = [os.path.abspath(os.path.expanduser(r)) for r in roots] if roots is not None else None
    app.state.token = token or None
    app.state.max_upload = max_upload
    app.state.search_lock = threading.Lock()
    app.state.thumb_slots = threading.BoundedSemaphore(max(1, thumb_workers))
    app.state.thumbs = ThumbCache()
    app.state.media_tokens = MediaTokens()
    app.state.sign = app.state.media_tokens.sign if token else unsigned

    # Added innermost first: a request meets SecurityHeaders, HostGuard, SameOrigin, then BodyLimit.
    app.add_middleware(BodyLimit, limit=max_upload + BODY_SLACK)
    app.add_middleware(SameOrigin)
    if not token:
        app.add_middleware(HostGuard, allowed=allowed_hosts if allowed_hosts is not None else LOOPBACK_HOSTS)
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(MmsearchError, problem)
    for router in ROUTERS:
        app.include_router(router)
    return app


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("mmsearch")
    except ImportError:  # PackageNotFoundError: run from a checkout that is not installed
        return "0"
