"""ASGI middleware: what every request must pass before any route reads its body or does any work.

From the outside in: :class:`SecurityHeaders` (headers on every answer), :class:`HostGuard` (without a token,
only loopback ``Host`` names: no DNS rebinding), :class:`SameOrigin` (no cross-site use, after the browsers'
Fetch Metadata guidance) and :class:`BodyLimit` (request bodies are counted as they arrive, whatever the
FastAPI version).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException

# Routes that a foreign page may open by navigation only (GET/HEAD, no Origin): the page and its script
# and style, which are static and hold no library data.
PUBLIC_PATHS = frozenset({"/", "/static/app.js", "/static/style.css"})
SAFE_METHODS = frozenset({"GET", "HEAD"})
# ``same-site`` is refused like ``cross-site``: sites ignore ports, so on loopback it is any other local server
# (any program of any local account); only the page itself (``same-origin``) or the user (``none``) may ask.
FOREIGN_SITES = frozenset({"cross-site", "same-site"})
# Multipart framing around an upload: the body limit is the upload limit plus this.
BODY_SLACK = 64 * 1024


async def _refuse(scope: dict, receive: Any, send: Any, status: int, detail: str) -> None:
    await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)


def host_name(host: str) -> str:
    """The name part of a Host header: ``[::1]:8000`` -> ``::1``, ``localhost:8000`` -> ``localhost``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


class HostGuard:
    """Answer only requests whose Host header names an allowed host."""

    def __init__(self, app: Any, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = {h.strip("[]").lower() for h in allowed}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            host = Headers(scope=scope).get("host", "")
            if host_name(host) not in self.allowed:
                await _refuse(scope, receive, send, 400,
                              f"unexpected Host header {host!r}: without an access token this server answers only "
                              f"{', '.join(sorted(self.allowed))}")
                return
        await self.app(scope, receive, send)


def cross_site(scope: dict) -> str | None:
    """Why a request comes from another site and must be refused (None: it may go on).

    The rule: an ``Origin`` header that is not this server's own origin (``scheme://Host``), or
    ``Sec-Fetch-Site`` of :data:`FOREIGN_SITES`. A navigation (GET, no Origin) to one of
    :data:`PUBLIC_PATHS` is let through: the page holds no data, and a link to it from elsewhere should open it.
    """
    headers = Headers(scope=scope)
    origin, site = headers.get("origin"), (headers.get("sec-fetch-site") or "").lower()
    method, path = scope.get("method", "GET"), scope.get("path", "")
    if origin is not None:
        own = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}".lower()
        if origin.strip().lower() != own:
            return f"cross-origin request from {origin!r} refused"
    elif method in SAFE_METHODS and path in PUBLIC_PATHS:
        return None
    if site in FOREIGN_SITES:
        return f"request from another site (Sec-Fetch-Site: {site}) refused"
    return None


class SameOrigin:
    """Refuse (403) what :func:`cross_site` names, before the route runs or reads the body."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            why = cross_site(scope)
            if why is not None:
                await _refuse(scope, receive, send, 403, f"{why}: this server answers its own page only")
                return
        await self.app(scope, receive, send)


class TooLarge(HTTPException):
    """A request body went past the limit (raised from ``receive``; FastAPI passes HTTP errors on)."""


class BodyLimit:
    """Refuse (413) a request body larger than ``limit`` bytes: at once when its Content-Length says so,
    else (chunked) as soon as the bytes received pass it, so nothing larger is ever spooled or parsed."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"request body larger than {self.limit} bytes"
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.strip().isdigit() or int(length) > self.limit):
            await _refuse(scope, receive, send, 413, detail)
            return
        received = 0
        started = False

        async def counted_receive() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise TooLarge(413, detail)
            return message

        async def watched_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except TooLarge:
            if started:
                raise
            await _refuse(scope, receive, send, 413, detail)


class SecurityHeaders:
    """Headers every response carries."""

    HEADERS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)
