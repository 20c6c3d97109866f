"""Cut a video into scenes (pure numpy): where transitions are, and the scenes between them.

Two inputs, never a second decode of the file (both come from the sampler's one pass):
  * the **dense stream** (:class:`ShotStream`): every decoded frame at 48x27, reduced on the fly to
    candidate transitions (frames where the picture changes more than this video usually does);
  * the **sampled frames' embeddings** (about one per second), in whatever scale the encoder has.

Where the cuts are (:func:`decide_cuts`)
    Each peak of the change signals (a candidate) is judged on its own, by pixels and, when it is
    installed and within its CPU budget, the shot model; none of it is a cosine:
      * *colour change*: how much colour mass moved between the pictures ``WINDOW`` frames before and
        after (brightness-normalised histograms): little for camera motion inside a shot, a lot for a
        new shot, nothing for a flash or a single glitched frame (over before the pictures compared).
      * *persistence* (scale-free): the picture after against the one before, relative to how much each
        side changes by itself. Pans, zooms and shake change both sides alike (~1-2).
      * the *shot model*'s probability (TransNetV2 on the candidate's 33 low-res frames; see
        :mod:`mmsearch.encoders.shots`), asked first where the pixels are least sure.
    The embeddings of the sampled frames do not decide (the cuts are the same whichever model embeds
    the frames); their change across each cut is reported.
    The pictures are taken twice: around the peak, and around the split those pictures give (a peak
    next to a transition rather than in it, such as camera shake just after a dissolve, would leave
    one picture inside the transition); the view with the larger colour change counts. Each side's
    picture is the median of three frames 3 apart (a flash of up to 3 frames spoils one of them).
    A peak never takes the place of another: a flash 0.7 s after a cut, judged on its own pictures,
    is no cut and leaves the cut alone. Gradual transitions (dissolves, fades through black) are
    caught by a second change signal over ``_LAG`` frames; every cut is placed at the split that best
    separates the frames like the picture before from those like the picture after (the first frame
    of a hard cut's new shot; inside a dissolve or fade), or on the model's peak near it. Of two cuts
    closer than ``MIN_GAP`` (1 s) the stronger stays: two transitions less than 1 s apart give one cut
    (and scenes shorter than the 2 s minimum are merged anyway, below).

Without a dense stream (:func:`find_cuts`)
    Frame ``i`` starts a scene when its embedding change from frame ``i-1`` is a robust z-score of at
    least ``z`` (default 4) above the video's median change, and the frame after it does not return
    to the scene (that would be an outlier: a flash, a glitched frame). Scale-free: multiplying all
    changes by a constant changes nothing.

Scenes (:func:`cut_scenes`)
    * The cut at frame ``c`` is placed at ``boundary_times[c]`` when the caller refined it (see
      :func:`mmsearch.media.video.refine_cut`), clamped into ``[times[c-1], times[c]]``; otherwise
      at the midpoint of the two sampled times, which is never more than half a sampling
      interval from the true cut. Cuts given as times (``cuts=``) are used as they are.
    * Scenes cover ``[0, max(duration, last frame time)]`` without gaps or overlaps.
    * A scene shorter than ``min_length`` (default 2 s: shorter shots make poor search hits and
      are often transitions or flashes) is merged into the neighbour whose mean embedding is more
      similar, shortest first, until none is left (or one scene remains).
    * A scene longer than ``max_length`` (default 30 s: a hit should point at a moment, not at a
      whole static video) is split evenly into ``ceil(length / max_length)`` parts; a part
      without a sampled frame is joined to its neighbour.
    * Each scene's keyframe is the sampled frame closest (cosine) to the scene's mean embedding.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Scene", "find_cuts", "cut_scenes", "ShotStream", "Candidate", "Cut", "decide_cuts", "SHOT_SIZE"]

DEFAULT_Z = 4.0


@dataclass(frozen=True)
class Scene:
    start: float          # seconds
    end: float
    keyframe_time: float  # time of the frame closest to the scene's mean embedding
    first: int            # index range [first, last] into the frames passed in
    last: int

    @property
    def duration(self) -> float:
        return self.end - self.start


def _normalise(embeddings) -> np.ndarray:
    e = np.asarray(embeddings, dtype=np.float64)
    if e.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array (frames x dims), got shape {e.shape}")
    norms = np.linalg.norm(e, axis=1, keepdims=True)
    return e / np.maximum(norms, 1e-12)


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    return v / n if n > 1e-12 else v


def find_cuts(embeddings: np.ndarray, *, z: float = DEFAULT_Z, min_frames: int = 1) -> list[int]:
    """Indices ``i`` (ascending, ``i >= 1``) where a new scene starts at frame ``i``, from embeddings
    alone (the rule without a dense stream; see the module docstring).

    ``min_frames``: a scene must hold at least this many frames before it may end (1 = no constraint;
    time-based limits belong to :func:`cut_scenes`).
    """
    e = _normalise(embeddings)
    n = len(e)
    if n < 2:
        return []
    step = 1.0 - np.sum(e[1:] * e[:-1], axis=1)
    med, scale = _robust(step)
    scale = max(scale, 0.1 * med, 1e-6)
    level = med + z * scale
    cuts: list[int] = []
    scene_sum = e[0].copy()
    scene_len = 1
    for i in range(1, n):
        jump = step[i - 1] >= level
        if jump and scene_len >= min_frames:
            back = 1.0 - float(e[i + 1] @ _unit(scene_sum)) if i + 1 < n else np.inf
            if back < level:
                scene_len += 1          # an outlier: the shot continues after it
                continue
            cuts.append(i)
            scene_sum = e[i].copy()
            scene_len = 1
        else:
            scene_sum += e[i]
            scene_len += 1
    return cuts


@dataclass
class _Part:
    first: int
    last: int
    start: float
    end: float
    total: np.ndarray     # sum of the normalised embeddings of its frames

    @property
    def length(self) -> float:
        return self.end - self.start


def cut_scenes(times: np.ndarray, embeddings: np.ndarray, duration: float, *,
               cuts: Sequence[float] | None = None, min_length: float = 2.0,
               max_length: float | None = 30.0,
               boundary_times: dict[int, float] | None = None) -> list[Scene]:
    """Scenes covering ``[0, max(duration, times[-1])]``; see the module docstring.

    times: sampled frame times (seconds, ascending), one per row of ``embeddings``.
    cuts: transition times (seconds, e.g. from :func:`decide_cuts`); None = :func:`find_cuts` on the
      embeddings. A cut before the second sampled frame or after the last one starts no scene; several
      cuts between the same two sampled frames make one boundary (the first).
    boundary_times: refined cut times keyed by cut index (only with ``cuts=None``).
    Returns [] when there are no frames.
    """
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    e = _normalise(embeddings) if len(t) else np.zeros((0, 1))
    if len(t) != len(e):
        raise ValueError(f"{len(t)} times but {len(e)} embeddings")
    if len(t) == 0:
        return []
    if np.any(np.diff(t) < 0):
        raise ValueError("times must be ascending")
    if min_length < 0:
        raise ValueError("min_length must be >= 0")
    if max_length is not None and max_length <= 0:
        raise ValueError("max_length must be > 0")
    end_time = max(float(duration), float(t[-1]))
    boundary_times = boundary_times or {}

    # 1. cuts -> parts
    if cuts is None:
        index = find_cuts(e)
    else:
        boundary_times = {}
        index = []
        for when in sorted(float(x) for x in cuts):
            c = int(np.searchsorted(t, when - 1e-6, side="left"))
            if 1 <= c < len(t) and (not index or c > index[-1]):
                index.append(c)
                boundary_times[c] = when
    bounds = []
    for c in index:
        lo, hi = float(t[c - 1]), float(t[c])
        b = boundary_times.get(c)
        b = (lo + hi) / 2 if b is None else min(max(float(b), lo), hi)
        bounds.append(b)
    firsts = [0] + index
    lasts = [c - 1 for c in index] + [len(t) - 1]
    starts = [0.0] + bounds
    ends = bounds + [end_time]
    parts = [_Part(f, last, s, en, e[f:last + 1].sum(axis=0))
             for f, last, s, en in zip(firsts, lasts, starts, ends)]

    # 2. merge short scenes into their more similar neighbour, shortest first
    while len(parts) > 1:
        k = min(range(len(parts)), key=lambda j: (parts[j].length, j))
        if parts[k].length >= min_length:
            break
        if k == 0:
            other = 1
        elif k == len(parts) - 1:
            other = k - 1
        else:
            mine = _unit(parts[k].total)
            left = float(mine @ _unit(parts[k - 1].total))
            right = float(mine @ _unit(parts[k + 1].total))
            other = k - 1 if left >= right else k + 1
        a, b = sorted((k, other))
        pa, pb = parts[a], parts[b]
        parts[a:b + 1] = [_Part(pa.first, pb.last, pa.start, pb.end, pa.total + pb.total)]

    # 3. split long scenes evenly
    if max_length is not None and math.isfinite(max_length):
        split: list[_Part] = []
        for p in parts:
            n = int(math.ceil(p.length / max_length - 1e-9))
            if n <= 1:
                split.append(p)
                continue
            edges = [p.start + p.length * j / n for j in range(n + 1)]
            edges[-1] = p.end
            # frame ranges per sub-part
            idx = np.arange(p.first, p.last + 1)
            which = np.clip(np.searchsorted(edges, t[idx], side="right") - 1, 0, n - 1)
            subs = []
            for j in range(n):
                members = idx[which == j]
                subs.append([edges[j], edges[j + 1], members])
            # join parts that got no frame to a neighbour (prefer the previous one)
            j = 0
            while j < len(subs):
                if len(subs[j][2]) == 0 and len(subs) > 1:
                    if j > 0:
                        subs[j - 1][1] = subs[j][1]
                    else:
                        subs[1][0] = subs[0][0]
                    del subs[j]
                    continue
                j += 1
            for s0, s1, members in subs:
                f, last = int(members[0]), int(members[-1])
                split.append(_Part(f, last, float(s0), float(s1), e[f:last + 1].sum(axis=0)))
        parts = split

    # 4. keyframes
    scenes = []
    for p in parts:
        mean = _unit(p.total)
        sims = e[p.first:p.last + 1] @ mean
        kf = p.first + int(np.argmax(sims))
        scenes.append(Scene(start=float(p.start), end=float(p.end), keyframe_time=float(t[kf]),
                            first=int(p.first), last=int(p.last)))
    return scenes


# ================================================================== the dense stream and the fused rule

SHOT_SIZE = (48, 27)       # (width, height) of the dense stream's frames: TransNetV2's input size
WINDOW = 16                # frames each side of a candidate that the rule looks at (0.64 s at 25 fps)
_LOOK = 3 * WINDOW         # frames after a peak that arrive before it is judged (its pictures' neighbourhood)
_LAG = 8                   # frames between the two pictures of the "gradual change" signal
_POOL = 3                  # the rule compares 3x3-pooled pictures (16x9): a few pixels of shake vanish
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
    before then, none. Both are taken around the peak and around its split, and the view with the
    larger colour change is kept. ``frames``: that view's low-res RGB frames (for the shot model),
    ``first``: the frame index of ``frames[0]``."""
    index: int
    time: float
    score: float
    persistence: float
    colour: float
    cut_index: int
    cut_time: float
    first: int
    frames: np.ndarray | None = None
    probability: float | None = None   # the shot model's peak, when it was asked
    model_index: int | None = None     # the frame of that peak


def _pool(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    h2, w2 = h - h % _POOL, w - w % _POOL
    f = frame[:h2, :w2].astype(np.float32) / 255.0
    return f.reshape(h2 // _POOL, _POOL, w2 // _POOL, _POOL, 3).mean(axis=(1, 3))


def _dist(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a - b)))


def _robust(values: np.ndarray) -> tuple[float, float]:
    """(median, scale) where scale is 1.4826 * MAD with a floor: a static picture has MAD 0."""
    if len(values) == 0:
        return 0.0, 1e-3
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med))) * 1.4826
    return med, max(mad, 0.05 * med, 1e-3)


class ShotStream:
    """Every decoded frame at :data:`SHOT_SIZE`, reduced on the fly to the candidates of a transition.

    Fed by the sampler's single decoding pass (``push(time, rgb)`` for every frame, in order; then
    ``finish()``). It keeps, per frame, two change signals of 3x3-pooled pictures: to the previous
    frame (abrupt change) and to the frame ``_LAG`` back (gradual change, a dissolve or a fade). A
    frame is a candidate when one of them is a robust z-score of at least ``_CANDIDATE_Z`` above the
    signal's running median (the video's own statistics over the last ``_HISTORY`` frames) and the
    largest within ``WINDOW / 2`` frames (each frame's score is fixed when it arrives, so that two
    neighbours are never compared under different statistics). A candidate is judged ``_LOOK`` frames
    later, when its pictures' neighbourhood has arrived. Memory: a ring of ``2 * _LOOK + 1`` frames plus,
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
        self._raw: deque = deque(maxlen=2 * _LOOK + 1)
        self._pooled: deque = deque(maxlen=2 * _LOOK + 1)
        self._hists: deque = deque(maxlen=_LAG)
        self._stats: tuple = ((0.0, 1e-3),) * 3
        self._finished = False

    def __len__(self) -> int:
        return len(self.times)

    def push(self, time: float, frame: np.ndarray) -> None:
        i = len(self.times)
        g = _pool(frame)
        h = _hist([frame], bits=2)
        self._abrupt.append(_dist(g, self._pooled[-1]) if i else 0.0)
        self._colour.append(_hist_distance(h, self._hists[-1]) if i else 0.0)
        self._gradual.append(_hist_distance(h, self._hists[-_LAG]) if i >= _LAG else self._colour[-1])
        self.times.append(float(time))
        self._raw.append(frame)
        self._pooled.append(g)
        self._hists.append(h)
        if i % _STATS_EVERY == 0 or i < 2 * _STATS_EVERY:
            lo = max(0, i - _HISTORY)
            self._stats = tuple(_robust(np.asarray(x[lo:])) for x in (self._abrupt, self._colour, self._gradual))
        self._scores.append(max((x[i] - m) / sc for x, (m, sc) in zip((self._abrupt, self._colour, self._gradual),
                                                                      self._stats)))
        # decide on the frame _LOOK back, whose whole neighbourhood is now in the ring
        c = i - _LOOK
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
        views = [first_view] if first_view[3] == c else [first_view, self._view(first_view[3], at)]
        colour, persistence, centre, cut = max(views)
        first = max(0, centre - WINDOW)
        last = min(n - 1, centre + WINDOW)
        frames = None
        if self.keep_frames:
            frames = np.stack([self._raw[at(j)] for j in range(first, last + 1)])
        cand = Candidate(index=c, time=self.times[c], score=float(s), persistence=float(persistence),
                         colour=colour, cut_index=cut, cut_time=self.times[cut], first=first, frames=frames)
        self.candidates.append(cand)

    def _view(self, centre: int, at) -> tuple[float, float, int, int]:
        """(colour change, persistence, centre, split) of the pictures ``WINDOW`` frames either side of
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
        across = _dist(before, after)
        inside = (_dist(before, picture(centre - 2 * w, 1)) + _dist(after, picture(centre + 2 * w, -1))) / 2
        persistence = across / max(inside, 0.1 * across, 2e-3)
        # the same three frames a side, and the closest pair: a flash or a glitched frame that reaches
        # into one side cannot make the two sides look different
        colour = min(_hist_distance(_hist([raw(centre - w + a)]), _hist([raw(centre + w - b)]))
                     for a in (0, 3, 6) for b in (0, 3, 6))
        split = centre - w + _split([pooled(j) for j in range(centre - w, centre + w + 1)], before, after)
        return colour, float(persistence), centre, split

    def finish(self) -> ShotStream:
        """Decide on the last frames (whose neighbourhood runs past the end). Idempotent."""
        if not self._finished:
            self._finished = True
            n = len(self.times)
            for c in range(max(1, n - _LOOK), n):
                self._consider(c)
        return self

    @property
    def duration(self) -> float:
        return self.times[-1] if self.times else 0.0


def _hist(frames: Sequence[np.ndarray], bits: int = 3) -> np.ndarray:
    """Normalised RGB histogram (``2**bits`` bins a channel) of some uint8 frames, after scaling them to a mean of 128
    (so that the light getting brighter or dimmer moves little mass; a new shot still does)."""
    a = np.concatenate([f.reshape(-1, 3) for f in frames]).astype(np.float32)
    a = np.clip(a * (128.0 / max(float(a.mean()), 8.0)), 0, 255).astype(np.int32) >> (8 - bits)
    n = 1 << bits
    h = np.bincount((a[:, 0] * n + a[:, 1]) * n + a[:, 2], minlength=n ** 3).astype(np.float64)
    return h / h.sum()


def _hist_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(0.5 * np.abs(a - b).sum())


def _split(window: Sequence[np.ndarray], before: np.ndarray, after: np.ndarray) -> int:
    """Offset of the first frame of the new shot: minimises the distance of the frames up to the
    split to ``before`` plus that of the frames from it on to ``after``."""
    if len(window) < 2:
        return 0
    da = np.array([_dist(w, before) for w in window])
    db = np.array([_dist(w, after) for w in window])
    ca = np.concatenate([[0.0], np.cumsum(da)])          # ca[i] = sum(da[:i])
    cb = np.concatenate([np.cumsum(db[::-1])[::-1], [0.0]])  # cb[i] = sum(db[i:])
    costs = ca[1:-1] + cb[1:-1]
    return 1 + int(np.argmin(costs))


# ------------------------------------------------------------------ the fused decision

COLOUR_CLEAR = 0.6        # colour change that is a cut on its own (most colour mass moved)
COLOUR_SOME = 0.3         # colour change that is a cut with a second sign: persistence or the model
PERSISTENT = 2.5          # persistence that counts as that second sign
COLOUR_ASK = 0.15         # candidates the model is asked about: colour change in [COLOUR_ASK, COLOUR_CLEAR)
MODEL_SURE = 0.5          # the shot model's probability that makes a cut on its own
MODEL_SUPPORT = 0.15      # ... that confirms a cut the adaptive rule also sees
MIN_GAP = 1.0             # seconds: of two cuts closer than this, the stronger one stays (a fade's
                          # two halves, a dissolve's both ends)
_SAME_CUT = WINDOW // 4   # frames: candidates whose cuts are this close describe one transition


@dataclass(frozen=True)
class Cut:
    """An accepted transition: ``time`` = first frame of the new shot (the middle of a gradual one)."""
    time: float
    index: int
    persistence: float
    colour: float
    embedding_z: float
    probability: float | None
    by: str                   # "rule", "model" or "both"


def embedding_changes(times: np.ndarray, embeddings: np.ndarray, candidates: Sequence[Candidate],
                      frame_times: Sequence[float]) -> list[float]:
    """Robust z-score of the embedding change across each candidate.

    The change across a candidate is ``1 - cos`` between the last sampled frame before its window
    and the first one after it. Its z-score is taken against the changes between consecutive sampled
    frames with no candidate between them (the video's own within-shot changes, in the encoder's own
    scale); with fewer than 3 such pairs, against all consecutive pairs."""
    e = _normalise(embeddings)
    t = np.asarray(times, dtype=np.float64)
    if len(t) < 2:
        return [0.0] * len(candidates)
    step = 1.0 - np.sum(e[1:] * e[:-1], axis=1)
    ft = np.asarray(frame_times, dtype=np.float64)
    spans = np.zeros(len(step), dtype=bool)
    for c in candidates:
        j = int(np.searchsorted(t, c.cut_time, side="left"))
        if 1 <= j < len(t):
            spans[j - 1] = True
    quiet = step[~spans] if np.count_nonzero(~spans) >= 3 else step
    med, scale = _robust(quiet)
    scale = max(scale, 0.1 * med, 1e-6)
    out = []
    for c in candidates:
        lo_t = ft[c.first]
        hi_t = ft[min(len(ft) - 1, c.first + 2 * WINDOW)]
        jb = int(np.searchsorted(t, lo_t + 1e-6, side="right") - 1)
        ja = int(np.searchsorted(t, hi_t - 1e-6, side="left"))
        jb = min(max(jb, 0), len(t) - 1)
        ja = min(max(ja, 0), len(t) - 1)
        if ja <= jb:   # no sample on one side: use the pair around the cut
            ja = min(max(int(np.searchsorted(t, c.cut_time, side="left")), 1), len(t) - 1)
            jb = ja - 1
        change = 1.0 - float(e[jb] @ e[ja])
        out.append((change - med) / scale)
    return out


def _rule(c: Candidate) -> bool:
    """The adaptive rule (pixels only): a large colour change, or a moderate one whose pictures persist
    (persistence >= ``PERSISTENT``: the picture after differs from the one before far more than either
    side changes by itself)."""
    return c.colour >= COLOUR_CLEAR or (c.colour >= COLOUR_SOME and c.persistence >= PERSISTENT)


def _ask_order(c: Candidate) -> tuple:
    """The model's budget goes first to the rule's grey zone (a moderate colour change, decided by
    persistence alone), most colour change first; then to the weaker candidates."""
    return (0 if c.colour >= COLOUR_SOME else 1, -c.colour)


def _ask_model(cands: Sequence[Candidate], model, budget_frames: int | None) -> None:
    order = sorted((k for k, c in enumerate(cands)
                    if COLOUR_ASK <= c.colour < COLOUR_CLEAR and c.frames is not None and c.probability is None),
                   key=lambda k: _ask_order(cands[k]))
    chosen: list[int] = []
    used = 0
    for k in order:
        if any(abs(cands[k].cut_index - cands[j].cut_index) <= _SAME_CUT for j in chosen):
            continue                    # the same transition seen from a neighbouring peak: one answer
        size = len(cands[k].frames)     # type: ignore[arg-type]
        if budget_frames is not None and used + size > budget_frames:
            continue
        chosen.append(k)
        used += size
    if not chosen:
        return
    probs = model.probabilities([cands[k].frames for k in chosen])
    for k, p in zip(chosen, probs):
        p = np.asarray(p, dtype=np.float64)
        c = cands[k]
        # the model's peak near the rule's cut: a window that also holds a neighbouring transition
        # (a short shot) must not move this cut onto that one
        lo = max(0, c.cut_index - c.first - WINDOW // 2)
        hi = min(len(p), c.cut_index - c.first + WINDOW // 2 + 1)
        peak = lo + int(np.argmax(p[lo:hi])) if hi > lo else int(np.argmax(p))
        for other in cands:             # its neighbours' duplicates get the same answer
            if other.probability is None and abs(other.cut_index - c.cut_index) <= _SAME_CUT:
                other.probability = float(p[peak])
                other.model_index = c.first + peak


def decide_cuts(stream: ShotStream, times: np.ndarray, embeddings: np.ndarray, *,
                model=None, budget_frames: int | None = None) -> list[Cut]:
    """The fused rule: the dense stream's candidates judged by colour change and persistence (pixels
    only) and, where available, the shot model.

    * the adaptive rule (:func:`_rule`): colour change >= ``COLOUR_CLEAR``; or >= ``COLOUR_SOME``
      with a persistence >= ``PERSISTENT``. A flash or a glitched frame is over before the pictures
      compared, so it changes neither.
    * the embeddings are not asked: the change across each candidate is reported (``Cut.embedding_z``)
      but decides nothing, so that the cuts are the same whichever model embeds the frames (on the
      development sets, letting a z >= 2 confirm a moderate colour change made the toy encoder and a
      random-init ViT disagree, and found no transition the pixels missed).
    * with a model (``model.probabilities(list of (T, 27, 48, 3) uint8) -> list of (T,) floats``):
      it is asked about the candidates with a colour change in ``[COLOUR_ASK, COLOUR_CLEAR)``, the
      rule's grey zone first (:func:`_ask_order`), one window per transition, up to ``budget_frames``
      frames in all (None: no limit). A candidate it was asked about is a cut when its peak
      probability (within ``WINDOW / 2`` frames of the rule's cut) is >= ``MODEL_SURE``, or
      >= ``MODEL_SUPPORT`` and the rule agrees; the cut is then placed on the model's peak frame. Where
      the rule was unsure (colour < ``COLOUR_CLEAR``) and the model sees nothing (< ``MODEL_SUPPORT``),
      there is no cut.
    * of two cuts closer than ``MIN_GAP`` seconds the stronger one stays.
    """
    stream.finish()
    cands = stream.candidates
    if not cands:
        return []
    ez = embedding_changes(times, embeddings, cands, stream.times)
    if model is not None and budget_frames != 0:
        _ask_model(cands, model, budget_frames)
    cuts: list[Cut] = []
    for c, z in zip(cands, ez):
        by_rule = _rule(c)
        index, by = c.cut_index, "rule"
        ok = by_rule
        if c.probability is not None and c.model_index is not None:
            sure = c.probability >= MODEL_SURE
            ok = by_rule or sure
            if c.probability >= MODEL_SUPPORT and ok:
                index, by = c.model_index, ("both" if by_rule else "model")
            elif by_rule and c.probability < MODEL_SUPPORT and c.colour < COLOUR_CLEAR:
                ok = False              # the model sees no transition where the rule was unsure
        if not ok:
            continue
        cut = Cut(time=stream.times[index], index=int(index), persistence=c.persistence, colour=c.colour,
                  embedding_z=float(z), probability=c.probability, by=by)
        if cuts and cut.time - cuts[-1].time < MIN_GAP:
            if _strength(cuts[-1]) >= _strength(cut):
                continue
            cuts.pop()
        cuts.append(cut)
    return cuts


def _strength(cut: Cut) -> float:
    return cut.colour + (cut.probability or 0.0)
