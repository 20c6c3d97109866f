"""Media kinds, one handler each, registered in :data:`HANDLERS`: how the decode step and the writer treat a
file of each kind. What a kind is (extensions, timed, what it describes, its work) is its row of the kind
table, :data:`mmsearch.kinds.KINDS`. A new kind is a row there, a handler module and one line here."""
from __future__ import annotations

from mmsearch.kinds import MediaKind, extension_table

from .audio import AudioHandler
from .base import DecodeInputs, KindHandler, Stage, TimedInputs, TimedResult
from .image import ImageHandler
from .subtitle import SubtitleHandler
from .text import TextHandler
from .video import VideoHandler

HANDLERS: dict[MediaKind, KindHandler] = {
    h.kind: h for h in (ImageHandler(), TextHandler(), SubtitleHandler(), VideoHandler(), AudioHandler())
}


EXTENSIONS: dict[str, MediaKind] = extension_table()  # ".jpg" -> MediaKind.IMAGE: the kind table's view

__all__ = ["EXTENSIONS", "HANDLERS", "DecodeInputs", "KindHandler", "Stage", "TimedInputs", "TimedResult"]
