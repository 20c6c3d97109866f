"""Negative terms and weighted mixes of query parts, on the calibrated scale. Pure: no library, no models.

**Syntax.** A word written ``-word`` (or a phrase ``-"two words"``), at the start of a term, is
*negative*; the rest of the text is the positive query (``t-shirt`` and ``-`` alone stay positive).
A query of negatives only has nothing to rank by: :func:`parse_query` says so.

**Negatives demote by meaning and exclude by words.** Each candidate of the positive query is also
scored against each negative in the same space, calibrated on the negative's own background of that
space and stored modality (``neg_z``, :class:`~mmsearch.query.ranking.Background`), and loses
``NEGATIVE_WEIGHT x max(0, neg_z - NEGATIVE_FLOOR)`` (of several negatives, the strongest counts).
So an item that matches the negative as strongly as the positive nets about zero, and one that is only
as close to it as a typical item (``neg_z`` within :data:`NEGATIVE_FLOOR` standard deviations of the
background mean: noise) keeps its score, hence its place among the positive matches. A demotion, not a
cut: a model's "people" is vague, and a cut at a threshold would silently drop a beach that merely has
a figure in the distance. A segment whose own words (its text, its file name) hold a negative term is
left out altogether: that is what ``-word`` means to anyone who used a search engine.

Measured (all-MiniLM-L6-v2, 68 captions, three queries whose unwanted items describe the negative without
its word: "beach -people" vs "tourists lying on towels"; wanted items in the top 8): no demotion 0.62;
``max(0, neg_z)`` 0.83; ``max(0, neg_z - 1)`` **0.92** (weight 1 or 2 alike); floor 2: 0.71; dropping at
``neg_z > 2``: 0.79, at ``> 3``: 0.67. Wanted items' own ``neg_z`` ran up to 1.6 (a summer mountain is
a little like "snow"), which is why resemblance within a standard deviation is not charged and why a cut
at 2 loses them. The rule is stated in standard deviations of the calibrated scale, not in cosines.

**Mixes.** A query of several parts (a text and example files, ``--like``) is scored per part, each
calibrated on its own background, and the calibrated scores are combined by weight and calibrated
once more on the same background sample (:class:`MixBackground`): the mix is
``sum_i w_i z_i / std_sample(sum_i w_i z_i)``, so its scale is again "standard deviations above a
typical item" whatever the parts' cosine scales, and ``--min-score`` means the same as for one text.
Raw vector addition would let the part whose model gives larger cosines (an image's image-image
cosines sit far above a text's text-image cosines) decide alone.
"""
from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from mmsearch.analysis.tokens import words
from mmsearch.query.ranking import MIN_STD

# What one standard deviation of resemblance to a negative costs, in standard deviations of the positive.
NEGATIVE_WEIGHT = 1.0
# Resemblance to a negative below this (in background standard deviations) is noise and costs nothing.
NEGATIVE_FLOOR = 1.0
# The weight of each ``--like`` example against the text's 1.0: as much as the words.
LIKE_WEIGHT = 1.0

_TERM = re.compile(r'(?<!\S)-"([^"]*)"|(?<!\S)-(\S+)')


@dataclass(frozen=True)
class ParsedQuery:
    """A query split into its positive text and its negative terms (each a word or a phrase)."""

    positive: str
    negatives: tuple[str, ...] = ()

    def negative_words(self) -> list[list[str]]:
        """Each negative as its lower-case words (a phrase: several, in order)."""
        return [w for w in (words(n) for n in self.negatives) if w]


def parse_query(text: str, *, allow_empty: bool = False) -> ParsedQuery:
    """Split ``text`` into positive text and negatives; raise ValueError when nothing positive is left
    (unless ``allow_empty``: another part, an example file, gives the query its positive side)."""
    negatives = []
    for phrase, word in _TERM.findall(text):
        term = (phrase or word).strip()
        if words(term):
            negatives.append(term)
    positive = " ".join(_TERM.sub(lambda m: "" if words(m.group(1) or m.group(2)) else m.group(0), text).split())
    if not words(positive) and not allow_empty:
        if negatives:
            raise ValueError("a query of only negative terms (-word) has nothing to look for: add what you want, "
                             "e.g. 'beach -people', or an example file (--like)")
        raise ValueError("empty query")
    return ParsedQuery(positive, tuple(negatives))


def holds_phrase(words: Sequence[str], phrase: Sequence[str]) -> bool:
    """Whether ``phrase`` occurs in ``words`` as consecutive words."""
    n = len(phrase)
    if n == 0:
        return False
    if n == 1:
        return phrase[0] in words
    return any(list(words[i : i + n]) == list(phrase) for i in range(len(words) - n + 1))


def excluded_by_words(negatives: Sequence[Sequence[str]], texts: Collection[str | None]) -> bool:
    """Whether any negative (its words) occurs in any of ``texts`` (a segment's text, its file name)."""
    token_lists = [words(t) for t in texts if t]
    return any(holds_phrase(tokens, neg) for neg in negatives for tokens in token_lists)


def negative_penalty(neg_z: float, weight: float = NEGATIVE_WEIGHT, floor: float = NEGATIVE_FLOOR) -> float:
    """What resemblance ``neg_z`` (calibrated) to a negative costs a candidate (see the module docstring)."""
    return weight * max(0.0, neg_z - floor)


@dataclass(frozen=True)
class MixBackground:
    """The calibration of a weighted mix of query parts against one background sample."""

    means: np.ndarray  # (P,) each part's background mean
    stds: np.ndarray  # (P,) each part's background spread
    weights: np.ndarray  # (P,)
    spread: float  # std over the sample of the weighted sum of the parts' calibrated scores

    @classmethod
    def of(cls, sample: np.ndarray, parts: np.ndarray, weights: Sequence[float]) -> MixBackground:
        """``sample``: (n, d) stored unit vectors; ``parts``: (P, d) query vectors; ``weights``: (P,) >= 0."""
        w = np.asarray(weights, dtype=np.float64)
        p = np.asarray(parts, dtype=np.float32).reshape(len(w), -1)
        if len(sample) < 2:  # no background: each part as it is, the sum scaled as if the parts were independent
            return cls(np.zeros(len(w)), np.ones(len(w)), w, max(float(np.linalg.norm(w)), MIN_STD))
        sims = (np.asarray(sample, dtype=np.float32) @ p.T).astype(np.float64)
        means, stds = sims.mean(axis=0), np.maximum(sims.std(axis=0), MIN_STD)
        mixed = ((sims - means) / stds) @ w
        return cls(means, stds, w, max(float(mixed.std()), MIN_STD))

    def score(self, cosines: np.ndarray) -> np.ndarray:
        """Calibrated mix of rows of per-part cosines: (n, P) -> (n,), or (P,) -> ()."""
        z = (np.asarray(cosines, dtype=np.float64) - self.means) / self.stds
        return (z @ self.weights) / self.spread


def unit_mean(vectors: np.ndarray) -> np.ndarray | None:
    """The normalised mean of rows (one vector standing for several), None when it vanishes."""
    v = np.asarray(vectors, dtype=np.float32).reshape(-1, np.shape(vectors)[-1]).mean(axis=0)
    norm = float(np.linalg.norm(v))
    return (v / norm).astype(np.float32) if norm > 1e-9 and np.isfinite(norm) else None


def evenly(items: Sequence, limit: int) -> list:
    """At most ``limit`` items spread evenly over ``items`` (first and last kept)."""
    if len(items) <= limit:
        return list(items)
    picks = np.linspace(0, len(items) - 1, limit).round().astype(int)
    return [items[i] for i in sorted(set(picks.tolist()))]
