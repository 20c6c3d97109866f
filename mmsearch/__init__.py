"""mmsearch: cross-modal semantic search over folders of photos, videos and recordings."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mmsearch.config import Settings, load_settings
    from mmsearch.engine import Engine
    from mmsearch.errors import (
        LibraryError,
        LibraryLockedError,
        MediaError,
        MmsearchError,
        ModelMismatchError,
        ModelUnavailableError,
    )
    from mmsearch.hits import Hit

# Names are imported on first use (PEP 562): `import mmsearch.cli` (every command line) then costs nothing
# before it knows what it needs; a query handed to the background query process never imports the engine.
_WHERE = {"Settings": "config", "load_settings": "config", "Engine": "engine", "Hit": "hits",
          **{name: "errors" for name in ("LibraryError", "LibraryLockedError", "MediaError", "MmsearchError",
                                         "ModelMismatchError", "ModelUnavailableError")}}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
