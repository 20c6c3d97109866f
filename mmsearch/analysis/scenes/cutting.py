"""Scenes from cuts, and the embeddings-only cut rule (used when there is no dense stream).

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
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mmsearch.analysis.scenes.signals import robust as _robust

__all__ = ["Scene", "find_cuts", "cut_scenes", "DEFAULT_Z", "normalise", "unit"]

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


normalise = _normalise
unit = _unit
