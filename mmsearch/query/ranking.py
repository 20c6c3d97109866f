"""Ranking: pure functions over value types — filters, calibration, grouping. No I/O, no models.

A query's raw cosines are not comparable across spaces (each model has its own scale), so a
candidate's score is *calibrated* against a background: the same query's cosines with a random sample
of the candidate's own space, ``score = (cosine - mean) / std``. Within one space this is a monotone
map (the cosine order is kept exactly); across spaces it puts "how unusual is this match for this
model" on one scale.

The background is drawn per space *and stored modality* (visual, textual, sound: :mod:`mmsearch.samples`):
one model's cosines with texts and with images live on different scales, and one background per space
would let one modality bury the other. A background with a heavy tail (a bag-of-words model: a shared word
puts a text many standard deviations up) is brought down to a normal tail's height, measured on the
sample's own top 5 % (:func:`tail_factor`): no space outshouts the others by its cosine scale alone.

Words count too (:func:`fuse`): a segment whose text or file name holds the query's words (the
full-text index; phonetic keys for misheard words) gains ``LEXICAL_Z x strength`` on the same
calibrated scale (:class:`WordMatch`): *coverage* is the share of the query's words the segment holds —
as spelled (1 each), by a shared phonetic key (``PHONETIC_SHARE``), or, on a short passage (at most
``SHORT_PASSAGE`` words, where a chance near-sound is rare), by a near sound (``PHONETIC_SHARE x`` the key
similarity, at least ``NEAR_SOUND``); *precision* is the share of the passage's words the query explains,
and ``strength = coverage x (1 - BREVITY x (1 - precision))`` (``WHOLE_BREVITY`` for a passage that holds every
query word: a tie-break only): a passage that says the query and little else
(a short transcript of just those words) outweighs a caption of something else that shares some of the
query's words among many of its own, while a long passage holding the query keeps ``1 - BREVITY`` of its
evidence. A segment that is exactly the query stands ``LEXICAL_Z`` standard deviations higher. Its own
semantic score is kept, so words and meaning add up. Every hit lists the ``signals`` that found it: the
spaces, ``fulltext``, ``phonetic``, and ``ocr`` when text read in the picture matched (the hit then names
that segment in ``extra["ocr_segment"]`` and shows its text).

Grouping turns the merged, best-first candidates into hits: one hit per whole file; for moments, a
segment that overlaps a better one of the same file (from any space: a scene, its soundtrack, its
speech) is absorbed by it, and the better one keeps its own, more precise span; moments that merely
touch stay apart.
"""
from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmsearch.analysis.phonetic import key_match
from mmsearch.catalog.records import SegmentRow
from mmsearch.hits import Hit
from mmsearch.kinds import MediaKind, SegmentKind
from mmsearch.query.when_where import WhenWhere, hit_facts

MIN_STD = 0.02  # a background this flat says nothing: do not blow tiny differences up
_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class Background:
    """Mean and spread of one query's cosines against a sample of one space, and how much its tail is shrunk."""

    mean: float = 0.0
    std: float = 1.0
    tail: float = 1.0  # <= 1: the factor that brings the sample's own top TAIL_SHARE to a normal's height

    @classmethod
    def of(cls, sample: np.ndarray, vector: np.ndarray) -> Background:
        """The background of ``vector`` against ``sample`` (rows: stored unit vectors)."""
        if len(sample) < 2:
            return cls()
        sims = sample @ vector
        mean, std = float(sims.mean()), max(float(sims.std()), MIN_STD)
        return cls(mean, std, tail_factor(sims, mean, std))

    def calibrate(self, cosine: float) -> float:
        return (cosine - self.mean) / self.std * self.tail


TAIL_SHARE = 0.05  # the top share of a background whose height says whether the model's tail is heavy
NORMAL_TAIL_Z = 1.645  # where a normal distribution's top 5 % begins, in standard deviations


def tail_factor(sims: np.ndarray, mean: float, std: float) -> float:
    """``min(1, NORMAL_TAIL_Z / z_tail)``, ``z_tail`` the calibrated height of the sample's own top ``TAIL_SHARE``.

    A model whose cosines are sparse (a bag of words: most pairs share no word, a few share one) has a
    heavy tail: its standard deviation is small and a shared word stands many of them above the mean,
    where a dense model's best match stands three. Measured on the library's own sample, such a tail is
    brought down to a normal one's height, so that no space outshouts the others by its cosine scale
    alone; a light tail is left as it is. Within one space and modality the order is unchanged."""
    k = int(len(sims) * (1.0 - TAIL_SHARE))
    z_tail = (float(np.partition(sims, k)[k]) - mean) / std
    return min(1.0, NORMAL_TAIL_Z / z_tail) if z_tail > NORMAL_TAIL_Z else 1.0


PAGE_MIN_SCORE = 2.0  # the web page's cut-off: at least two standard deviations above the background
LEXICAL_Z = 5.0  # what a segment holding every query word and nothing else adds, in background standard deviations
# A query word matched only by its sound counts this much of an exact match. High, because on short real
# speech the phonetic match alone ranked the right clip first more often than MiniLM did (0.88 vs 0.76,
# bench_speech.py): a misheard word's sound is better evidence than the meaning of the wrong words.
PHONETIC_SHARE = 0.8
SHORT_PASSAGE = 8  # words: up to this length a near sound counts (a long passage holds some near sound by chance)
NEAR_SOUND = 0.5  # least similarity (1 - edit distance / length) of a word's key to a passage key that counts
MIN_NEAR_KEY = 2  # letters: a one-letter key is a near sound of almost anything
LONG_KEY = 3  # letters: a key this long shared with a long passage counts there too ("AN" is in most by chance)
# How much of the word evidence the passage words the query does not explain take away: a caption that holds
# two of the query's words among ten others describes something else (bench_text_search.py's described library)
BREVITY = 0.7
WHOLE_BREVITY = 0.1  # the same for a passage that holds every query word: only a tie-break toward the shorter
FULLTEXT, PHONETIC = "fulltext", "phonetic"
OCR = "ocr"  # the signal of a match on text read in a picture


@dataclass(frozen=True)
class Candidate:
    """One segment found for a query: calibrated score, raw cosine, the row, the space that matched,
    and the signals behind the score."""

    score: float
    cosine: float
    row: SegmentRow
    space: str
    signals: frozenset[str] = frozenset()


@dataclass(frozen=True)
class WordMatch:
    """How much of a query a segment's words hold (exact words, words matched by sound only), and how much
    of the segment the query explains."""

    exact: float  # fraction of query words found as words
    phonetic: float = 0.0  # fraction found only by their sound (a near sound counts its similarity)
    precision: float = 1.0  # fraction of the passage's words that the matched query words account for
    whole: bool = False  # every query word is there, as spelled or by a shared phonetic key (not a near sound)

    @property
    def coverage(self) -> float:
        return min(1.0, self.exact + PHONETIC_SHARE * self.phonetic)

    @property
    def strength(self) -> float:
        """The word evidence :func:`fuse` adds (times ``LEXICAL_Z``): coverage, less for an unexplained rest —
        ``BREVITY`` of it when the passage holds only part of the query (a caption of something else sharing a
        word or two), only ``WHOLE_BREVITY`` (a tie-break) when it holds all of it (a long note or transcript
        that says the query, "We saw a two can in the tree" for "toucan")."""
        cut = WHOLE_BREVITY if self.whole else BREVITY
        return self.coverage * (1.0 - cut * (1.0 - self.precision))

    def signals(self) -> frozenset[str]:
        return frozenset(([FULLTEXT] if self.exact else []) + ([PHONETIC] if self.phonetic else []))


def word_match(terms: Sequence[str], words: Collection[str], term_keys: Sequence[Sequence[str]] = (),
               keys: Collection[str] = (), length: int = 0, weights: Sequence[float] = (),
               heard_keys: Collection[str] | None = None) -> WordMatch:
    """How query ``terms`` match a passage of ``length`` words (0: unknown) with the word set ``words`` and the
    phonetic keys ``keys`` (``term_keys[i]``: term i's keys, primary first; rule in the module docstring).
    ``weights[i]`` (default 1 each) is term i's share of the query: how specific the word is. ``heard_keys``
    (default: ``keys``) are the keys of the passage's own text: a near sound is measured against those only;
    the other keys (a recogniser's other readings) count only when a term shares one — a near sound of a
    reading the recogniser itself ranked lower is two guesses deep."""
    if not terms:
        return WordMatch(0.0)
    w = list(weights) if len(weights) == len(terms) else [1.0] * len(terms)
    total = sum(w) or 1.0
    key_set = set(keys)
    near_set = key_set if heard_keys is None else set(heard_keys)
    short = 0 < length <= SHORT_PASSAGE
    exact = [t in words for t in terms]
    sound = [0.0 if e or i >= len(term_keys) else _sound(term_keys[i], key_set, short, near_set)
             for i, e in enumerate(exact)]
    matched = sum(e or s > 0 for e, s in zip(exact, sound))
    precision = min(1.0, matched / length) if length else 1.0
    return WordMatch(sum(wi for wi, e in zip(w, exact) if e) / total, sum(wi * s for wi, s in zip(w, sound)) / total,
                     precision, all(e or snd >= 1.0 for e, snd in zip(exact, sound)))  # a near sound is no whole match


def _sound(term_keys: Sequence[str], keys: set[str], short: bool, near: set[str] | None = None) -> float:
    """How a term missing as a word sounds in a passage with phonetic ``keys``: 1 when one of its keys is
    there (on a long passage only a key of ``LONG_KEY`` letters or more: a short key is in most long passages
    by chance); on a ``short`` passage else the best similarity of its primary key to one of ``near`` (default
    ``keys``), when at least ``NEAR_SOUND``; else 0."""
    shared = keys.intersection(term_keys)
    if shared and (short or max(map(len, shared)) >= LONG_KEY):
        return 1.0
    primary = term_keys[0] if term_keys else ""
    if not short or len(primary) < MIN_NEAR_KEY:
        return 0.0
    n = len(primary)
    best = max((key_match(primary, k) for k in (keys if near is None else near)
                if MIN_NEAR_KEY <= len(k) and min(n, len(k)) >= NEAR_SOUND * max(n, len(k))),  # else below NEAR_SOUND
               default=0.0)
    return best if best >= NEAR_SOUND else 0.0


def fuse(semantic: Iterable[Candidate], lexical: dict[int, tuple[WordMatch, Candidate]]) -> list[Candidate]:
    """Semantic candidates and word matches of the same segments combined (see the module docstring).
    ``lexical`` maps a segment id to its word match and its candidate (scored semantically when the
    segment has a vector in a queried space, else 0)."""
    out: dict[int, Candidate] = {}
    for c in semantic:
        best = out.get(c.row.id)
        if best is None or c.score > best.score:
            out[c.row.id] = c
    for seg_id, (match, found) in lexical.items():
        base = out.get(seg_id, found)
        out[seg_id] = dataclasses.replace(base, score=base.score + LEXICAL_Z * match.strength,
                                          signals=base.signals | match.signals())
    return sorted(out.values(), key=lambda c: -c.score)


@dataclass(frozen=True)
class Filters:
    """What a hit must satisfy: media kinds (None: any), a path glob, media ids to leave out, and when and
    where its media was made (``where``: after/before, camera, near; :mod:`mmsearch.query.when_where`). The
    catalog applies ``where`` in SQL (:meth:`Catalog.segments`); the matcher checks it exactly."""

    kinds: tuple[str, ...] | None = None
    path: str | None = None
    exclude: frozenset[int] = frozenset()
    where: WhenWhere | None = None

    def matcher(self) -> Callable[[SegmentRow], bool]:
        """A predicate over (moment-) rows; build once per query."""
        by_path = path_matcher(self.path)
        kinds, exclude = self.kinds, self.exclude
        by_facts = self.where.keeps if self.where is not None else (lambda _row: True)
        return lambda row: ((kinds is None or row.media_kind in kinds) and row.media_id not in exclude
                            and by_path(row.path) and by_facts(row))


def path_matcher(pattern: str | None) -> Callable[[str], bool]:
    """A glob over full paths; a plain string (no ``*?[``) matches anywhere in the path."""
    if not pattern:
        return lambda _p: True
    if not _GLOB_CHARS & set(pattern):
        pattern = f"*{pattern}*"
    return lambda p: fnmatch.fnmatchcase(p, pattern)


def as_moment(row: SegmentRow) -> SegmentRow:
    """A subtitle cue is a moment of its video: report it on the video's path and timeline."""
    if row.media_kind == MediaKind.SUBTITLE and row.link_id and row.link_kind == MediaKind.VIDEO:
        return dataclasses.replace(row, media_id=row.link_id, path=row.link_path or row.path,
                                   media_kind=MediaKind.VIDEO, link_id=None, link_path=None, link_kind=None)
    return row


def candidates(
    scores: Iterable[float], ids: Iterable[int], rows: dict[int, SegmentRow],
    background: Callable[[SegmentRow], Background], space: str, keep: Callable[[SegmentRow], bool],
) -> list[Candidate]:
    """Index results (cosine, id) joined with their rows, turned into moments, filtered and calibrated
    against the background of each row's stored modality."""
    out = []
    signals = frozenset({space})
    for s, i in zip(scores, ids):
        row = rows.get(int(i))
        if row is None:
            continue
        moment = as_moment(row)
        if keep(moment):
            out.append(Candidate(background(row).calibrate(float(s)), float(s), moment, space, signals))
    return out


def overlaps(a_start: float, a_end: float | None, b_start: float | None, b_end: float | None) -> bool:
    """Two spans share time (touching is not overlapping)."""
    return a_start < (b_end or 0) and (a_end or 0) > (b_start or 0)


def group(ranked: Iterable[Candidate]) -> list[Hit]:
    """Best-first candidates -> hits: one per whole file, one per set of overlapping moments of a file.
    An absorbed candidate's signals join the hit that absorbed it."""
    hits: list[Hit] = []
    whole: dict[int, Hit] = {}
    timed: dict[int, list[Hit]] = {}
    for c in ranked:
        row = c.row
        read = row.kind == SegmentKind.OCR
        signals = c.signals | {OCR} if read else c.signals
        if row.start is None:
            owner = whole.get(row.media_id)
        else:
            owner = next((h for h in timed.get(row.media_id, ()) if overlaps(row.start, row.end, h.start, h.end)), None)
        if owner is not None:
            owner.extra["signals"] = sorted(set(owner.extra["signals"]) | signals)
            if read and "ocr_segment" not in owner.extra:
                owner.extra["ocr_segment"] = row.id
                owner.text = owner.text or row.text
            continue
        hit = Hit(path=row.path, kind=row.media_kind, score=c.score, start=row.start, end=row.end, space=c.space,
                  keyframe=row.keyframe, text=row.text, linked=row.link_path, media_id=row.media_id,
                  segment_id=row.id, extra={"cosine": round(c.cosine, 6), "signals": sorted(signals or {c.space}),
                                            **hit_facts(row)})
        if read:
            hit.extra["ocr_segment"] = row.id
        if row.start is None:
            whole[row.media_id] = hit
        else:
            timed.setdefault(row.media_id, []).append(hit)
        hits.append(hit)
    return hits


def merge(per_space: Iterable[Collection[Candidate]], k: int) -> list[Hit]:
    """Candidates of every space merged on calibrated scores, grouped, the top ``k``."""
    ranked = sorted((c for cands in per_space for c in cands), key=lambda c: -c.score)
    return group(ranked)[:k]


SORTS: dict[str, Callable[[Hit], Any]] = {
    "relevance": lambda h: -h.score,
    "date": lambda h: (h.extra.get("media_time") or 0.0, h.start or 0.0),
}


def finish(hits: list[Hit], k: int, min_score: float | None = None, sort: str = "relevance") -> list[Hit]:
    """The top ``k`` hits at or above ``min_score`` (calibrated scale), in ``sort`` order (``relevance`` or
    ``date``: the k most relevant, then listed oldest first)."""
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; choose from {', '.join(SORTS)}")
    kept = [h for h in hits if min_score is None or h.score >= min_score][:k]
    return sorted(kept, key=SORTS[sort])
