"""Text files: robust decoding and splitting into passages a text encoder can take."""
from __future__ import annotations

import re
from pathlib import Path

from mmsearch.errors import MediaError

TEXT_EXTENSIONS = frozenset({".txt", ".md"})
_BLANK = re.compile(r"\n\s*\n")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def read_text(path: str | Path, max_chars: int = 200_000) -> str:
    """Read a text file whatever its encoding; at most ``max_chars`` characters are kept."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(max_chars * 4)
    except OSError as exc:
        raise MediaError(f"cannot read: {exc.strerror or exc}", stage="read") from None
    if b"\x00" in raw[:8192] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise MediaError("binary data in a text file")
    for encoding in ("utf-8-sig", "utf-16") if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else ("utf-8-sig",):
        try:
            return raw.decode(encoding)[:max_chars]
        except UnicodeDecodeError:
            continue
    # Not UTF-8: cp1252 is the most common legacy encoding; latin-1 decodes anything.
    try:
        return raw.decode("cp1252")[:max_chars]
    except UnicodeDecodeError:
        return raw.decode("latin-1")[:max_chars]


def passages(text: str, max_words: int = 50, max_passages: int = 500) -> list[str]:
    """Split text into passages of at most ``max_words`` words, keeping paragraphs and sentences whole
    where they fit (CLIP's text tower reads 77 tokens, about 50 words)."""
    out: list[str] = []
    current: list[str] = []
    for paragraph in _BLANK.split(text):
        for sentence in _SENTENCE.split(paragraph.strip()):
            words = sentence.split()
            while words:
                room = max_words - len(current)
                if len(words) > room and current:
                    out.append(" ".join(current))
                    current = []
                    continue
                current.extend(words[:max_words])
                words = words[max_words:]
        if current and len(current) >= max_words // 2:
            out.append(" ".join(current))
            current = []
        if len(out) >= max_passages:
            return out[:max_passages]
    if current:
        out.append(" ".join(current))
    return out[:max_passages]
