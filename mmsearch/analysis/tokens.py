"""The words and phonetic keys of a text, as the full-text index stores them and a query is matched against them.

The rule: a word is a run of word characters, lower-cased, ``_`` splitting words (as both databases' tokenizers
see them); a phonetic key is a Double Metaphone key of a word or an adjacent word pair
(:func:`mmsearch.analysis.phonetic.phonetic_keys`), lower-cased. A segment's phonetic column also holds the keys of the
other readings its ``detail`` lists (a recogniser's next-best hypotheses): heard, not read, they match by sound
only. A file's name gives words too: ``meeting_budget-2024.ogg`` -> ``meeting budget 2024``.

Text read from pixels (``apart``: an OCR segment) may have words run together (``saladsolarresearch``): its
passage is read apart (:func:`passage`, :mod:`mmsearch.analysis.run_together`) — the full text stores the
parts beside the token as it was read (:func:`fulltext_text`), its phonetic keys, its word match and its
sentence vector are those of the passage read apart. The text shown stays as it was read.
"""
from __future__ import annotations

import json
import os
import re

from mmsearch.analysis.phonetic import phonetic_keys as _phonetic_keys
from mmsearch.analysis.run_together import apart_words, read_apart

_WORD = re.compile(r"\w+", re.UNICODE)
ALTERNATIVES = "alternatives"  # the key of a segment's detail JSON listing other readings of its text


def words(text: str | None) -> list[str]:
    """Lower-case word tokens, as both backends' tokenizers see them (``_`` splits words here)."""
    return _WORD.findall((text or "").lower().replace("_", " "))


def phonetic_keys(text: str) -> list[str]:
    """The phonetic keys of a text's words and adjacent word pairs (:func:`mmsearch.analysis.phonetic.phonetic_keys`),
    lower-cased as both backends store them."""
    return [k.lower() for k in _phonetic_keys(text or "")]


def phonetic_text(text: str) -> str:
    """The phonetic column of a text: its keys, space-separated."""
    return " ".join(phonetic_keys(text))


def passage(text: str | None, apart: bool = False) -> str:
    """A segment's text as its words are matched and embedded: read apart when ``apart`` (module docstring)."""
    return read_apart(text) if apart else (text or "")


def fulltext_text(text: str, apart: bool = False) -> str:
    """The text column of a segment's full-text row: its text, then (``apart``) the parts of its run-together
    tokens, so that both the token as read and its words match."""
    extra = apart_words(text) if apart else []
    return f"{text} {' '.join(extra)}" if extra else text


def phonetic_column(text: str, detail: str | None = None, apart: bool = False) -> str:
    """The phonetic column of a segment: the keys of its :func:`passage`, then those of the other readings its
    ``detail`` JSON lists under ``alternatives`` (a recogniser's next-best hypotheses) that are not already there.
    Their words are heard, not read: they match by sound only, never as exact words."""
    keys = phonetic_keys(passage(text, apart))
    others = alternatives(detail)
    if others:
        seen = set(keys)
        for other in others:
            for key in phonetic_keys(other):
                if key not in seen:
                    seen.add(key)
                    keys.append(key)
    return " ".join(keys)


def alternatives(detail: str | None) -> list[str]:
    """The ``alternatives`` a segment's ``detail`` JSON lists ([] for none or for detail that is not JSON)."""
    if not detail or ALTERNATIVES not in detail:
        return []
    try:
        found = json.loads(detail).get(ALTERNATIVES)
    except (ValueError, AttributeError):
        return []
    return [str(a) for a in found] if isinstance(found, list) else []


def name_words(path: str) -> str:
    """The searchable words of a file's name: ``meeting_budget-2024.ogg`` -> ``meeting budget 2024``."""
    return " ".join(name_tokens(path))


def name_tokens(path: str) -> list[str]:
    """:func:`name_words` as a list."""
    return words(os.path.splitext(os.path.basename(path))[0])
