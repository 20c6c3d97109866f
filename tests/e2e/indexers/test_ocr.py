"""OCR: the PP-OCRv4 reader (mmsearch/encoders/ocr.py) and the video keyframe rule (mmsearch/analysis/ocr_keyframes.py).

Real weights (bundled in rapidocr-onnxruntime), generated pictures with known text, real photos from
sample_data/ as backgrounds without text.
"""
from __future__ import annotations

import builtins
import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from mmsearch.analysis.ocr_keyframes import (
    change_points,
    layout_of,
    layouts_differ,
    probe_indices,
    read_scene_text,
    runs_of,
)
from mmsearch.config import load_settings
from mmsearch.encoders.ocr import DET_MAX_SIDE, Box, OcrReader, blocks_text
from mmsearch.errors import MediaError, ModelUnavailableError
from mmsearch.media.video import FrameSampler, frame_at

import media_factory as mf

SAMPLES = Path(__file__).resolve().parents[3] / "sample_data" / "images"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
BG = (245, 245, 240)
INK = (20, 20, 60)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:  # no DejaVu on this machine: Pillow's own scalable font
        return ImageFont.load_default(size)


def slide(lines: list[tuple[str, int]], size=(1280, 720), rotate: float = 0.0) -> Image.Image:
    """A plain slide: each (text, font px at 1280 wide) on its own line."""
    w, h = size
    im = Image.new("RGB", size, BG)
    draw = ImageDraw.Draw(im)
    for i, (text, px) in enumerate(lines):
        draw.text((int(80 * w / 1280), int((120 + i * 140) * h / 720)), text, font=_font(int(px * w / 1280)), fill=INK)
    return im.rotate(rotate, resample=Image.Resampling.BICUBIC, fillcolor=BG) if rotate else im


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


@pytest.fixture(scope="module")
def reader() -> OcrReader:
    return OcrReader("bundled", cpu_threads=2)


# ------------------------------------------------------------------------------------------ the reader

def test_rendered_slide_is_read_with_boxes_where_the_text_is(reader):
    im = slide([("Quarterly revenue grew 12%", 64), ("Margins improved in Europe", 40)], size=(800, 450), rotate=3)
    blocks = reader.read(im)
    assert {"quarterly", "revenue", "grew", "12"} <= words(blocks_text(blocks))
    assert {"margins", "improved", "europe"} <= words(blocks_text(blocks))
    top = next(b for b in blocks if "revenue" in b.text.lower())
    x0, y0, x1, y1 = top.box.bbox
    assert 20 < x0 < 120 and 40 < y0 < 140 and x1 < 800 and y1 < 200  # text drawn at (50, 75), ~40 px high
    assert 0.5 <= top.confidence <= 1.0
    assert reader.model_id.startswith("rapidocr-onnxruntime==") and "det" in reader.model_id and "rec" in reader.model_id


def test_photo_without_text_costs_only_the_detector(reader):
    photo = Image.open(SAMPLES / "cat.jpg")
    before = (reader.counters.detect_calls, reader.counters.recognize_calls)
    assert reader.read(photo) == []
    assert reader.counters.detect_calls == before[0] + 1
    assert reader.counters.recognize_calls == before[1]


@pytest.mark.slow
def test_huge_image_is_detected_at_the_bound_and_boxes_map_back(reader, monkeypatch):
    big = Image.new("RGB", (8000, 6000), BG)
    ImageDraw.Draw(big).text((1000, 2500), "Annual report 2024", font=_font(400), fill=INK)
    seen: list[tuple[int, ...]] = []
    det = reader._engine.text_det
    monkeypatch.setattr(reader._engine, "text_det", lambda arr: (seen.append(arr.shape), det(arr))[1])
    blocks = reader.read(big)
    assert seen and max(seen[0][:2]) <= DET_MAX_SIDE
    assert {"annual", "report", "2024"} <= words(blocks_text(blocks))
    x0, y0, x1, y1 = blocks[0].box.bbox
    assert 900 < x0 < 1200 and 2450 < y0 < 2700 and 4000 < x1 < 5200 and 2800 < y1 < 3100


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "P", "1", "I;16"])
def test_any_mode_is_read(reader, mode):
    im = slide([("Weekly status update", 80)], size=(800, 450))
    assert {"weekly", "status", "update"} <= words(blocks_text(reader.read(im.convert(mode))))


@pytest.mark.parametrize("size", [(1, 1), (0, 0), (3, 500), (2000, 4), (31, 31)])
def test_tiny_and_degenerate_pictures_are_not_fatal(reader, size):
    assert reader.read(Image.new("RGB", size, (255, 255, 255))) == []


def test_transparent_picture_is_read_on_white(reader):
    im = Image.new("RGBA", (800, 450), (0, 0, 0, 0))
    ImageDraw.Draw(im).text((60, 150), "Transparent label", font=_font(64), fill=(0, 0, 0, 255))
    assert {"transparent", "label"} <= words(blocks_text(reader.read(im)))


def test_corrupt_picture_is_one_media_error(reader):
    buf = io.BytesIO()
    slide([("Cut short", 64)]).save(buf, "JPEG")
    im = Image.open(io.BytesIO(buf.getvalue()[: len(buf.getvalue()) // 3]))  # header fine, pixels cut
    with pytest.raises(MediaError) as err:
        reader.read(im)
    assert err.value.stage == "ocr" and "\n" not in str(err.value)


def test_read_many_recognises_all_pictures_in_one_batch_and_keeps_order(reader):
    a = slide([("First slide title", 64)], size=(800, 450))
    b = Image.open(SAMPLES / "flower.jpg")
    c = slide([("Third slide words", 64)], size=(800, 450))
    before = reader.counters.recognize_calls
    out = reader.read_many([a, b, c])
    assert reader.counters.recognize_calls == before + 1
    assert {"first", "slide", "title"} <= words(blocks_text(out[0]))
    assert out[1] == []
    assert {"third", "slide", "words"} <= words(blocks_text(out[2]))


def test_given_boxes_skip_the_detector(reader):
    im = slide([("Reuse detected boxes", 64)], size=(800, 450))
    boxes = reader.detect(im)
    assert boxes and all(isinstance(b, Box) for b in boxes)
    before = reader.counters.detect_calls
    assert {"reuse", "detected", "boxes"} <= words(blocks_text(reader.read(im, boxes)))
    assert reader.counters.detect_calls == before


def test_low_confidence_blocks_are_dropped(reader, monkeypatch):
    im = slide([("Quarterly revenue grew 12%", 64)], size=(800, 450))
    boxes = reader.detect(im)
    assert reader.read(im, boxes)
    monkeypatch.setattr(reader, "min_confidence", 1.01)  # nothing is that sure
    assert reader.read(im, boxes) == []


# ------------------------------------------------------------------------------------------ the gate

def _small_print(text: str = "Small print under the flower", at: tuple[int, int] = (160, 940)) -> Image.Image:
    """A 20 px line on a 1920x1080 photo: ~10 px on the detector's 960 px copy, about the smallest it finds."""
    photo = Image.open(SAMPLES / "flower.jpg").convert("RGB").resize((1920, 1080))
    ImageDraw.Draw(photo).text(at, text, font=_font(20), fill=(255, 255, 255))
    return photo


@pytest.mark.parametrize("picture", ["slide", "small print", "small print in the corner"])
def test_the_gated_read_gives_the_same_boxes_and_text_as_the_whole_pass(reader, picture):
    # the corner: the copy's 540 rows are no whole number of the detector's 32 px, so the probe's last crop ends there
    im = {"slide": lambda: slide(REVENUE, size=(1280, 720), rotate=2), "small print": _small_print,
          "small print in the corner": lambda: _small_print("Small print in the corner", (1560, 1052))}[picture]()
    ungated = reader.read(im)
    before = (reader.counters.gate_rejected, reader.counters.probe_rejected)
    gated = reader.read(im, gated=True)
    assert (reader.counters.gate_rejected, reader.counters.probe_rejected) == before  # the gate let it through
    assert gated and [b.to_json() for b in gated] == [b.to_json() for b in ungated]
    expected = {"slide": {"quarterly", "revenue", "margins"}, "small print": {"small", "print", "flower"},
                "small print in the corner": {"small", "print"}}[picture]
    assert expected <= words(blocks_text(gated))


def test_a_picture_with_nothing_text_like_costs_no_detector_pass(reader):
    soft = Image.open(SAMPLES / "flower.jpg").filter(ImageFilter.GaussianBlur(6))  # no sharp strokes anywhere
    before = (reader.counters.detect_calls, reader.counters.gate_rejected)
    assert reader.read(soft, gated=True) == []
    assert reader.counters.detect_calls == before[0] and reader.counters.gate_rejected == before[1] + 1


@pytest.mark.parametrize("name", ["cat.jpg", "temple.jpg", "coffee.jpg", "rocket.jpg"])
def test_a_photo_without_text_costs_no_whole_detector_pass_and_reads_nothing(reader, name):
    photo = Image.open(SAMPLES / name)
    before = vars(reader.counters).copy()
    assert reader.read(photo, gated=True) == []
    after = vars(reader.counters)
    assert after["detect_calls"] == before["detect_calls"]  # the pixel test or the crops' probe stopped it
    assert (after["gate_rejected"] - before["gate_rejected"]) + (after["probe_rejected"] - before["probe_rejected"]) == 1


def test_the_probe_looks_at_text_and_not_at_the_rest_of_the_picture(reader):
    from mmsearch.encoders.ocr import _bgr
    from mmsearch.encoders.ocr_probe import holds_text

    photo = Image.open(SAMPLES / "flower.jpg").convert("RGB").resize((960, 540))
    ImageDraw.Draw(photo).text((100, 400), "Small print under the flower", font=_font(12), fill=(255, 255, 255))
    bgr = _bgr(photo)
    assert holds_text(reader._engine.text_det, bgr, [(64, 352, 448, 480)]) == (True, 1)  # the line's crop
    assert holds_text(reader._engine.text_det, bgr, [(512, 0, 960, 192), (64, 352, 448, 480)]) == (True, 2)
    assert holds_text(reader._engine.text_det, bgr, [(512, 0, 960, 192)]) == (False, 1)  # petals only


def test_text_regions_are_merged_only_where_that_adds_no_area():
    from mmsearch.encoders.text_gate import merge_rects

    letters = [(0, 0, 30, 20), (20, 0, 50, 20), (40, 0, 70, 20)]  # one line's letters, overlapping
    assert merge_rects(letters) == [(0, 0, 70, 20)]
    apart = [(0, 0, 100, 20), (90, 10, 100, 300)]  # touching at a corner: the union would be mostly empty
    assert sorted(merge_rects(apart)) == sorted(apart)


# ----------------------------------------------------------------------------- off and unavailable

def test_cuda_without_an_onnxruntime_gpu_build_runs_on_the_cpu():
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("environment: this onnxruntime has CUDA (the test is about a machine without it)")
    assert OcrReader("bundled", device="cuda").device == "cpu"


def test_off_is_a_clear_one_line_error():
    with pytest.raises(ModelUnavailableError) as err:
        OcrReader("off")
    assert "off" in str(err.value) and "\n" not in str(err.value)


def test_missing_package_is_a_clear_one_line_error(monkeypatch):
    real_import = builtins.__import__

    def no_rapidocr(name, *args, **kwargs):
        if name.startswith("rapidocr_onnxruntime"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_rapidocr)
    with pytest.raises(ModelUnavailableError) as err:
        OcrReader("bundled")
    assert "pip install rapidocr-onnxruntime" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("spec", ["no-such-ocr-model", "__folder__"])
def test_unusable_spec_is_a_clear_one_line_error(spec, tmp_path):
    if spec == "__folder__":
        (tmp_path / "readme.txt").write_text("no models here")
        spec = str(tmp_path)
    with pytest.raises(ModelUnavailableError) as err:
        OcrReader(spec)
    assert "MMSEARCH_OCR_MODEL" in str(err.value) and "\n" not in str(err.value)


def test_setting_defaults_to_bundled_and_can_be_switched_off():
    assert load_settings({}).ocr_model == "bundled"
    assert load_settings({"MMSEARCH_OCR_MODEL": "off"}).ocr_model == "off"


# --------------------------------------------------------------------------------- the keyframe rule

AGENDA = [("Project kickoff agenda", 64), ("Budget review and staffing", 40)]
REVENUE = [("Quarterly revenue grew 12%", 64), ("Margins improved in Europe", 40)]
CLOSING = [("Questions and next steps", 64)]


def test_bisection_finds_every_change_between_probes_with_few_comparisons():
    labels = [0] * 7 + [1] * 5 + [2] * 3 + [3] * 45  # runs start at 7, 12, 15; frames 1 s apart
    looked: set[int] = set()

    def differs(i: int, j: int) -> bool:
        looked.update((i, j))
        return labels[i] != labels[j]

    probes = probe_indices([float(t) for t in range(len(labels))], 4.0)
    assert probes == [*range(0, 60, 4), 59]
    starts = change_points(len(labels), differs, probes)
    assert starts == [7, 12, 15]
    assert runs_of(len(labels), starts) == [(0, 6), (7, 11), (12, 14), (15, 59)]
    assert len(looked) < len(labels) // 2  # frames the detector would have seen


def _schedule_frame(schedule, t: float, size) -> Image.Image:
    for start, end, lines in schedule:
        if start <= t < end:
            return slide(lines, size) if lines else Image.new("RGB", size, BG)
    raise AssertionError(t)


@pytest.mark.slow
def test_slide_changes_inside_one_scene_give_readings_at_their_times(reader):
    # one long static "scene" of 20 s, frames every second; slides change at 7.3 s, go blank at 12.6 s, return at 15
    schedule = [(0.0, 7.3, AGENDA), (7.3, 12.6, REVENUE), (12.6, 15.0, None), (15.0, 20.0, CLOSING)]
    frames = [(float(t), _schedule_frame(schedule, t, (448, 252))) for t in range(20)]
    before = reader.counters.detect_calls
    spans = read_scene_text(reader, frames, 0.0, 20.0, keyframe_time=3.0,
                            full_frame=lambda t: _schedule_frame(schedule, t, (1280, 720)))
    assert len(spans) == 3
    expected = [(0.0, 7.3), (7.3, 12.6), (15.0, 20.0)]
    for span, (start, end) in zip(spans, expected):
        assert abs(span.start - start) <= 0.5 and abs(span.end - end) <= 0.5
    assert spans[0].frame_time == 3.0  # the scene keyframe is the one read for its span
    for span, lines in zip(spans, [AGENDA, REVENUE, CLOSING]):
        assert words(" ".join(t for t, _ in lines)) <= words(span.text)
    assert reader.counters.detect_calls - before < len(frames)  # probed, not every frame


def test_same_layout_other_words_is_a_change_and_a_static_slide_is_one_reading(reader):
    one = slide([("Slide 1 of 3", 64)], (448, 252))
    two = slide([("Slide 2 of 3", 64)], (448, 252))
    la, lb = layout_of(reader.detect(one), one), layout_of(reader.detect(two), two)
    assert len(la.boxes) == len(lb.boxes) == 1
    assert layouts_differ(la, lb)
    noisy = Image.fromarray(np.clip(np.asarray(one, dtype=np.int16) + np.random.default_rng(0).integers(
        -6, 7, (252, 448, 3)), 0, 255).astype(np.uint8))
    assert not layouts_differ(la, layout_of(reader.detect(noisy), noisy))

    frames = [(float(t), one) for t in range(12)]
    spans = read_scene_text(reader, frames, 0.0, 12.0)
    assert len(spans) == 1 and spans[0].start == 0.0 and spans[0].end == 12.0
    assert {"slide", "1", "of", "3"} <= words(spans[0].text)


def test_scene_without_text_gives_nothing_and_no_recognition(reader):
    photo = Image.open(SAMPLES / "temple.jpg").convert("RGB").resize((448, 299))
    before = reader.counters.recognize_calls
    assert read_scene_text(reader, [(float(t), photo) for t in range(6)], 0.0, 6.0) == []
    assert read_scene_text(reader, [], 0.0, 6.0) == []
    assert reader.counters.recognize_calls == before


@pytest.mark.slow
def test_slide_video_text_lands_on_its_scene(reader, tmp_path):
    # a real H.264 file: 4 s agenda, 4 s revenue, 4 s closing slide; sampled as the pipeline does
    def framed(lines):  # the factory shows the middle 80 % of a picture: pad the slide so all of it shows
        canvas = Image.new("RGB", (1600, 900), BG)
        canvas.paste(slide(lines), (160, 90))
        return canvas

    path = tmp_path / "slides.mp4"
    cuts = mf.make_video(path, [(framed(AGENDA), 4.0), (framed(REVENUE), 4.0), (framed(CLOSING), 4.0)],
                         size=(640, 360), fps=10, motion=False)
    with FrameSampler(path, interval=1.0, max_side=448) as sampler:
        frames = [(f.time, f.image) for f in sampler]
    spans = read_scene_text(reader, frames, 0.0, 12.0, full_frame=lambda t: frame_at(path, t))
    assert len(spans) == 3
    for span, start, end, lines in zip(spans, [0.0, *cuts], [*cuts, 12.0], [AGENDA, REVENUE, CLOSING]):
        assert abs(span.start - start) <= 0.5 and abs(span.end - end) <= 0.5
        assert words(lines[0][0]) <= words(span.text)
