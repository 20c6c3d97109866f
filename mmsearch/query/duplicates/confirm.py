"""The confirming check of a near-duplicate pair: its two pictures compared pixel by pixel at a common size.

A 64-bit hash of a mostly plain picture (a drawing or an object on white, a slide of a template, a page
of text) carries little information, so two different such pictures can hash alike; vectors of a weak
model do not tell them apart either. Before such a pair is called a copy, both files are decoded (on
demand, candidate pairs only) and compared:

1. **Alignment.** A copy may be cropped by up to :data:`MAX_CROP` of each side (around the centre or off
   it) and resized, so one picture is searched as a window of the other. First where their matched local
   features put it (mmsearch/query/duplicates/align.py: a page of text or a slide repeats one pattern, so
   a grid a few pixels off correlates as well as the right window), refined as below; when that finds no
   copy (or there are too few features: a drawing on white), a grid of window margins (steps
   of :data:`COARSE_STEP`, only windows whose shape matches the other picture's within
   :data:`ASPECT_TOLERANCE`: a resize keeps the shape) scored by the normalised correlation of their grey
   at :data:`COARSE` px, the best refined edge by edge down to a fraction of a pixel at :data:`FINE` px.
   Both directions are tried (either file may be the cropped one); a grid whose best window correlates
   under :data:`MIN_CORRELATION` is not refined (no copy correlates so little).
2. **Agreement everywhere.** A brightness or contrast change is undone by one gain and offset (least
   squares). The picture is cut into :data:`CELLS` x :data:`CELLS` cells; a cell's *disagreement* is the
   RMS of what is left divided by the cell's own contrast (its grey spread, at least :data:`FLOOR` of the
   whole picture's). A copy leaves only re-encoding and resampling noise in every cell (measured at most
   about 0.5 on the dev set); two different pictures on the same plain background or template disagree
   where they differ (other words, another shape: about 1). The pair is confirmed when its worst cell
   stays at most :data:`MAX_DISAGREEMENT`.

The check reads pixels only, never a model's vectors, so it holds whatever the encoder (or none).
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmsearch.query.duplicates.align import keypoints, window

COARSE = 64  # long side (px) of the grid search
FINE = 192  # long side (px) of the refinement and of the score
MAX_CROP = 0.12  # share of each side a copy may have lost
COARSE_STEP = 0.03  # margin step of the grid search
ASPECT_TOLERANCE = 0.04  # a window's shape may differ this much (relative) from the other picture's
CELLS = 6  # cells per side of the agreement score
FLOOR = 0.25  # a cell's contrast counts at least this share of the whole picture's
MAX_DISAGREEMENT = 0.6  # worst cell's residual / contrast for a confirmed copy
MIN_CORRELATION = 0.6  # a grid's best window correlating less is no copy: the refinement is skipped
DECODE_SIDE = 512  # pictures are decoded at most this large for the check


@dataclass(frozen=True)
class Check:
    """The confirming check's outcome: the worst cell's disagreement (0: the same pixels; about 1 and
    above: different pictures), the correlation of the aligned pictures, and which picture was found
    as a window of the other (``crop``: its margins left, top, right, bottom as shares of the other), and
    what found that window (``features``: matched keypoints, mmsearch/query/duplicates/align.py; ``grid``:
    the grid search)."""

    disagreement: float
    correlation: float
    crop: tuple[float, float, float, float]
    aligned: str = "grid"

    @property
    def confirmed(self) -> bool:
        return self.disagreement <= MAX_DISAGREEMENT

    def to_dict(self) -> dict:
        return {"disagreement": round(self.disagreement, 3), "correlation": round(self.correlation, 3),
                "max_disagreement": MAX_DISAGREEMENT, "crop": [round(c, 3) for c in self.crop], "aligned": self.aligned}


@dataclass(frozen=True)
class Pixels:
    """A picture decoded for the check: its grey (float, for the alignment), its colours (for the score)
    and its local features (mmsearch/query/duplicates/align.py; None: none usable), at most DECODE_SIDE px
    on the long side."""

    grey: Any
    colour: Any
    features: Any = None

    @property
    def size(self) -> tuple[int, int]:
        return self.grey.size


def pixels(image: Any) -> Pixels:
    """A PIL image ready for :func:`compare`."""
    from PIL import Image

    rgb = image.convert("RGB")
    scale = DECODE_SIDE / max(rgb.size)
    if scale < 1:
        rgb = rgb.resize((max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))), Image.Resampling.BOX)
    grey = rgb.convert("L")
    return Pixels(grey.convert("F"), rgb, keypoints(grey))


def compare(a: Pixels, b: Pixels) -> Check:
    """The check of two pictures: the window their local features agree on, refined (when they agree on
    one), else the better of "b is a window of a" and the reverse by the grid search."""
    hint = window(a.features, b.features, a.size, b.size)
    if hint is not None and max(hint[1]) <= MAX_CROP + COARSE_STEP:  # a copy lost at most MAX_CROP a side
        big, small = (a, b) if hint[0] else (b, a)
        fine = _size(small.grey, FINE)
        target = _array(small.grey, fine)
        start = _ncc(target, _array(big.grey, fine, _box(big.grey, hint[1])))
        found = _refine(big, small, fine, target, hint[1], start, "features")
        if found.confirmed:
            return found
    first = _inside(a, b)
    if first.confirmed:
        return first
    second = _inside(b, a)
    return second if second.disagreement < first.disagreement else first


def _size(image: Any, side: int) -> tuple[int, int]:
    scale = side / max(image.size)
    return max(4, round(image.width * scale)), max(4, round(image.height * scale))


def _array(image: Any, size: tuple[int, int], box: tuple[float, float, float, float] | None = None) -> np.ndarray:
    from PIL import Image

    return np.asarray(image.resize(size, Image.Resampling.BILINEAR, box=box, reducing_gap=2.0), np.float64)


def _ncc(x: np.ndarray, y: np.ndarray) -> float:
    """Normalised correlation of two grey arrays, both softened first (thin lines a pixel off still meet)."""
    x, y = _soften(x[..., None])[..., 0], _soften(y[..., None])[..., 0]
    x, y = x - x.mean(), y - y.mean()
    den = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / den) if den > 1e-9 else 0.0


def _box(big: Any, m: Sequence[float]) -> tuple[float, float, float, float]:
    w, h = big.size
    return (m[0] * w, m[1] * h, w - m[2] * w, h - m[3] * h)


def _inside(pbig: Pixels, psmall: Pixels) -> Check:
    """``small`` searched as a window of ``big`` (margins up to MAX_CROP a side): the uncropped window
    first (most copies), then the grid and the refinement."""
    from PIL import Image

    big, small = pbig.grey, psmall.grey
    fine = _size(small, FINE)
    target = _array(small, fine)
    whole = _score(pbig, psmall, fine, [0.0] * 4, _ncc(target, _array(big, fine)))
    if whole.confirmed:
        return whole
    aspect = small.width / small.height
    steps = [float(x) for x in np.arange(0.0, MAX_CROP + 1e-9, COARSE_STEP)]
    coarse = _size(small, COARSE)
    thumb = _array(small, coarse)
    shrunk = big.resize(_size(big, 2 * COARSE), Image.Resampling.BOX)  # the grid resamples this, not the file
    best, margins = -2.0, [0.0] * 4
    for m in itertools.product(steps, repeat=4):
        w, h = big.width * (1 - m[0] - m[2]), big.height * (1 - m[1] - m[3])
        # a resize keeps the shape (the grid's own step of slack)
        if abs((w / h) / aspect - 1) <= ASPECT_TOLERANCE + COARSE_STEP:
            r = _ncc(thumb, _array(shrunk, coarse, _box(shrunk, m)))
            if r > best:
                best, margins = r, list(m)
    best = _ncc(target, _array(big, fine, _box(big, margins)))
    if best < MIN_CORRELATION:  # nothing alike anywhere: no need to refine
        found = _score(pbig, psmall, fine, margins, best)
        return found if found.disagreement < whole.disagreement else whole
    found = _refine(pbig, psmall, fine, target, margins, best)
    return found if found.disagreement < whole.disagreement else whole


def _refine(pbig: Pixels, psmall: Pixels, fine: tuple[int, int], target: np.ndarray, margins: Sequence[float],
            best: float, aligned: str = "grid") -> Check:
    """The window ``margins`` of ``big`` moved edge by edge, in ever finer steps, while the correlation
    with ``small`` grows; then scored."""
    big = pbig.grey
    margins = list(margins)
    for step in (COARSE_STEP / 2, COARSE_STEP / 4, COARSE_STEP / 8, COARSE_STEP / 16):
        moved = True
        while moved:
            moved = False
            for k, sign in itertools.product(range(4), (-1.0, 1.0)):
                trial = margins.copy()
                trial[k] = min(MAX_CROP + COARSE_STEP, max(0.0, trial[k] + sign * step))
                r = _ncc(target, _array(big, fine, _box(big, trial)))
                if r > best + 1e-6:
                    best, margins, moved = r, trial, True
    return _score(pbig, psmall, fine, margins, best, aligned)


def _score(pbig: Pixels, psmall: Pixels, size: tuple[int, int], margins: Sequence[float], correlation: float,
           aligned: str = "grid") -> Check:
    found = _array(pbig.colour, size, _box(pbig.grey, margins))
    return Check(disagreement(_array(psmall.colour, size), found), correlation,
                 (margins[0], margins[1], margins[2], margins[3]), aligned)


def disagreement(target: np.ndarray, window: np.ndarray) -> float:
    """The worst cell's RMS residual over its contrast (both over the colour channels) after one monotone
    tone curve per channel fitted to the whole (brightness, contrast, colour balance and clipped highlights
    change values, never places) and a light blur of both (resampling softens edges by a pixel)."""
    target, window = _soften(target), _soften(window)
    fitted = np.stack([tone_curve(window[..., c], target[..., c]) for c in range(target.shape[2])], axis=2)
    residual = ((target - fitted) ** 2).sum(axis=2)
    spread = max(float(np.sqrt(target.reshape(-1, target.shape[2]).var(axis=0).sum())), 1.0)
    worst = 0.0
    for rows in np.array_split(np.arange(target.shape[0]), CELLS):
        for cols in np.array_split(np.arange(target.shape[1]), CELLS):
            cell = np.ix_(rows, cols)
            contrast = max(_spread(target[cell]), _spread(fitted[cell]), FLOOR * spread)
            worst = max(worst, float(np.sqrt(residual[cell].mean())) / contrast)
    return worst


def _spread(x: np.ndarray) -> float:
    return float(np.sqrt(x.reshape(-1, x.shape[-1]).var(axis=0).sum()))


def tone_curve(source: np.ndarray, target: np.ndarray, bins: int = 24) -> np.ndarray:
    """``source`` mapped through the monotone curve that best predicts ``target`` from it: the mean target
    of each of ``bins`` source levels, made non-decreasing, interpolated between the levels."""
    lo, hi = float(source.min()), float(source.max())
    if hi - lo < 1e-6:
        return np.full_like(target, target.mean())
    level = np.minimum(((source - lo) / (hi - lo) * bins).astype(int), bins - 1)
    counts = np.bincount(level.ravel(), minlength=bins)
    sums = np.bincount(level.ravel(), weights=target.ravel(), minlength=bins)
    used = counts > 0
    centres = (np.flatnonzero(used) + 0.5) / bins * (hi - lo) + lo
    means = np.maximum.accumulate(sums[used] / counts[used])
    return np.interp(source, centres, means)


def _soften(x: np.ndarray) -> np.ndarray:
    """A [1 2 1] / 4 blur along both axes."""
    p = np.pad(x, ((1, 1), (1, 1), (0, 0)), mode="edge")
    x = (p[:-2, 1:-1] + 2 * p[1:-1, 1:-1] + p[2:, 1:-1]) / 4
    p = np.pad(x, ((0, 0), (1, 1), (0, 0)), mode="edge")
    return (p[:, :-2] + 2 * p[:, 1:-1] + p[:, 2:]) / 4
