"""Ranking: pure functions over value types — filters, calibration, grouping. No I/O, no models.

A query's raw cosines are not comparable across spaces (each model has its own scale), so a
candidate's score is *calibrated* against a background: the same query's cosines with a random sample
of the candidate's own space, ``score = (cosine - mean) / std``. Within one space this is a monotone
map (the cosine order is kept exactly); across spaces it puts "how unusual is this match for this
model" on one scale.

Grouping turns the merged, best-first candidates into hits: one hit per whole file; for moments, a
segment that overlaps a better one of the same file (from any space: a scene, its soundtrack, its
speech) is absorbed by it, and the better one keeps its own, more precise span; moments that merely
touch stay apart.
"""
from __future__ import annotations

import dataclasses
import fnmatch
from dataclasses import dataclass
from typing import Callable, Collection, Iterable

import numpy as np

from .catalog import SegmentRow
from .hits import Hit
from .kinds import MediaKind

MIN_STD = 0.02  # a background this flat says nothing: do not blow tiny differences up
_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class Background:
    """Mean and spread of one query's cosines against a sample of one space."""

    mean: float = 0.0
    std: float = 1.0

    @classmethod
    def of(cls, sample: np.ndarray, vector: np.ndarray) -> "Background":
        """The background of ``vector`` against ``sample`` (rows: stored unit vectors)."""
        if len(sample) < 2:
            return cls()
        sims = sample @ vector
        return cls(float(sims.mean()), max(float(sims.std()), MIN_STD))

    def calibrate(self, cosine: float) -> float:
        return (cosine - self.mean) / self.std


@dataclass(frozen=True)
class Candidate:
    """One segment found for a query: calibrated score, raw cosine, the row, the space that matched."""

    score: float
    cosine: float
    row: SegmentRow
    space: str


@dataclass(frozen=True)
class Filters:
    """What a hit must satisfy: media kinds (None: any), a path glob, media ids to leave out."""

    kinds: tuple[str, ...] | None = None
    path: str | None = None
    exclude: frozenset[int] = frozenset()

    def matcher(self) -> Callable[[SegmentRow], bool]:
        """A predicate over (moment-) rows; build once per query."""
        by_path = path_matcher(self.path)
        kinds, exclude = self.kinds, self.exclude
        return lambda row: (kinds is None or row.media_kind in kinds) and row.media_id not in exclude and by_path(row.path)


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
    scores: Iterable[float], ids: Iterable[int], rows: dict[int, SegmentRow], background: Background,
    space: str, keep: Callable[[SegmentRow], bool],
) -> list[Candidate]:
    """Index results (score, id) joined with their rows, turned into moments, filtered and calibrated."""
    out = []
    for s, i in zip(scores, ids):
        row = rows.get(int(i))
        if row is None:
            continue
        row = as_moment(row)
        if keep(row):
            out.append(Candidate(background.calibrate(float(s)), float(s), row, space))
    return out


def overlaps(a_start: float, a_end: float | None, b_start: float | None, b_end: float | None) -> bool:
    """Two spans share time (touching is not overlapping)."""
    return a_start < (b_end or 0) and (a_end or 0) > (b_start or 0)


def group(ranked: Iterable[Candidate]) -> list[Hit]:
    """Best-first candidates -> hits: one per whole file, one per set of overlapping moments of a file."""
    hits: list[Hit] = []
    whole: set[int] = set()
    timed: dict[int, list[Hit]] = {}
    for c in ranked:
        row = c.row
        if row.start is None:
            if row.media_id in whole:
                continue
            whole.add(row.media_id)
        else:
            group_ = timed.setdefault(row.media_id, [])
            if any(overlaps(row.start, row.end, h.start, h.end) for h in group_):
                continue
        hit = Hit(path=row.path, kind=row.media_kind, score=c.score, start=row.start, end=row.end, space=c.space,
                  keyframe=row.keyframe, text=row.text, linked=row.link_path, media_id=row.media_id,
                  segment_id=row.id, extra={"cosine": round(c.cosine, 6)})
        if row.start is not None:
            timed[row.media_id].append(hit)
        hits.append(hit)
    return hits


def merge(per_space: Iterable[Collection[Candidate]], k: int) -> list[Hit]:
    """Candidates of every space merged on calibrated scores, grouped, the top ``k``."""
    ranked = sorted((c for cands in per_space for c in cands), key=lambda c: -c.score)
    return group(ranked)[:k]
