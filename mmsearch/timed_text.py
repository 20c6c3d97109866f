"""A span of text on a media file's timeline: a subtitle cue, a transcript segment."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TimedText:
    """``text`` shown or said from ``start`` to ``end`` (seconds on the file's timeline)."""

    start: float
    end: float
    text: str
    # other readings of the same span: a recogniser's next-best hypotheses (searchable by sound, never shown)
    alternatives: tuple[str, ...] = ()
