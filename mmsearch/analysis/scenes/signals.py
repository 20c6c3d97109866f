"""Pixel measures of the dense stream's low-res frames (pure numpy): pooling, distances, histograms.

All of them are scale-free in the sense the rules need: distances of pictures in 0..1 units, colour
histograms normalised to a mean brightness of 128 (the light getting brighter or dimmer moves little
colour mass; a new shot moves a lot).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["POOL", "pool", "dist", "robust", "hist", "hist_distance", "split"]

POOL = 3   # pictures are compared 3x3-pooled (16x9 from 48x27): a few pixels of shake vanish


def pool(frame: np.ndarray) -> np.ndarray:
    """``frame`` (h, w, 3) uint8 -> (h/POOL, w/POOL, 3) float32 in 0..1 (block means)."""
    h, w = frame.shape[:2]
    h2, w2 = h - h % POOL, w - w % POOL
    f = frame[:h2, :w2].astype(np.float32) / 255.0
    return f.reshape(h2 // POOL, POOL, w2 // POOL, POOL, 3).mean(axis=(1, 3))


def dist(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two pooled pictures (0..1)."""
    return float(np.mean(np.abs(a - b)))


def robust(values: np.ndarray) -> tuple[float, float]:
    """(median, scale) where scale is 1.4826 * MAD with a floor: a static picture has MAD 0."""
    if len(values) == 0:
        return 0.0, 1e-3
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med))) * 1.4826
    return med, max(mad, 0.05 * med, 1e-3)


def hist(frames: Sequence[np.ndarray], bits: int = 3) -> np.ndarray:
    """Normalised RGB histogram (``2**bits`` bins a channel) of some uint8 frames, after scaling them to
    a mean of 128."""
    a = np.concatenate([f.reshape(-1, 3) for f in frames]).astype(np.float32)
    a = np.clip(a * (128.0 / max(float(a.mean()), 8.0)), 0, 255).astype(np.int32) >> (8 - bits)
    n = 1 << bits
    h = np.bincount((a[:, 0] * n + a[:, 1]) * n + a[:, 2], minlength=n ** 3).astype(np.float64)
    return h / h.sum()


def hist_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total-variation distance (0..1) of two normalised histograms."""
    return float(0.5 * np.abs(a - b).sum())


def split(window: Sequence[np.ndarray], before: np.ndarray, after: np.ndarray) -> int:
    """Offset of the first frame of the new shot: minimises the distance of the frames up to the
    split to ``before`` plus that of the frames from it on to ``after``."""
    if len(window) < 2:
        return 0
    da = np.array([dist(w, before) for w in window])
    db = np.array([dist(w, after) for w in window])
    ca = np.concatenate([[0.0], np.cumsum(da)])          # ca[i] = sum(da[:i])
    cb = np.concatenate([np.cumsum(db[::-1])[::-1], [0.0]])  # cb[i] = sum(db[i:])
    costs = ca[1:-1] + cb[1:-1]
    return 1 + int(np.argmin(costs))
