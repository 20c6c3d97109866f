"""Media tokens: what ``<img>`` and ``<video>`` URLs carry instead of the access token.

Those elements cannot send an ``Authorization`` header, so with a token set the server signs each media
URL it hands out: ``?mt=EXPIRY.SIGNATURE``, the signature an HMAC-SHA256 (128 bits kept) of the media id
and the expiry under a key made for this process. A media token opens that one file and its thumbnails,
until it expires (:data:`MEDIA_TOKEN_SECONDS`) or the server restarts; a copied link or the browser
history never holds the access token itself.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

MEDIA_TOKEN_SECONDS = 6 * 3600  # long enough to watch a film found by one search
Sign = Callable[[str, int], str]


class MediaTokens:
    """Signs media URLs and checks their tokens (see module docstring)."""

    def __init__(self, seconds: int = MEDIA_TOKEN_SECONDS, clock: Callable[[], float] = time.time) -> None:
        self._key = secrets.token_bytes(32)
        self.seconds = seconds
        self.clock = clock

    def _signature(self, media_id: int, expiry: int) -> str:
        mac = hmac.new(self._key, f"{media_id}:{expiry}".encode(), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def token(self, media_id: int) -> str:
        """A fresh media token for ``media_id``."""
        expiry = int(self.clock()) + self.seconds
        return f"{expiry}.{self._signature(media_id, expiry)}"

    def sign(self, url: str, media_id: int) -> str:
        """``url`` (a media URL of ``media_id``) with its media token added."""
        return f"{url}{'&' if '?' in url else '?'}mt={self.token(media_id)}"

    def valid(self, media_id: int, token: str | None) -> bool:
        """True when ``token`` was made here for ``media_id`` and has not expired."""
        expiry, _, signature = (token or "").partition(".")
        if not expiry.isdigit() or int(expiry) < self.clock():
            return False
        return hmac.compare_digest(signature.encode(), self._signature(media_id, int(expiry)).encode())


def unsigned(url: str, _media_id: int) -> str:
    """The URL as is: without an access token, media URLs need no media token."""
    return url
