"""The check of two flat pictures (too flat to hash: a plain colour, a faint gradient): the same colours
everywhere, up to one brightness gain, and the same shape up to a crop.

The pixel check (mmsearch/query/duplicates/confirm.py) normalises each cell by its contrast and fits a
tone curve per channel, so it would call any two plain colours alike; a hash says nothing either. Here
both pictures' centre :data:`CENTRE` (a copy cropped by up to ~10 % of a side still shows it, nearly) are
averaged to :data:`GRID` x :data:`GRID` cells of RGB at a common size, one gain for all cells and
channels is fitted (least squares: a brightness change multiplies every channel alike), and the copy is
confirmed when

* the gain is within ``1 / MAX_GAIN`` .. :data:`MAX_GAIN` (brightness +-15 % and a margin);
* every cell and channel is within :data:`MAX_LEVELS` grey levels of the other times the gain
  (re-encoding and resampling move a plain colour by a level or two; another plain colour, or the same
  colour balanced otherwise, moves a channel by more);
* the shapes (width / height) differ by at most what a crop of MAX_CROP a side makes.

Two plain colours that differ only by a brightness within the gain's range look like one brightened copy
of the other, and are called copies: no check of pixels can tell them apart.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from mmsearch.query.duplicates.confirm import MAX_CROP, Check

CENTRE = 0.8  # share of each side compared
GRID = 4  # cells a side
MAX_GAIN = 1.25  # brightness gain between copies, either way
MAX_LEVELS = 4.0  # grey levels a cell's channel may differ by once the gain is applied


def colour_cells(rgb: Any) -> np.ndarray:
    """GRID x GRID x 3 mean RGB of the picture's centre CENTRE (a PIL image), float."""
    from PIL import Image

    w, h = rgb.size
    m = (1 - CENTRE) / 2
    box = (w * m, h * m, w * (1 - m), h * (1 - m))
    return np.asarray(rgb.convert("RGB").resize((GRID, GRID), Image.Resampling.BOX, box=box), np.float64)


def flat_compare(a: Any, b: Any) -> Check:
    """The check of two flat PIL pictures: ``disagreement`` is the largest level difference of a cell's
    channel once the gain is applied (``inf`` when the gain or the shapes are out of range), ``limit``
    MAX_LEVELS, ``correlation`` the gain, ``crop`` none, ``aligned`` ``flat``."""
    x, y = colour_cells(a), colour_cells(b)
    gain = float((x * y).sum() / max((x * x).sum(), 1e-9))
    shapes = (a.size[0] / a.size[1]) / (b.size[0] / b.size[1])
    most = 1 / (1 - 2 * MAX_CROP)
    fits = 1 / MAX_GAIN <= gain <= MAX_GAIN and 1 / most <= shapes <= most
    worst = float(np.abs(y - np.clip(gain * x, 0, 255)).max()) if fits else float("inf")
    return Check(worst, gain, (0.0, 0.0, 0.0, 0.0), "flat", MAX_LEVELS)
