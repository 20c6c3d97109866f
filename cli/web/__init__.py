"""The local web app and HTTP API of ``mmsearch serve``: :func:`create_app` builds the FastAPI app.

Modules: :mod:`.app` (the app), :mod:`.routes` (endpoints), :mod:`.schemas` (response models),
:mod:`.guards` (token, Host rule, upload limit, errors as problems), :mod:`.files` (serving files).
"""
from __future__ import annotations

from .app import create_app
from .guards import LOOPBACK_HOSTS, is_loopback

__all__ = ["LOOPBACK_HOSTS", "create_app", "is_loopback"]
