"""Who and what the server answers: the access token, the Host rule, upload limits, and errors as problems.

Access: with a token every ``/api`` request needs ``Authorization: Bearer T``; the media URLs (``/file``,
``/thumb``) also accept ``?token=T`` because ``<img>`` and ``<video>`` cannot send headers. Without a token
the server answers only requests whose ``Host`` is a loopback name, which blocks DNS-rebinding attacks
from web pages the user visits.
"""
from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers

from mmsearch.errors import (
    LibraryLockedError,
    MediaError,
    MmsearchError,
    ModelMismatchError,
    ModelUnavailableError,
    NotFoundError,
)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_UPLOAD = 32 * 1024 * 1024

# HTTP status of an mmsearch error, by the first of its classes (most specific first) found here.
ERROR_STATUS: dict[type[MmsearchError], int] = {
    ModelMismatchError: 409,
    ModelUnavailableError: 503,
    LibraryLockedError: 503,
    NotFoundError: 404,
    MediaError: 422,
    MmsearchError: 400,
}


# -- hosts -----------------------------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost names: addresses no other machine can reach."""
    h = host.strip().strip("[]").lower()
    if h == "localhost" or h.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def host_name(host: str) -> str:
    """The name part of a Host header: ``[::1]:8000`` -> ``::1``, ``localhost:8000`` -> ``localhost``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


class HostGuard:
    """ASGI middleware: answer only requests whose Host header names an allowed host."""

    def __init__(self, app: Any, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = {h.strip("[]").lower() for h in allowed}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            host = Headers(scope=scope).get("host", "")
            if host_name(host) not in self.allowed:
                response = JSONResponse(
                    {"detail": f"unexpected Host header {host!r}: without an access token this server "
                               f"answers only {', '.join(sorted(self.allowed))}"},
                    status_code=400,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """ASGI middleware: headers every response carries."""

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


# -- the token ---------------------------------------------------------------------------------------
bearer = HTTPBearer(auto_error=False, description="the server's access token (when it has one)")
query_token = APIKeyQuery(name="token", auto_error=False, description="the access token, for media URLs")


def check_token(request: Request, given: str | None) -> None:
    """Refuse (401) a request without the app's token, when it has one (constant-time comparison)."""
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
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    """Dependency of the API: the token in the Authorization header."""
    check_token(request, credentials.credentials if credentials else None)


def require_token_or_query(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    token: Annotated[str | None, Depends(query_token)],
) -> None:
    """Dependency of the media URLs: the token in the Authorization header or in ``?token=``."""
    check_token(request, credentials.credentials if credentials else token)


# -- uploads -------------------------------------------------------------------------------------------
def read_upload(file: UploadFile, limit: int) -> bytes:
    """The uploaded bytes: 413 past ``limit``, 400 when empty."""
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"image larger than {limit} bytes")
    if not data:
        raise HTTPException(400, "empty upload")
    return data


def body_limit(max_upload: int) -> dict[str, Any]:
    """FastAPI's own body limit where it has one (newer versions refuse a large body before spooling it)."""
    import inspect

    from fastapi import FastAPI

    if "max_body_size" in inspect.signature(FastAPI).parameters:
        return {"max_body_size": max_upload + 64 * 1024}
    return {}


# -- problems --------------------------------------------------------------------------------------
def error_status(exc: MmsearchError) -> int:
    """The HTTP status of an mmsearch error (see :data:`ERROR_STATUS`)."""
    for cls in type(exc).__mro__:
        if cls in ERROR_STATUS:
            return ERROR_STATUS[cls]
    return 400


async def problem(_request: Request, exc: Exception) -> JSONResponse:
    """Exception handler: an mmsearch error as ``{"detail": message}`` with its status."""
    status = error_status(exc) if isinstance(exc, MmsearchError) else 500
    return JSONResponse({"detail": str(exc)}, status_code=status)
