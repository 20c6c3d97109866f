"""Does a picture hold text? A cheap pixel test in front of the OCR detector, and where to look.

The PP-OCR detector costs about 2-5x the image tower's CPU time on a photo (one DBNet pass at up to
960 px), and most photos hold no text. :func:`text_regions` finds the places that look like lines of
text from the picture's grey pixels alone (a few ms), on the same reduced copy the detector would see:

1. The morphological gradient (3x3 max - min) of the grey copy, thresholded at each of ``THRESHOLDS``
   (a low one for faint text, higher ones so that contrasted text over a busy background does not melt
   into the background's own edges), each threshold's connected components looked at separately.
2. A component is letter-like when it is ``MIN_HEIGHT`` px to a fifth of the picture high, at most
   ``MAX_ASPECT`` times as wide as high, and fills at least ``MIN_FILL`` of its box.
3. A line: three letter-like components in a row (each starting within ``GAP`` heights after the one
   before ends, centres within ``ALIGN`` heights, heights within ``HEIGHT_RATIO``), or two such whose
   span is at least ``WORD_ASPECT`` times their height, or one solid word (at least ``WORD_ASPECT``
   times as wide as high, filling at least ``WORD_FILL`` of its box: letters melted together).

What it returns are boxes in the reduced copy's pixels, padded by ``PAD`` heights (the detector needs
some background around a line); the reader (:meth:`mmsearch.encoders.ocr.OcrReader.detect_gated`) probes
those crops with the detector (:mod:`mmsearch.encoders.ocr_probe`), and runs it on the whole picture only
when a crop holds text, so a photo without text costs this test plus the detector over its crops (a few
percent of a synthetic photo, a tenth to a half of a real one). The rule was tuned on
generated text (bench_ocr.py's slides, text over photos, 20 px lines on 1920x1080 photos: every one
passes) and its cost measured on real photos without text (docs/benchmarks.md, "OCR").
"""
from __future__ import annotations

import numpy as np

THRESHOLDS = (40, 96, 160)  # gradient levels (of 255); 160 found two lines over busy photos the others missed
MIN_HEIGHT = 5  # px on the reduced copy: the detector itself finds little under ~8 px
MAX_ASPECT = 15.0
MIN_FILL = 0.15
GAP = 1.0
ALIGN = 0.35
HEIGHT_RATIO = 1.5
WORD_ASPECT = 2.5
WORD_FILL = 0.5
PAD = 1.0
MIN_CROP = 32  # px: the smallest crop side (context for the detector)
MAX_COMPONENTS = 1500  # letter-like components considered per threshold (the pairing is quadratic)

Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)


def _lines(grad: np.ndarray, level: int) -> np.ndarray:
    """Boxes ``(x, y, w, h)`` of the components that are part of a text-like line at gradient ``level``."""
    import cv2

    n, _labels, stats, _c = cv2.connectedComponentsWithStats((grad >= level).astype(np.uint8), connectivity=8)
    st = stats[1:].astype(np.float64)
    x, y, w, h, area = st[:, 0], st[:, 1], st[:, 2], st[:, 3], st[:, 4]
    ok = (h >= MIN_HEIGHT) & (h <= grad.shape[0] / 5) & (w <= MAX_ASPECT * h) & (area >= MIN_FILL * w * h)
    if ok.sum() > MAX_COMPONENTS:  # a noise field: keep the largest
        ok[np.argsort(-area * ok)[MAX_COMPONENTS:]] = False
    x, y, w, h, fill = x[ok], y[ok], w[ok], h[ok], (area / np.maximum(1.0, w * h))[ok] if ok.any() else x[ok]
    if len(x) == 0:
        return np.zeros((0, 4))
    keep = (w >= WORD_ASPECT * h) & (fill >= WORD_FILL)
    i, j = _pairs(x, y, w, h)
    if len(i):
        n = len(x)
        before, after = np.zeros(n, bool), np.zeros(n, bool)
        after[i] = True  # i has a letter after it (j)
        before[j] = True
        middle = before & after
        keep |= middle
        keep[i[middle[j]]] = True  # the letter before a middle one
        keep[j[middle[i]]] = True  # the letter after a middle one
        wide = (x[j] + w[j] - x[i]) >= WORD_ASPECT * np.maximum(h[i], h[j])
        keep[i[wide]] = True
        keep[j[wide]] = True
    return np.stack([x, y, w, h], axis=1)[keep]


def _pairs(x: np.ndarray, y: np.ndarray, w: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)``: component j follows component i on one line (see the module docstring).
    Only components whose centres are within ``ALIGN`` of the tallest height apart are compared (sorted by
    centre: linear in practice, not quadratic)."""
    cy = y + h / 2
    order = np.argsort(cy)
    cy_sorted = cy[order]
    reach = np.searchsorted(cy_sorted, cy_sorted + ALIGN * h[order], side="right")
    counts = reach - np.arange(len(order))
    a = np.repeat(np.arange(len(order)), counts)
    b = a + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
    i, j = order[a], order[b]
    keep = i != j
    i, j = np.concatenate([i[keep], j[keep]]), np.concatenate([j[keep], i[keep]])  # both directions
    gap = x[j] - (x[i] + w[i])
    ok = ((gap > -0.3 * h[i]) & (gap < GAP * h[i]) & (np.abs(cy[j] - cy[i]) < ALIGN * h[i])
          & (np.maximum(h[i], h[j]) < HEIGHT_RATIO * np.minimum(h[i], h[j])))
    return i[ok], j[ok]


def text_regions(grey: np.ndarray) -> list[Rect]:
    """Padded boxes (merged where they overlap) around the text-like lines of a grey picture (uint8, h x w);
    [] when nothing in it looks like text."""
    import cv2

    grad = cv2.morphologyEx(grey, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    found = [_lines(grad, level) for level in THRESHOLDS]
    boxes = np.concatenate(found) if found else np.zeros((0, 4))
    height, width = grey.shape
    rects: list[Rect] = []
    for x, y, w, h in boxes:
        px, py = max(PAD * h, (MIN_CROP - w) / 2), max(PAD * h, (MIN_CROP - h) / 2)
        rects.append((max(0, int(x - px)), max(0, int(y - py)), min(width, int(np.ceil(x + w + px))),
                      min(height, int(np.ceil(y + h + py)))))
    return merge_rects(rects)


def _area(r: Rect) -> int:
    return (r[2] - r[0]) * (r[3] - r[1])


def merge_rects(rects: list[Rect]) -> list[Rect]:
    """Overlapping rectangles replaced by their union where it is no larger than the two together (so one
    long line's letters become one crop, and two distant lines never one big box), until none merge."""
    out = sorted(rects)
    changed = True
    while changed and len(out) > 1:
        changed = False
        merged: list[Rect] = []
        for r in out:
            for k, m in enumerate(merged):
                union = (min(r[0], m[0]), min(r[1], m[1]), max(r[2], m[2]), max(r[3], m[3]))
                overlap = r[0] < m[2] and m[0] < r[2] and r[1] < m[3] and m[1] < r[3]
                if overlap and _area(union) <= _area(r) + _area(m):
                    merged[k] = union
                    changed = True
                    break
            else:
                merged.append(r)
        out = merged
    return out

