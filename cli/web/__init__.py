"""The local web app and HTTP API of ``mmsearch serve``: :func:`create_app` builds the FastAPI app."""
from __future__ import annotations

from .server import create_app, is_loopback

__all__ = ["create_app", "is_loopback"]
