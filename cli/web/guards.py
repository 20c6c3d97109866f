"""Who the server answers: the access token, media tokens, loopback names, upload reads, errors as problems.

Access: with a token every ``/api`` request needs ``Authorization: Bearer T``. The media URLs (``/file``,
``/thumb``) also accept the media token the server signed into the URLs it handed out (``?mt=``, see
:mod:`.media_tokens`), because ``<img>`` and ``<video>`` cannot send headers; the access token itself is
never taken from a URL. Without a token the server answers only requests whose ``Host`` is a loopback
name (DNS rebinding). In every case a request from another site is refused first (:mod:`.middleware`).
"""
from __future__ import annotations

import hmac
import ipaddress
import socket
from typing import Annotated

from fastapi import Depends, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

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
    """True when every address ``host`` names is a loopback address (127.0.0.0/8, ::1): a literal address
    is read as is, a name is resolved (``getaddrinfo``); a name that does not resolve is not loopback."""
    h = host.strip().strip("[]").lower()
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(h, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    addresses = {str(info[4][0]) for info in infos}
    return bool(addresses) and all(ipaddress.ip_address(a.split("%", 1)[0]).is_loopback for a in addresses)


# -- the token ---------------------------------------------------------------------------------------
bearer = HTTPBearer(auto_error=False, description="the server's access token (when it has one)")
media_token = APIKeyQuery(name="mt", auto_error=False,
                          description="media token: the server signs it into the media URLs it returns")
UNAUTHORIZED = ("missing or wrong access token: send 'Authorization: Bearer TOKEN' (media URLs: the ?mt= the "
                "server put in them); the token is the one `mmsearch serve` was started with or printed")


def token_ok(request: Request, given: str | None) -> bool:
    """True when the app has no token, or ``given`` is it (constant-time comparison)."""
    expected: str | None = request.app.state.token
    if not expected:
        return True
    return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"),
                                                     expected.encode("utf-8", "replace"))


def _unauthorized() -> HTTPException:
    return HTTPException(401, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})


def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    """Dependency of the API: the token in the Authorization header."""
    if not token_ok(request, credentials.credentials if credentials else None):
        raise _unauthorized()


def require_media_access(
    request: Request,
    media_id: int,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    mt: Annotated[str | None, Depends(media_token)],
) -> None:
    """Dependency of the media URLs: the token in the Authorization header, or a media token for this media."""
    if token_ok(request, credentials.credentials if credentials else None):
        return
    if not request.app.state.media_tokens.valid(media_id, mt):
        raise _unauthorized()


# -- uploads -------------------------------------------------------------------------------------------
def read_upload(file: UploadFile, limit: int) -> bytes:
    """The uploaded bytes: 413 past ``limit``, 400 when empty."""
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"image larger than {limit} bytes")
    if not data:
        raise HTTPException(400, "empty upload")
    return data


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
