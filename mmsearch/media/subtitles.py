"""Subtitle files (SubRip .srt, WebVTT .vtt): timed text cues on a video's timeline."""
from __future__ import annotations

import re
from pathlib import Path

from mmsearch.errors import MediaError
from mmsearch.media.text import read_text
from mmsearch.timed_text import TimedText

SUBTITLE_EXTENSIONS = frozenset({".srt", ".vtt"})
_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})"
_CUE = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}")
_TAG = re.compile(r"<[^>]+>|\{\\[^}]*\}")


Cue = TimedText  # one subtitle cue


def _seconds(h: str | None, m: str, s: str, frac: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(frac.ljust(3, "0")) / 1000


def parse_subtitles(path: str | Path) -> list[Cue]:
    """Cues of an .srt or .vtt file, markup removed, in time order. Raises MediaError if none."""
    text = read_text(path, max_chars=5_000_000)
    cues: list[Cue] = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    i = 0
    while i < len(lines):
        m = _CUE.match(lines[i])
        i += 1
        if not m:
            continue
        g = m.groups()
        start, end = _seconds(*g[:4]), _seconds(*g[4:])
        body: list[str] = []
        while i < len(lines) and lines[i].strip() and not _CUE.match(lines[i]):
            body.append(_TAG.sub("", lines[i]).strip())
            i += 1
        words = " ".join(b for b in body if b)
        if words and end >= start:
            cues.append(Cue(start, end, words))
    if not cues:
        raise MediaError("no subtitle cues found")
    cues.sort(key=lambda c: (c.start, c.end))
    return cues


SENTENCE_END = (".", "!", "?", "…", '."', '!"', '?"', "♪")


def merge_cues(cues: list[Cue], max_words: int = 40, max_gap: float = 1.5) -> list[Cue]:
    """Join a cue that ends mid-sentence with the next one (one cue is often half a sentence), while they are
    at most ``max_gap`` seconds apart and ``max_words`` long together; a cue that ends a sentence stays its own
    moment, so a hit points at the line that was said."""
    out: list[Cue] = []
    for cue in cues:
        if (out and not out[-1].text.rstrip().endswith(SENTENCE_END) and cue.start - out[-1].end <= max_gap
                and len(out[-1].text.split()) + len(cue.text.split()) <= max_words):
            last = out[-1]
            out[-1] = Cue(last.start, max(last.end, cue.end), f"{last.text} {cue.text}")
        else:
            out.append(cue)
    return out
