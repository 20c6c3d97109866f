"""The candidate stage: every decoded frame at 48x27, reduced on the fly to the few frames worth a look.

Cheap and high-recall by design: it only says *where* a transition may be; :mod:`mmsearch.analysis.scenes.decide`
says whether it is one. Per frame it keeps three change signals: the pooled picture against the previous
frame (abrupt pixel change: a hard cut, even between shots of the same colours), the colour histogram
against the previous frame, and the histogram against the frame ``_LAG`` back (gradual change: a
dissolve, a fade). A frame is a candidate when one signal's robust z-score against the video's own
running statistics reaches ``_CANDIDATE_Z`` and the frame is the largest within ``WINDOW / 2``.
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from mmsearch.analysis.scenes.signals import dist, hist, hist_distance, pool, robust, split

__all__ = ["ShotStream", "Candidate", "SHOT_SIZE", "WINDOW", "LOOK"]

SHOT_SIZE = (48, 27)       # (width, height) of the dense stream's frames: TransNetV2's input size
WINDOW = 16                # frames each side of a candidate that the rule looks at (0.64 s at 25 fps)
LOOK = 3 * WINDOW          # frames after a peak that arrive before it is judged (its pictures' neighbourhood)
_LAG = 8                   # frames between the two pictures of the "gradual change" signal
                  # the rule compares 3x3-pooled pictures (16x9): a few pixels of shake vanish
_STATS_EVERY = 25          # frames between updates of the signal's running median / MAD
_HISTORY = 500             # frames of signal the running statistics look back on (20 s at 25 fps)
_CANDIDATE_Z = 3.0         # robust z-score of the change signal that makes a frame worth a look


@dataclass
class Candidate:
    """A frame where the picture changed more than the video usually does (a possible transition).

    ``index``/``time``: the frame of the signal's peak. ``cut_index``/``cut_time``: where a cut would be
    placed (the split that best separates the frames like the picture before from those like the one
    after: the first frame of a hard cut's new shot, the middle of a dissolve or fade).
    ``persistence``: how much the picture ``WINDOW`` frames after differs from the one ``WINDOW``
    frames before, divided by how much each side changes by itself over ``WINDOW`` frames (a cut:
    large; a flash, a glitched frame, a pan or shake: about 1-2). ``colour``: total-variation
    distance (0..1) between the colour histograms (8x8x8 bins, brightness-normalised) of the pictures
    ``WINDOW`` frames before and after (the closest of 3x3 pairs of frames 3 apart): camera motion inside
    one shot moves little colour mass, a new shot a lot; a flash or a glitched frame, which is over
    before then, none. ``across``: the mean pixel change (0..1) between those two pooled pictures.
    All are taken around the peak and around its split, and the view with the larger persistence is
    kept. ``frames``: that view's low-res RGB frames (for the shot model), ``first``: the frame index
    of ``frames[0]``."""
    index: int
    time: float
    score: float
    persistence: float
    colour: float
    across: float                      # mean pixel change between the pooled pictures either side
    cut_index: int
    cut_time: float
    first: int
    frames: np.ndarray | None = None
    probability: float | None = None   # the shot model's peak, when it was asked
    model_index: int | None = None     # the frame of that peak








class ShotStream:
    """Every decoded frame at :data:`SHOT_SIZE`, reduced on the fly to the candidates of a transition.

    Fed by the sampler's single decoding pass (``push(time, rgb)`` for every frame, in order; then
    ``finish()``). It keeps, per frame, two change signals of 3x3-pooled pictures: to the previous
    frame (abrupt change) and to the frame ``_LAG`` back (gradual change, a dissolve or a fade). A
    frame is a candidate when one of them is a robust z-score of at least ``_CANDIDATE_Z`` above the
    signal's running median (the video's own statistics over the last ``_HISTORY`` frames) and the
    largest within ``WINDOW / 2`` frames (each frame's score is fixed when it arrives, so that two
    neighbours are never compared under different statistics). A candidate is judged ``LOOK`` frames
    later, when its pictures' neighbourhood has arrived. Memory: a ring of ``2 * LOOK + 1`` frames plus,
    per candidate, its ``2 * WINDOW + 1`` low-res frames (about 130 kB); never the whole video.
    """

    def __init__(self, keep_frames: bool = True) -> None:
        self.keep_frames = keep_frames
        self.times: list[float] = []
        self.candidates: list[Candidate] = []
        self._abrupt: list[float] = []     # pooled pictures: this frame against the previous one
        self._colour: list[float] = []     # colour histograms: this frame against the previous one
        self._gradual: list[float] = []    # colour histograms: this frame against the one _LAG back
        self._scores: list[float] = []     # each frame's score, fixed when it arrives (see _score)
        self._raw: deque = deque(maxlen=2 * LOOK + 1)
        self._pooled: deque = deque(maxlen=2 * LOOK + 1)
        self._hists: deque = deque(maxlen=_LAG)
        self._stats: tuple = ((0.0, 1e-3),) * 3
        self._finished = False
        # the decision stage's: the answer of the one shot model asked about this stream for each candidate's
        # window, by the candidate's peak frame, and that model's failure (decide.py; it may ask ahead, on
        # another thread, while this stream is being fed)
        self.answers: dict[int, np.ndarray] = {}
        self.model_error: BaseException | None = None
        self.asking = threading.Lock()

    def __len__(self) -> int:
        return len(self.times)

    def push(self, time: float, frame: np.ndarray) -> None:
        i = len(self.times)
        g = pool(frame)
        h = hist([frame], bits=2)
        self._abrupt.append(dist(g, self._pooled[-1]) if i else 0.0)
        self._colour.append(hist_distance(h, self._hists[-1]) if i else 0.0)
        self._gradual.append(hist_distance(h, self._hists[-_LAG]) if i >= _LAG else self._colour[-1])
        self.times.append(float(time))
        self._raw.append(frame)
        self._pooled.append(g)
        self._hists.append(h)
        if i % _STATS_EVERY == 0 or i < 2 * _STATS_EVERY:
            lo = max(0, i - _HISTORY)
            self._stats = tuple(robust(np.asarray(x[lo:])) for x in (self._abrupt, self._colour, self._gradual))
        self._scores.append(max((x[i] - m) / sc for x, (m, sc) in zip((self._abrupt, self._colour, self._gradual),
                                                                      self._stats)))
        # decide on the frame LOOK back, whose whole neighbourhood is now in the ring
        c = i - LOOK
        if c >= 1:
            self._consider(c)

    def _score(self, c: int) -> float:
        # fixed when frame c arrived: the peak test compares numbers made with one set of statistics
        # at a time, never a frame's old score with its neighbour's new one (which could reject both)
        return self._scores[c]

    def _consider(self, c: int) -> None:
        s = self._score(c)
        if s < _CANDIDATE_Z:
            return
        lo, hi = max(1, c - WINDOW // 2), min(len(self.times) - 1, c + WINDOW // 2)
        if any(self._score(j) > s or (self._score(j) == s and j < c) for j in range(lo, hi + 1) if j != c):
            return
        n = len(self.times)
        if c < WINDOW or c > n - 1 - WINDOW:
            return                                      # no picture before (after) it to compare with
        ring0 = n - len(self._raw)                     # frame index of the ring's first entry

        def at(j: int) -> int:
            return min(max(j, ring0), n - 1) - ring0

        # the pictures either side of the peak, then of the split they give: a peak off the transition's
        # middle (camera shake next to a dissolve) must not leave one side's pictures inside the transition
        first_view = self._view(c, at)
        views = [first_view] if first_view[4] == c else [first_view, self._view(first_view[4], at)]
        persistence, colour, across, centre, cut = max(views)
        first = max(0, centre - WINDOW)
        last = min(n - 1, centre + WINDOW)
        frames = None
        if self.keep_frames:
            frames = np.stack([self._raw[at(j)] for j in range(first, last + 1)])
        cand = Candidate(index=c, time=self.times[c], score=float(s), persistence=float(persistence),
                         colour=colour, across=float(across), cut_index=cut, cut_time=self.times[cut], first=first,
                         frames=frames)
        self.candidates.append(cand)

    def _view(self, centre: int, at) -> tuple[float, float, float, int, int]:
        """(persistence, colour change, pixel change, centre, split) of the pictures ``WINDOW`` frames either side of
        ``centre``; the split is placed between those two pictures."""
        def pooled(j: int) -> np.ndarray:
            return self._pooled[at(j)]

        def raw(j: int) -> np.ndarray:
            return self._raw[at(j)]

        w = WINDOW

        def picture(edge: int, inward: int) -> np.ndarray:
            # median of three frames 3 apart: a flash (2-3 frames) or a glitched frame spoils one at most
            return np.median([pooled(edge + inward * k) for k in (0, 3, 6)], axis=0)

        before, after = picture(centre - w, 1), picture(centre + w, -1)
        across = dist(before, after)
        inside = (dist(before, picture(centre - 2 * w, 1)) + dist(after, picture(centre + 2 * w, -1))) / 2
        persistence = across / max(inside, 0.1 * across, 2e-3)
        # the same three frames a side, and the closest pair: a flash or a glitched frame that reaches
        # into one side cannot make the two sides look different
        colour = min(hist_distance(hist([raw(centre - w + a)]), hist([raw(centre + w - b)]))
                     for a in (0, 3, 6) for b in (0, 3, 6))
        at_split = centre - w + split([pooled(j) for j in range(centre - w, centre + w + 1)], before, after)
        return float(persistence), colour, across, centre, at_split

    def finish(self) -> ShotStream:
        """Decide on the last frames (whose neighbourhood runs past the end). Idempotent."""
        if not self._finished:
            self._finished = True
            n = len(self.times)
            for c in range(max(1, n - LOOK), n):
                self._consider(c)
        return self

    @property
    def duration(self) -> float:
        return self.times[-1] if self.times else 0.0





