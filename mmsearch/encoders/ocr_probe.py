"""The detector's probe: does a picture the pixel test let through hold text where that test saw lines?

The pixel test (:mod:`mmsearch.encoders.text_gate`) lets through every picture with anything line-like
(railings, whiskers, a star field: most real photos); a whole detector pass over each of them costs
1.5-2x the image tower. The probe runs the same detector, at the same scale, only on crops around the
test's rectangles, and a picture goes on to the whole pass (whose boxes and text are what the index
keeps: nothing a user sees changes) only when a crop holds text. The rule:

1. Each rectangle of the pixel test grows by ``CONTEXT`` px on every side (the detector needs background
   around a line); overlapping ones merge (:func:`mmsearch.encoders.text_gate.merge_rects`).
2. Each crop is widened out to the detector's 32 px grid, both ends on multiples of 32 as the whole
   pass sees the picture: the detector rounds its input's sides to multiples of 32 by *resizing* (a 10 px
   line shrunk by a third on a 31 px-high crop is lost: 3 of 7 20-px lines on 1920x1080 photos were,
   before this step), and it pools by 32, so a crop off that grid gets other features than the whole
   pass (off the grid, a faint line's peak fell to 0.014 with 16 px of context; on it, 0.78 or more).
3. A crop holds text when any pixel of the detector's probability map on it reaches ``PROBE_LEVEL``.
   Not the detector's boxes: a crop lacks the whole picture's context, so a faint line that makes a box
   over the whole picture may fall under the box threshold on its crop (1 of 7 20-px lines did). 0.1 is a
   third of DBNet's own pixel threshold (0.3; no box can come from pixels under it). Measured on
   bench_ocr.py's sets and bench_ingest.py's JPEGs (2026-12-06, development data: the rule was chosen on
   them): crops of the 49 pictures with text peak at 0.78-1.0, crops of the 97 photos without text at
   most 1e-5.
4. Crops covering more than ``FULL_PASS_AREA`` of the picture, or a picture under ``MIN_PROBE_SIDE``:
   no probe, the whole pass directly (the probe would cost about as much).

The crops are probed one by one and the first that holds text ends the probe.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from mmsearch.encoders.text_gate import Rect, merge_rects

CONTEXT = 16  # px of the reduced copy around each rectangle (0: a crop's own border read as text, 0.47)
STRIDE = 32  # the detector's input sides are multiples of this
PROBE_LEVEL = 0.1  # text probability (0-1) a crop's pixel must reach (see the module docstring)
FULL_PASS_AREA = 0.6  # crops covering more of the picture than this: the whole pass, no probe
MIN_PROBE_SIDE = 2 * STRIDE


def _span(lo: int, hi: int, n: int) -> tuple[int, int]:
    """``[lo, hi)`` widened out to the detector's grid (both ends on multiples of STRIDE, as the whole pass
    sees the picture), the end pulled back inside ``[0, n)`` and the start then moved down to keep the
    length a multiple of STRIDE."""
    start, end = lo // STRIDE * STRIDE, min(-(-hi // STRIDE) * STRIDE, n)
    return max(0, end - -(-(end - start) // STRIDE) * STRIDE), end


def probe_crops(rects: list[Rect], size: tuple[int, int]) -> list[Rect] | None:
    """The crops the probe looks at for the pixel test's ``rects`` on a picture of ``size`` (w, h); None
    when the whole pass is due directly (rule 4)."""
    width, height = size
    if min(width, height) < MIN_PROBE_SIDE or not rects:
        return None
    grown = merge_rects([(max(0, x0 - CONTEXT), max(0, y0 - CONTEXT), min(width, x1 + CONTEXT),
                          min(height, y1 + CONTEXT)) for x0, y0, x1, y1 in rects])
    crops = []
    for x0, y0, x1, y1 in grown:
        (cx0, cx1), (cy0, cy1) = _span(x0, x1, width), _span(y0, y1, height)
        crops.append((cx0, cy0, cx1, cy1))
    if sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in crops) > FULL_PASS_AREA * width * height:
        return None
    return crops


def text_probability(detector: Any, bgr: np.ndarray) -> np.ndarray:
    """The detector's text probability map (h x w, 0-1) of a BGR array: rapidocr's own pre-processing
    and session, without its box post-processing."""
    prepared = detector.get_preprocess(max(bgr.shape[:2]))(np.ascontiguousarray(bgr))
    return detector.infer(prepared)[0][0, 0]


def holds_text(detector: Any, bgr: np.ndarray, crops: list[Rect]) -> tuple[bool, int]:
    """Whether any of ``crops`` of the BGR picture holds text (rule 3), and how many crops were looked at."""
    for looked, (x0, y0, x1, y1) in enumerate(crops, 1):
        if float(text_probability(detector, bgr[y0:y1, x0:x1]).max()) >= PROBE_LEVEL:
            return True, looked
    return False, len(crops)


def one_thread_reader(reader: Any) -> Any:
    """A copy of ``reader`` (an :class:`~mmsearch.encoders.ocr.OcrReader`) whose detector runs on one
    intra-op thread: the same model file, graph optimisation, pre- and post-processing, so the same boxes
    (the detector's probability maps are the same to the bit: tests/e2e/indexers/test_video_ocr_ahead.py),
    with counters of its own. For detecting beside another stream of work (the video pass's decode thread
    while the image tower encodes on the other core) without taking that stream's core. On CUDA, ``reader``
    itself (the GPU is not a core)."""
    if reader.device != "cpu":
        return reader
    import copy

    from onnxruntime import InferenceSession
    from rapidocr_onnxruntime.utils.infer_engine import OrtInferSession

    from mmsearch.encoders.ocr_sessions import no_spinning

    detector = copy.copy(reader._engine.text_det)
    original = detector.infer.session
    with no_spinning():  # rapidocr's own options, as the reader's sessions got them, on one thread
        opts = OrtInferSession._init_sess_opts({"intra_op_num_threads": 1, "inter_op_num_threads": 1})
    path = reader._engine_path("Det", reader._resolve(reader.spec))
    detector.infer = copy.copy(detector.infer)
    detector.infer.session = InferenceSession(path, sess_options=opts, providers=original.get_providers())
    engine = copy.copy(reader._engine)
    engine.text_det = detector
    clone = copy.copy(reader)
    clone._engine = engine
    clone.counters = type(reader.counters)()
    return clone
