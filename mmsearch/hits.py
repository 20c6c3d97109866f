"""Search results."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from mmsearch.query.when_where import facts_json


@dataclass
class Hit:
    """One search result.

    ``start``/``end`` are seconds on the file's timeline, ``None`` for whole files (images, texts).
    ``space`` names the embedding space that matched. ``text`` is the matching passage for text hits;
    ``linked`` the path of the media a caption file describes. ``offline``: its drive or folder is offline
    (it cannot be opened until it is back); ``missing``: its file is gone, not forgotten yet (mmsearch/presence.py).
    """

    path: str
    kind: str
    score: float
    start: float | None = None
    end: float | None = None
    space: str = "clip"
    keyframe: float | None = None
    text: str | None = None
    linked: str | None = None
    media_id: int = 0
    segment_id: int = 0
    extra: dict = field(default_factory=dict)
    offline: bool = False
    missing: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        d["score"] = round(float(self.score), 6)
        d.update(facts_json(d.pop("extra")))  # media_time as ISO 8601
        return d
