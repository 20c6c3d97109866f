"""Media kinds, one handler module each, registered in :data:`HANDLERS`: the one table that the scan
(extension -> kind), the decode step and the writer read. A new kind is a new module and one line here."""
from __future__ import annotations

from mmsearch.kinds import MediaKind

from .audio import AudioHandler
from .base import DecodeInputs, KindHandler, Stage, TimedInputs, TimedResult
from .image import ImageHandler
from .subtitle import SubtitleHandler
from .text import TextHandler
from .video import VideoHandler

HANDLERS: dict[MediaKind, KindHandler] = {
    h.kind: h for h in (ImageHandler(), TextHandler(), SubtitleHandler(), VideoHandler(), AudioHandler())
}


def _by_extension() -> dict[str, MediaKind]:
    table: dict[str, MediaKind] = {}
    for handler in HANDLERS.values():
        for ext in handler.extensions:
            if ext in table:
                raise RuntimeError(f"extension {ext} claimed by both {table[ext]} and {handler.kind}")
            table[ext] = handler.kind
    return table


EXTENSIONS: dict[str, MediaKind] = _by_extension()  # ".jpg" -> MediaKind.IMAGE

__all__ = ["EXTENSIONS", "HANDLERS", "DecodeInputs", "KindHandler", "Stage", "TimedInputs", "TimedResult"]
