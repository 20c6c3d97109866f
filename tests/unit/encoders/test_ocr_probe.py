"""The crops the OCR detector's probe looks at (mmsearch/encoders/ocr_probe.py): geometry only, no weights."""
from __future__ import annotations

from mmsearch.encoders.ocr_probe import CONTEXT, FULL_PASS_AREA, STRIDE, probe_crops


def test_a_crop_holds_its_line_with_context_on_the_detectors_grid():
    (x0, y0, x1, y1), = probe_crops([(300, 200, 371, 217)], (960, 540))
    assert all(v % STRIDE == 0 for v in (x0, y0, x1, y1))
    assert x0 <= 300 - CONTEXT and y0 <= 200 - CONTEXT and x1 >= 371 + CONTEXT and y1 >= 217 + CONTEXT
    assert x0 > 300 - CONTEXT - STRIDE and x1 < 371 + CONTEXT + STRIDE  # widened by less than a stride each side


def test_a_crop_at_the_pictures_end_ends_there_and_keeps_whole_strides():
    (x0, y0, x1, y1), = probe_crops([(0, 520, 45, 540)], (960, 540))  # 540 is not a multiple of 32
    assert x0 == 0 and y1 == 540 and (x1 - x0) % STRIDE == 0 and (y1 - y0) % STRIDE == 0 and y0 <= 520 - CONTEXT


def test_overlapping_crops_merge_and_distant_ones_stay_apart():
    crops = probe_crops([(100, 100, 140, 115), (150, 100, 190, 115), (700, 400, 740, 415)], (960, 540))
    assert crops is not None and len(crops) == 2


def test_crops_over_most_of_the_picture_or_a_tiny_picture_mean_the_whole_pass():
    big = [(0, 0, 600, 300), (0, 300, 600, 540)]
    assert 600 * 540 > FULL_PASS_AREA * 960 * 540 and probe_crops(big, (960, 540)) is None
    assert probe_crops([(2, 2, 20, 12)], (60, 40)) is None
