"""Which frames of a video scene to read with OCR, and the timeline span each reading covers.

OCR on every sampled frame would cost a recogniser pass per second of video for text that rarely
changes. The rule reads a scene's text once per *stable text layout* instead:

1. Probe: the detector (no recognition) runs on the scene's sampled frames every ``probe_every``
   seconds (default 2 s; low-resolution frames are fine for it), and on the scene keyframe.
2. Locate: where two consecutive probes differ (:func:`layouts_differ`), the frames between them are
   bisected with more detector passes until the change is pinned between two adjacent sampled
   frames. Cost: one detector pass per probe plus about log2(frames between probes) per change.
   A change that comes and goes entirely between two probes (a slide shown for less than
   ``probe_every``) is missed.
3. Spans: each run of frames with one layout is a span; the boundary between two runs is the midpoint
   between the last frame of one and the first of the next (so its error is at most half the sampling
   interval: +-0.5 s at the default 1 s). The first span starts at the scene's start, the last ends at
   its end.
4. Read: one frame per span with text: the scene keyframe for the span that contains it (its boxes then
   match the scene's thumbnail), for the others the already-probed frame nearest the run's middle (away
   from transitions). With ``full_frame``, that frame is read at full resolution: by default with its own
   detector pass at the reader's bound (``redetect``), which finds lines too small for the probes (text
   under about 10 px at the probe's size is not detected); ``redetect=False`` scales the probe's boxes up
   instead (one detector pass less per reading; small lines are lost). A run whose probes see no text at
   all is not read (see docs/benchmarks.md, "OCR", for both costs).
   All readings of a scene go through one ``read_many`` call (one batched recogniser pass). Runs without
   boxes are not read and give no span.
5. Merge: adjacent spans whose texts are the same (:func:`same_text`, after normalising case and
   spaces) become one span, so a caption that moves (pan, zoom) is stored once.
   At most ``max_readings`` spans are read per scene (the longest runs); a run not read lengthens the
   span before it.

Layout comparison (:func:`layouts_differ`): two frames differ when their numbers of boxes differ, when
a box of one has no box in the other overlapping it (IoU >= ``MIN_IOU`` in coordinates relative to the
frame), or when, in a box's region, the two frames' pixels differ (grey patches 16 px high normalised to
zero mean and unit variance; :func:`patch_difference`, the largest mean absolute difference over a
two-character window, > ``PATCH_DIFF_MAX``): a slide that keeps its layout but changes one word is a
change; compression noise and fades are not.
"""
from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mmsearch.encoders.ocr import Box, OcrReader, TextBlock, as_rgb, blocks_text
from mmsearch.media.planes import BICUBIC, BILINEAR, Picture, grey_plane, resize_plane

PROBE_EVERY = 2.0  # seconds between detector probes inside a scene
MIN_IOU = 0.5
# patch_difference above which a box's text changed. Measured on 448 px frames, 40 px text: JPEG noise 0.03-0.09
# (quality 15: 0.088), one changed character 0.11-0.23 ("agenda"/"agendo", "12%"/"13%", "1 of 3"/"2 of 3"),
# a 1-2 px shift 0.5-0.8 (a false change: it costs one reading, merged away by same_text).
PATCH_DIFF_MAX = 0.1
PATCH_HEIGHT = 16
SAME_TEXT_RATIO = 0.9
MAX_READINGS = 12
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class TextSpan:
    """Text read in a scene: ``[start, end)`` on the video timeline, the frame it was read from, its blocks.

    The blocks' boxes are in the pixel coordinates of the picture that was read (the full frame when a
    ``full_frame`` callback was given, else the sampled frame).
    """

    start: float
    end: float
    frame_time: float
    blocks: tuple[TextBlock, ...]

    @property
    def text(self) -> str:
        return blocks_text(self.blocks)


@dataclass(frozen=True)
class FrameLayout:
    """The detector's output on one frame, with the frame (grey) kept for patch comparisons."""

    boxes: tuple[Box, ...]
    grey: np.ndarray  # float32 (h, w)

    @property
    def size(self) -> tuple[int, int]:
        return self.grey.shape[1], self.grey.shape[0]


def layout_of(boxes: Sequence[Box], image: Picture) -> FrameLayout:
    return FrameLayout(tuple(boxes), grey_plane(as_rgb(image)))


def _relative(box: Box, size: tuple[int, int]) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = box.bbox
    w, h = max(1, size[0]), max(1, size[1])
    return x0 / w, y0 / h, x1 / w, y1 / h


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _patch(grey: np.ndarray, rel: tuple[float, float, float, float]) -> np.ndarray | None:
    h, w = grey.shape
    x0, y0 = int(rel[0] * w), int(rel[1] * h)
    x1, y1 = max(x0 + 1, round(rel[2] * w)), max(y0 + 1, round(rel[3] * h))
    region = grey[y0:y1, x0:x1]
    if region.size < 4:
        return None
    out_h = PATCH_HEIGHT
    out_w = max(4, round(region.shape[1] * out_h / max(1, region.shape[0])))
    small = resize_plane(region, (out_w, out_h), BILINEAR)
    std = float(small.std())
    return (small - small.mean()) / std if std > 1e-3 else small - small.mean()


def layouts_differ(a: FrameLayout, b: FrameLayout) -> bool:
    """Whether the text on two frames changed (see the module docstring for the rule)."""
    if len(a.boxes) != len(b.boxes):
        return True
    rb = [_relative(box, b.size) for box in b.boxes]
    for box in a.boxes:
        ra = _relative(box, a.size)
        best = max(range(len(rb)), key=lambda k: _iou(ra, rb[k]))
        if _iou(ra, rb[best]) < MIN_IOU:
            return True
        union = (min(ra[0], rb[best][0]), min(ra[1], rb[best][1]), max(ra[2], rb[best][2]), max(ra[3], rb[best][3]))
        pa, pb = _patch(a.grey, union), _patch(b.grey, union)
        if pa is None or pb is None:
            continue
        if pa.shape != pb.shape:  # frames of different sizes: compare at a's patch size
            pb = resize_plane(pb, (pa.shape[1], pa.shape[0]), BICUBIC)
        if patch_difference(pa, pb) > PATCH_DIFF_MAX:
            return True
    return False


def patch_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Largest mean |a - b| over a window of PATCH_HEIGHT columns (about two characters) of two normalised patches.

    Local, so that one changed character in a long line counts as much as a changed line.
    """
    col = np.abs(a - b).mean(axis=0)
    k = min(PATCH_HEIGHT, col.size)
    return float(np.convolve(col, np.full(k, 1.0 / k), mode="valid").max())


def _normalised(text: str) -> str:
    return _SPACES.sub(" ", text).strip().lower()


def same_text(a: str, b: str) -> bool:
    """Texts equal up to case and spacing, or nearly (difflib ratio >= SAME_TEXT_RATIO: OCR noise)."""
    na, nb = _normalised(a), _normalised(b)
    if na == nb:
        return True
    return difflib.SequenceMatcher(None, na, nb, autojunk=False).ratio() >= SAME_TEXT_RATIO


def probe_indices(times: Sequence[float], probe_every: float) -> list[int]:
    """Indices of the frames probed first: the first frame, then every ``probe_every`` seconds, and the last."""
    if not times:
        return []
    out = [0]
    for i, t in enumerate(times):
        if t - times[out[-1]] >= probe_every - 1e-6:
            out.append(i)
    if out[-1] != len(times) - 1:
        out.append(len(times) - 1)
    return out


def change_points(n: int, differs: Callable[[int, int], bool], probes: Sequence[int]) -> list[int]:
    """Indices ``i`` (0 < i < n) where a new run starts: ``differs(i - 1, i)``, found by bisection between probes.

    ``differs(i, j)`` compares frames i and j (the caller memoises the detector passes behind it). Between
    two probes that do not differ, no change is looked for.
    """
    starts: list[int] = []

    def locate(lo: int, hi: int) -> None:  # differs(lo, hi) holds
        if hi - lo == 1:
            starts.append(hi)
            return
        mid = (lo + hi) // 2
        if differs(lo, mid):
            locate(lo, mid)
        if differs(mid, hi):
            locate(mid, hi)

    probes = sorted({p for p in probes if 0 <= p < n})
    for lo, hi in itertools.pairwise(probes):
        if differs(lo, hi):
            locate(lo, hi)
    return sorted(set(starts))


def runs_of(n: int, starts: Sequence[int]) -> list[tuple[int, int]]:
    """``[(first, last)]`` index ranges of the runs that ``starts`` cut ``range(n)`` into."""
    edges = [0, *[s for s in starts if 0 < s < n], n]
    return [(a, b - 1) for a, b in itertools.pairwise(edges) if b > a]


def read_scene_text(
    reader: OcrReader,
    frames: Sequence[tuple[float, Picture]],
    start: float,
    end: float,
    *,
    keyframe_time: float | None = None,
    full_frame: Callable[[float], Picture | None] | None = None,
    probe_every: float = PROBE_EVERY,
    max_readings: int = MAX_READINGS,
    redetect: bool = True,
) -> list[TextSpan]:
    """The text spans of one scene from its sampled ``frames`` (``(time, image)`` in time order).

    ``full_frame(time)``, when given, returns the frame at full resolution for reading (the detector's
    probes use ``frames``' images); None from it falls back to the sampled frame. With ``redetect`` (the
    default) the detector runs again on each full frame read, so lines too small for the probes are read
    too; without it the probe's boxes are scaled up (cheaper, small lines lost).
    """
    frames = sorted(frames, key=lambda f: f[0])
    n = len(frames)
    if n == 0:
        return []
    times = [float(t) for t, _ in frames]
    layouts: dict[int, FrameLayout] = {}

    def layout(i: int) -> FrameLayout:
        if i not in layouts:
            layouts[i] = layout_of(reader.detect(frames[i][1]), frames[i][1])
        return layouts[i]

    def differs(i: int, j: int) -> bool:
        return layouts_differ(layout(i), layout(j))

    key = None
    if keyframe_time is not None:
        key = min(range(n), key=lambda i: abs(times[i] - keyframe_time))
    probes = probe_indices(times, probe_every)
    if key is not None:
        probes = sorted(set(probes) | {key})
    runs = runs_of(n, change_points(n, differs, probes))

    def bound(k: int) -> tuple[float, float]:
        first, last = runs[k]
        lo = start if k == 0 else (times[runs[k - 1][1]] + times[first]) / 2
        hi = end if k == len(runs) - 1 else (times[last] + times[runs[k + 1][0]]) / 2
        return lo, hi

    def chosen(k: int) -> int:
        first, last = runs[k]
        if key is not None and first <= key <= last:
            return key
        middle = (first + last) / 2  # the run's frame nearest its middle, among those already detected
        seen = [i for i in range(first, last + 1) if i in layouts]
        return min(seen, key=lambda i: abs(i - middle)) if seen else (first + last) // 2

    # Runs with text (judged on a probed frame of the run), the longest kept up to max_readings.
    with_text = [k for k in range(len(runs)) if layout(chosen(k)).boxes]
    if len(with_text) > max_readings:
        with_text = sorted(sorted(with_text, key=lambda k: bound(k)[0] - bound(k)[1])[:max_readings])
    kept = set(with_text)

    images: list[Picture] = []
    boxes: list[Sequence[Box] | None] = []
    for k in with_text:
        i = chosen(k)
        sampled = frames[i][1]
        full = full_frame(times[i]) if full_frame is not None else None
        if full is None:
            images.append(sampled)
            boxes.append(layout(i).boxes)
        elif redetect:
            images.append(full)
            boxes.append(None)
        else:  # the probe's boxes, scaled: the recogniser crops the full frame, no second detector pass
            images.append(full)
            sx, sy = full.width / max(1, sampled.width), full.height / max(1, sampled.height)
            boxes.append([box.scaled(sx, sy) for box in layout(i).boxes])
    blocks = reader.read_many(images, boxes) if images else []

    spans: list[TextSpan] = []
    read = dict(zip(with_text, blocks))
    for k in range(len(runs)):
        lo, hi = bound(k)
        if k in kept:
            if not read[k]:
                continue  # boxes but nothing legible
            span = TextSpan(lo, hi, times[chosen(k)], tuple(read[k]))
            if spans and abs(spans[-1].end - lo) < 1e-9 and same_text(spans[-1].text, span.text):
                prev = spans[-1]
                keep_new = key is not None and runs[k][0] <= key <= runs[k][1]  # the keyframe's reading wins
                spans[-1] = TextSpan(prev.start, hi, *((span.frame_time, span.blocks) if keep_new else
                                                       (prev.frame_time, prev.blocks)))
            else:
                spans.append(span)
        elif spans and layout(chosen(k)).boxes and abs(spans[-1].end - lo) < 1e-9:
            spans[-1] = TextSpan(spans[-1].start, hi, spans[-1].frame_time, spans[-1].blocks)  # over the cap
    return [TextSpan(round(s.start, 3), round(s.end, 3), round(s.frame_time, 3), s.blocks) for s in spans]
