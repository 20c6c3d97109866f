"""mmsearch: cross-modal semantic search over folders of photos, videos and recordings."""
from __future__ import annotations

from .config import Settings, load_settings
from .engine import Engine
from .errors import (
    LibraryError,
    LibraryLockedError,
    MediaError,
    MmsearchError,
    ModelMismatchError,
    ModelUnavailableError,
)
from .hits import Hit

__version__ = "0.1.0"
__all__ = [
    "Engine",
    "Hit",
    "Settings",
    "load_settings",
    "MmsearchError",
    "ModelUnavailableError",
    "ModelMismatchError",
    "LibraryError",
    "LibraryLockedError",
    "MediaError",
]
