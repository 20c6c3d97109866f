"""A video's ingest, in one folder: the handler (handler.py) samples and encodes frames and cuts them into
scenes (frames.py), and adds the soundtrack (indexers/kinds/soundtrack.py); the run's deferred pass reads
the text shown in each scene (text.py)."""
from __future__ import annotations

from .handler import VideoHandler

__all__ = ["VideoHandler"]
