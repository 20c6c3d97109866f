"""Phonetic and character n-gram matching for spoken and recognised text (pure functions, no database).

A speech recogniser mishears in ways that keep the sound and break the spelling ("two can" for "toucan",
"B" for "bee", "10" for "ten", "old-sposed" for "ill disposed"). These functions compare what a text
*sounds like*, so a query finds a transcript whose spelling went wrong.

Normalisation (:func:`words`), the same for queries and texts:

1. Unicode NFKD, accents dropped, lowercase; apostrophes removed ("today's" -> "todays");
2. split into runs of letters and runs of digits (so "4-692" -> "4", "692"; "1st" -> "1", "st");
3. digit runs spelled out as English cardinals ("10" -> "ten", "692" -> "six hundred ninety two"; runs of more
   than 6 digits digit by digit);
4. a lone letter other than "a" and "i" becomes its spoken name ("b" -> "bee", "c" -> "see"), so a
   recognised letter matches the word that sounds like it.

Keys (:func:`phonetic_keys`): each word's Double Metaphone primary code (package ``metaphone``, BSD), e.g.
"toucan" -> ``TKN``, "two" -> ``T``, "can" -> ``KN``, "bee"/"b" -> ``P``, "knight"/"night" -> ``NT``. The
returned list, in word order, holds for word *i*: its primary key, its alternate key when it differs, then
the concatenated primary keys of words *i..i+1* and *i..i+2*. A word boundary the recogniser put in the
wrong place so still matches: "two can" emits ``T KN TKN`` and "toucan" emits ``TKN``. Keys are upper-case
ASCII letters and ``0`` (Metaphone's "th"), so ``" ".join(phonetic_keys(text))`` is a plain full-text
column; the same function gives a query's keys.

Score (:func:`phonetic_score`), in [0, 1]::

    score = 0.75 * key_similarity + 0.25 * ngram_containment

- ``key_similarity``: the query's primary keys concatenated (``q``), compared with the concatenated primary
  keys of every run of consecutive text words (runs of 1 .. words(query)+2 words); the best
  ``1 - levenshtein(q, run) / max(len(q), len(run))``. A query found inside a longer text scores as if alone.
- ``ngram_containment``: the share of the query's character trigrams (:func:`char_ngrams`) found in the text:
  spelling overlap, so the exact spelling ranks above a mere sound-alike and a typo still overlaps.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from metaphone import doublemetaphone

KEY_WEIGHT = 0.75  # share of the sound match in phonetic_score; the rest is the character-trigram overlap
MAX_RUN = 3  # phonetic_keys concatenates the keys of up to this many adjacent words

_TOKEN = re.compile(r"[a-z]+|[0-9]+")
_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)  # fmt: skip
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_LETTER_NAMES = {
    "b": "bee", "c": "see", "d": "dee", "e": "ee", "f": "ef", "g": "gee", "h": "aitch", "j": "jay", "k": "kay",
    "l": "el", "m": "em", "n": "en", "o": "oh", "p": "pee", "q": "cue", "r": "ar", "s": "ess", "t": "tee",
    "u": "you", "v": "vee", "w": "double you", "x": "ex", "y": "why", "z": "zee",
}  # fmt: skip


def _below_thousand(n: int) -> list[str]:
    out: list[str] = []
    if n >= 100:
        out += [_ONES[n // 100], "hundred"]
        n %= 100
        if n == 0:
            return out
    if n < 20:
        return out + [_ONES[n]]
    return out + [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])


def number_words(digits: str) -> list[str]:
    """English words of a digit run: "10" -> ["ten"], "1200" -> ["one", "thousand", "two", "hundred"].

    Runs longer than 6 digits (phone numbers, ids) and runs with a leading zero are read digit by digit.
    """
    if len(digits) > 6 or (len(digits) > 1 and digits[0] == "0"):
        return [_ONES[int(d)] for d in digits]
    n = int(digits)
    if n == 0:
        return ["zero"]
    thousands, rest = divmod(n, 1000)
    out = (_below_thousand(thousands) + ["thousand"]) if thousands else []
    return out + (_below_thousand(rest) if rest else [])


def words(text: str) -> list[str]:
    """The normalised words of ``text`` (see the module docstring): lowercase letters only, digits spelled out."""
    s = unicodedata.normalize("NFKD", text or "")
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).lower().replace("'", "").replace("\u2019", "")
    out: list[str] = []
    for tok in _TOKEN.findall(s):
        if tok.isdigit():
            out += number_words(tok)
        elif len(tok) == 1 and tok in _LETTER_NAMES:
            out += _LETTER_NAMES[tok].split()
        else:
            out.append(tok)
    return out


@lru_cache(maxsize=65536)
def word_keys(word: str) -> tuple[str, str]:
    """(primary, alternate) Double Metaphone keys of one normalised word; alternate is "" when the same."""
    primary, alternate = doublemetaphone(word)
    primary = primary or ""
    alternate = alternate if alternate and alternate != primary else ""
    return primary, alternate


def _primary_keys(text: str) -> list[str]:
    return [k for k in (word_keys(w)[0] for w in words(text)) if k]


def phonetic_keys(text: str) -> list[str]:
    """Phonetic tokens of ``text`` for a full-text column or a query: per word, its primary key, its alternate
    key (if different), and the concatenated primary keys of it and the next one and two words."""
    keyed = [(p, a) for p, a in (word_keys(w) for w in words(text)) if p]
    out: list[str] = []
    for i, (primary, alternate) in enumerate(keyed):
        out.append(primary)
        if alternate:
            out.append(alternate)
        for j in range(i + 2, min(len(keyed), i + MAX_RUN) + 1):
            out.append("".join(p for p, _ in keyed[i:j]))
    return out


def char_ngrams(text: str, n: int = 3) -> set[str]:
    """Character ``n``-grams of each normalised word padded with one space each side ("cat" -> " ca", "cat",
    "at "); a word shorter than ``n`` - 1 letters gives itself padded."""
    grams: set[str] = set()
    for w in words(text):
        padded = f" {w} "
        if len(padded) <= n:
            grams.add(padded)
            continue
        grams.update(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions) between two strings."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@lru_cache(maxsize=65536)
def key_match(a: str, b: str) -> float:
    """``1 - levenshtein(a, b) / max(len(a), len(b))`` of two keys (remembered: keys repeat across passages)."""
    return 1.0 - levenshtein(a, b) / max(len(a), len(b), 1)


def key_similarity(query: str, text: str) -> float:
    """Best 1 - normalised edit distance between the query's concatenated keys and a run of the text's keys."""
    q_keys, t_keys = _primary_keys(query), _primary_keys(text)
    if not q_keys or not t_keys:
        return 0.0
    q = "".join(q_keys)
    best = 0.0
    longest = min(len(t_keys), len(q_keys) + 2)
    for i in range(len(t_keys)):
        run = ""
        for j in range(i, min(len(t_keys), i + longest)):
            run += t_keys[j]
            if len(run) - len(q) >= max(len(q), len(run)) * (1.0 - best):
                break  # longer runs can only be further from q than the best so far
            sim = 1.0 - levenshtein(q, run) / max(len(q), len(run))
            if sim > best:
                best = sim
                if best == 1.0:
                    return 1.0
    return best


def ngram_containment(query: str, text: str, n: int = 3) -> float:
    """Share of the query's character ``n``-grams that occur in the text (0 for a query without any)."""
    q = char_ngrams(query, n)
    return len(q & char_ngrams(text, n)) / len(q) if q else 0.0


def phonetic_score(query: str, text: str) -> float:
    """How well ``text`` sounds like it contains ``query``, in [0, 1] (rule in the module docstring).

    1.0 when the query's words are in the text as spelled; high when they sound alike ("toucan" in
    "two can": 0.75 + a trigram share); 0.0 when either side has no letters or digits.
    """
    return KEY_WEIGHT * key_similarity(query, text) + (1.0 - KEY_WEIGHT) * ngram_containment(query, text)


__all__ = [
    "char_ngrams", "key_match", "key_similarity", "ngram_containment", "number_words", "phonetic_keys",
    "phonetic_score", "word_keys", "words",
]  # fmt: skip
