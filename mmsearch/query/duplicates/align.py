"""Where one picture lies inside another, from matched local features: the starting window of the pixel
check (mmsearch/query/duplicates/confirm.py) for pictures whose coarse grid cannot align them.

A page of text or a slide repeats one pattern (lines of letters): at the check's coarse grid a window a
few pixels off correlates as well as the right one, so a cropped copy was refined from the wrong place
and rejected. Keypoints see the letters themselves: ORB keypoints of both pictures are matched (mutual
best, Hamming distance), and a similarity transform without rotation (a scale and an offset: a copy is
resized and cropped, not turned) is fitted by RANSAC. With at least :data:`MIN_INLIERS` matches agreeing
within :data:`RANSAC_PX` px, the transform gives the window of one picture in the other as margins
(shares of each side), which the check then refines and scores as before: the features only say where to
look, the pixels still decide. Without OpenCV (an optional dependency, installed with the ``ocr`` extra),
or with too few agreeing matches (a drawing on white has few corners), there is no window and the grid
search alone aligns.
"""
from __future__ import annotations

from typing import Any

import numpy as np

FEATURES = 1500  # ORB keypoints per picture
MIN_INLIERS = 12  # matches agreeing on one transform for it to count
RANSAC_PX = 2.0  # px (at the decoded size) a match may be off the transform
ITERATIONS = 400  # RANSAC draws (two matches fix scale and offset)
SLACK = 0.02  # a window may reach this share past an edge (resampling, rounding)
SEED = 0  # the draws are seeded: one pair, one answer


def keypoints(grey: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """ORB keypoint positions (n x 2, px) and descriptors of a PIL grey picture; None without OpenCV or
    without keypoints."""
    try:
        import cv2
    except ImportError:
        return None
    image = np.asarray(grey, np.float32).clip(0, 255).astype(np.uint8)
    found, desc = cv2.ORB_create(nfeatures=FEATURES).detectAndCompute(image, None)  # type: ignore[attr-defined]
    if desc is None or len(found) < MIN_INLIERS:
        return None
    return np.array([k.pt for k in found], np.float64), desc


def window(a: tuple[np.ndarray, np.ndarray] | None, b: tuple[np.ndarray, np.ndarray] | None,
           size_a: tuple[int, int], size_b: tuple[int, int]) -> tuple[bool, list[float]] | None:
    """Where ``b`` lies in ``a`` or ``a`` in ``b``: ``(b_in_a, margins)`` with the margins (left, top,
    right, bottom) as shares of the larger picture's sides; None when the features agree on no transform
    or the window is not inside (a copy is cropped, never padded)."""
    if a is None or b is None:
        return None
    import cv2

    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(b[1], a[1])
    if len(matches) < MIN_INLIERS:
        return None
    src = b[0][[m.queryIdx for m in matches]]
    dst = a[0][[m.trainIdx for m in matches]]
    fit = _ransac(src, dst)
    if fit is None:
        return None
    scale, dx, dy = fit  # a point (x, y) of b sits at (scale * x + dx, scale * y + dy) in a
    for b_in_a, (ox, oy, s), ((wi, hi), (wo, ho)) in (
            (True, (dx, dy, scale), (size_b, size_a)),
            (False, (-dx / scale, -dy / scale, 1.0 / scale), (size_a, size_b))):  # the inverse: a inside b
        margins = [ox / wo, oy / ho, 1 - (ox + s * wi) / wo, 1 - (oy + s * hi) / ho]
        if min(margins) >= -SLACK:
            return b_in_a, [max(0.0, m) for m in margins]
    return None


def _ransac(src: np.ndarray, dst: np.ndarray) -> tuple[float, float, float] | None:
    """Scale and offset (no rotation) mapping ``src`` onto ``dst`` agreed by the most matches, refitted by
    least squares on them; None under MIN_INLIERS."""
    rng = np.random.default_rng(SEED)
    n = len(src)
    best: np.ndarray | None = None
    for _ in range(ITERATIONS):
        i, j = rng.choice(n, 2, replace=False)
        span = src[i] - src[j]
        norm = float(span @ span)
        if norm < 25.0:  # two points closer than 5 px fix no scale
            continue
        scale = float((dst[i] - dst[j]) @ span) / norm
        if scale <= 0:
            continue
        shift = dst[i] - scale * src[i]
        inliers = np.linalg.norm(scale * src + shift - dst, axis=1) <= RANSAC_PX
        if best is None or inliers.sum() > best.sum():
            best = inliers
    if best is None or best.sum() < MIN_INLIERS:
        return None
    s, d = src[best], dst[best]
    sc, dc = s - s.mean(axis=0), d - d.mean(axis=0)
    scale = float((sc * dc).sum() / max((sc * sc).sum(), 1e-9))
    shift = d.mean(axis=0) - scale * s.mean(axis=0)
    return scale, float(shift[0]), float(shift[1])


def template_window(big: np.ndarray, small: np.ndarray, max_crop: float,
                    step: float) -> tuple[list[float], float] | None:
    """Where ``small`` (a grey array) lies in ``big`` (a grey array of a few dozen px a side): ``small`` is
    resized, keeping its shape (a copy is resized uniformly), so that it spans ``1 - 2 * max_crop`` to all
    of ``big``'s width in steps of ``step`` (a share of the width), and slid over every offset at once
    (OpenCV's normalised template match, both softened by a [1 2 1] / 4 blur). Only windows with every
    margin within ``max_crop`` (and SLACK) count. Returns (margins left, top, right, bottom as shares of
    ``big``, correlation) of the best window; None without OpenCV or without any such window."""
    try:
        import cv2
    except ImportError:
        return None
    height, width = big.shape
    aspect = small.shape[1] / small.shape[0]
    soft = cv2.GaussianBlur(np.ascontiguousarray(big, np.float32), (3, 3), 0)
    source = np.ascontiguousarray(small, np.float32)
    reach = max_crop + SLACK
    best: tuple[list[float], float] | None = None
    for share in np.arange(1.0, 1.0 - 2 * reach - 1e-9, -step):
        tw = round(width * share)
        th = round(tw / aspect)
        if tw < 8 or th < 8 or th > height or th < height * (1 - 2 * reach):
            continue
        template = cv2.GaussianBlur(cv2.resize(source, (tw, th), interpolation=cv2.INTER_AREA), (3, 3), 0)
        if float(template.std()) < 1e-3:
            continue
        scores = cv2.matchTemplate(soft, template, cv2.TM_CCOEFF_NORMED)
        xs, ys = np.arange(scores.shape[1]), np.arange(scores.shape[0])
        ok_x = (xs <= reach * width) & (width - xs - tw <= reach * width)
        ok_y = (ys <= reach * height) & (height - ys - th <= reach * height)
        scores = np.where(ok_y[:, None] & ok_x[None, :], scores, -2.0)
        y, x = np.unravel_index(int(np.argmax(scores)), scores.shape)
        r = float(scores[y, x])
        if r > -2.0 and (best is None or r > best[1]):
            best = ([x / width, y / height, 1 - (x + tw) / width, 1 - (y + th) / height], r)
    if best is None:
        return None
    return [max(0.0, m) for m in best[0]], best[1]
