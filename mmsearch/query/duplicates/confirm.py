"""The confirming check of a near-duplicate pair: its two pictures compared pixel by pixel at a common size.

A 64-bit hash of a mostly plain picture (a drawing or an object on white, a slide of a template, a page
of text) carries little information, so two different such pictures can hash alike; vectors of a weak
model do not tell them apart either. Before such a pair is called a copy, both files are decoded (on
demand, candidate pairs only) and compared:

1. **Alignment.** A copy may be cropped by up to :data:`MAX_CROP` of each side (around the centre or off
   it) and resized, so one picture is searched as a window of the other, cheapest first (:func:`compare`
   stops at the first window that confirms): the whole pictures; the best window of a template match over
   every offset and scale (OpenCV, steps of :data:`TEMPLATE_STEP`; without OpenCV a grid of margins in
   steps of :data:`COARSE_STEP`, shapes within :data:`ASPECT_TOLERANCE`), both directions (either file may
   be the cropped one), the better-correlated first; then where their matched local features put it
   (mmsearch/query/duplicates/align.py: a page of text or a slide repeats one pattern). A window is refined
   edge by edge down to a fraction of a pixel at :data:`FINE` px; one whose search correlates under
   :data:`MIN_CORRELATION` is not refined (no copy correlates so little).
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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmsearch.query.duplicates.align import keypoints, template_window, window

COARSE = 64  # long side (px) of the grid search
FINE = 192  # long side (px) of the refinement and of the score
MAX_CROP = 0.12  # share of each side a copy may have lost
COARSE_STEP = 0.03  # margin step of the grid search
TEMPLATE_STEP = 0.01  # scale step (share of the width) of the template match
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
    what found that window (``features``: matched keypoints, mmsearch/query/duplicates/align.py;
    ``template``: the template match over offsets and scales, same module; ``grid``: the grid search
    without OpenCV; ``flat``: two flat pictures, whose check is mmsearch/query/duplicates/flat.py, with
    its own ``limit``)."""

    disagreement: float
    correlation: float
    crop: tuple[float, float, float, float]
    aligned: str = "grid"
    limit: float = MAX_DISAGREEMENT  # the most a copy may disagree

    @property
    def confirmed(self) -> bool:
        return self.disagreement <= self.limit

    def to_dict(self) -> dict:
        return {"disagreement": round(self.disagreement, 3), "correlation": round(self.correlation, 3),
                "max_disagreement": self.limit, "crop": [round(c, 3) for c in self.crop], "aligned": self.aligned}


@dataclass
class Pixels:
    """A picture decoded for the check: its grey (float, for the alignment) and its colours (for the
    score), at most DECODE_SIDE px on the long side, and its grey at 2 x FINE px (``half``: the refinement
    resamples it, not the file) and 2 x COARSE px (``thumb``, an array: the window search). Its local
    features (mmsearch/query/duplicates/align.py; None: none usable) are found when first asked for (only
    pairs that the cheaper windows do not confirm need them), then kept."""

    grey: Any
    colour: Any
    half: Any = None
    thumb: Any = None
    _features: Any = False  # False: not computed yet

    @property
    def size(self) -> tuple[int, int]:
        return self.grey.size

    @property
    def features(self) -> Any:
        if self._features is False:
            self._features = keypoints(self.grey)
        return self._features


def pixels(image: Any) -> Pixels:
    """A PIL image ready for :func:`compare` (decoded once per file, then reused for each of its pairs)."""
    from PIL import Image

    rgb = image.convert("RGB")
    scale = DECODE_SIDE / max(rgb.size)
    if scale < 1:
        rgb = rgb.resize((max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))), Image.Resampling.BOX)
    grey = rgb.convert("L")
    fgrey = grey.convert("F")
    half = fgrey.resize(_size(fgrey, 2 * FINE), Image.Resampling.BOX) if max(fgrey.size) > 2 * FINE else fgrey
    thumb = np.asarray(fgrey.resize(_size(fgrey, 2 * COARSE), Image.Resampling.BOX), np.float32)
    return Pixels(fgrey, rgb, half, thumb)


def compare(a: Pixels, b: Pixels) -> Check:
    """The check of two pictures, cheapest first, stopping at the first window that confirms a copy: the
    whole pictures (most copies are not cropped); "b is a window of a" and the reverse, found by the window
    search (:func:`_search`) and refined, the better-correlated direction first; then the window their
    local features agree on (a page of text repeats one pattern: mmsearch/query/duplicates/align.py),
    refined. Otherwise the least disagreeing of them."""
    fine = _size(b.grey, FINE)
    best = _score(a, b, fine, [0.0] * 4, _ncc(_array(b.grey, fine), _array(a.half, fine)))
    if best.confirmed:
        return best
    for big, small, margins, how in _windows(a, b):
        fine = _size(small.grey, FINE)
        found = _refine(big, small, fine, _array(small.grey, fine), margins, -2.0, how)
        if found.confirmed:
            return found
        best = found if found.disagreement < best.disagreement else best
    return best


def _windows(a: Pixels, b: Pixels) -> Iterator[tuple[Pixels, Pixels, list[float], str]]:
    """Where one picture may lie in the other, as (big, small, margins, what found it), lazily: the window
    search's best window each way that correlates at least MIN_CORRELATION (the better first), then the
    features' window when it lost at most MAX_CROP a side."""
    searched = sorted((_search(big, small) + (big, small) for big, small in ((a, b), (b, a))), key=lambda s: -s[1])
    for margins, correlation, how, big, small in searched:
        if correlation >= MIN_CORRELATION:  # below: nothing alike anywhere, no need to refine
            yield big, small, margins, how
    hint = window(a.features, b.features, a.size, b.size)
    if hint is not None and max(hint[1]) <= MAX_CROP + COARSE_STEP:
        yield (a, b, hint[1], "features") if hint[0] else (b, a, hint[1], "features")


def _search(pbig: Pixels, psmall: Pixels) -> tuple[list[float], float, str]:
    """Where ``small`` lies in ``big`` (margins up to MAX_CROP a side), its correlation there and what found
    it: OpenCV's template match over every offset and scale (mmsearch/query/duplicates/align.py), else the
    grid."""
    found = template_window(pbig.thumb, psmall.thumb, MAX_CROP, TEMPLATE_STEP)
    if found is not None:
        return found[0], found[1], "template"
    return _grid(pbig, psmall)


def _size(image: Any, side: int) -> tuple[int, int]:
    scale = side / max(image.size)
    return max(4, round(image.width * scale)), max(4, round(image.height * scale))


def _array(image: Any, size: tuple[int, int], box: tuple[float, float, float, float] | None = None) -> np.ndarray:
    from PIL import Image

    return np.asarray(image.resize(size, Image.Resampling.BILINEAR, box=box, reducing_gap=2.0), np.float64)


def _ncc(x: np.ndarray, y: np.ndarray) -> float:
    """Normalised correlation of two grey arrays, both softened first (thin lines a pixel off still meet)."""
    return _dot(_unit(x), _unit(y))


def _dot(x: np.ndarray, y: np.ndarray) -> float:
    """The dot product of two flat arrays outside BLAS (whose threads spin on a busy machine for a few
    thousand products)."""
    return float(np.einsum("i,i->", x, y))


def _unit(x: np.ndarray) -> np.ndarray:
    """A grey array softened, centred and scaled to unit length (flat): its dot product with another such is
    their normalised correlation (0 for a flat array); a target is prepared once for many windows."""
    x = _soften(x).ravel()
    x = x - x.mean()
    norm = float(np.sqrt(_dot(x, x)))
    return x / norm if norm > 1e-9 else np.zeros_like(x)


def _box(big: Any, m: Sequence[float]) -> tuple[float, float, float, float]:
    w, h = big.size
    return (m[0] * w, m[1] * h, w - m[2] * w, h - m[3] * h)


def _grid(pbig: Pixels, psmall: Pixels) -> tuple[list[float], float, str]:
    """``small`` searched as a window of ``big`` on a grid of margins (COARSE_STEP, up to MAX_CROP a side;
    the shape kept within ASPECT_TOLERANCE): the best window's margins and correlation at COARSE px."""
    from PIL import Image

    big, small = pbig.grey, psmall.grey
    aspect = small.width / small.height
    steps = [float(x) for x in np.arange(0.0, MAX_CROP + 1e-9, COARSE_STEP)]
    coarse = _size(small, COARSE)
    thumb = _unit(_array(small, coarse))
    shrunk = Image.fromarray(pbig.thumb)
    best, margins = -2.0, [0.0] * 4
    for m in itertools.product(steps, repeat=4):
        w, h = big.width * (1 - m[0] - m[2]), big.height * (1 - m[1] - m[3])
        # a resize keeps the shape (the grid's own step of slack)
        if abs((w / h) / aspect - 1) <= ASPECT_TOLERANCE + COARSE_STEP:
            r = _dot(thumb, _unit(_array(shrunk, coarse, _box(shrunk, m))))
            if r > best:
                best, margins = r, list(m)
    return margins, best, "grid"


def _refine(pbig: Pixels, psmall: Pixels, fine: tuple[int, int], target: np.ndarray, margins: Sequence[float],
            best: float, aligned: str = "grid") -> Check:
    """The window ``margins`` of ``big`` moved edge by edge, in ever finer steps, while the correlation
    with ``small`` grows; then scored."""
    big = pbig.half
    margins = list(margins)
    unit = _unit(target)
    best = max(best, _dot(unit, _unit(_array(big, fine, _box(big, margins)))))
    for step in (COARSE_STEP / 2, COARSE_STEP / 4, COARSE_STEP / 8, COARSE_STEP / 16):
        moved = True
        while moved:
            moved = False
            for k, sign in itertools.product(range(4), (-1.0, 1.0)):
                trial = margins.copy()
                trial[k] = min(MAX_CROP + COARSE_STEP, max(0.0, trial[k] + sign * step))
                r = _dot(unit, _unit(_array(big, fine, _box(big, trial))))
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
    """A [1 2 1] / 4 blur along both axes (edges repeated), of a 2-D or 3-D array."""
    p = np.concatenate([x[:1], x, x[-1:]], axis=0)
    x = (p[:-2] + 2 * p[1:-1] + p[2:]) * 0.25
    p = np.concatenate([x[:, :1], x, x[:, -1:]], axis=1)
    return (p[:, :-2] + 2 * p[:, 1:-1] + p[:, 2:]) * 0.25
