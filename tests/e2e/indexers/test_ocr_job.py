"""The ``ocr`` job: text read in images and video scenes is stored, indexed and found by the default search.

Real OCR weights (bundled in rapidocr-onnxruntime), the toy image encoder, generated slides with known text.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import text
from test_ocr import AGENDA, BG, CLOSING, REVENUE, slide, words

from mmsearch import Engine
from mmsearch.kinds import Job, SegmentKind
from mmsearch.query.hit_data import describe_hits

import media_factory as mf

SAMPLES = Path(__file__).resolve().parents[3] / "sample_data" / "images"
OFF = dict(audio_model="off", speech_model="off")


@pytest.fixture(autouse=True)
def _ocr_on(monkeypatch):
    """conftest turns OCR off for the other tests; these are about it: the default (bundled) again."""
    monkeypatch.delenv("MMSEARCH_OCR_MODEL", raising=False)


def _ocr_segments(e: Engine, path: Path):
    media = e.context.catalog.media_by_path(str(path))
    assert media is not None
    return [s for s in e.context.catalog.segments_of_media(media.id) if s.kind == SegmentKind.OCR]


def test_a_rendered_slide_is_found_by_its_words_and_a_photo_costs_only_the_detector(tmp_path):
    root = tmp_path / "media"
    root.mkdir()
    slide(REVENUE, size=(640, 360)).save(root / "slide.png")
    shutil.copy(SAMPLES / "cat.jpg", root / "cat.jpg")
    with Engine(tmp_path / "lib", model="toy", **OFF) as e:
        report = e.index([root])
        assert report.failed == 0
        assert report.jobs[Job.OCR]["done"] == 2
        hits = e.search("quarterly revenue grew", k=3)
        top = hits[0]
        assert top.path == str(root / "slide.png") and "ocr" in top.extra["signals"]
        assert {"quarterly", "revenue", "grew"} <= words(top.text or "")
        data = describe_hits(e.context, hits)[0]
        assert data.boxes and data.boxes_size == [640, 360]
        x0 = min(p[0] for p in data.boxes[0])
        assert 0 <= x0 < 640 / 2  # the first line starts on the left, where it was drawn
        # the text is in the sentence space too (found by meaning) and its detail keeps boxes + confidence
        [seg] = _ocr_segments(e, root / "slide.png")
        assert seg.space_id == e.context.catalog.space("text").id
        assert _ocr_segments(e, root / "cat.jpg") == []  # no text: no segment
        reader = e.context.models.loaded(Job.OCR)
        # the slide: the gate's crop probe and one whole pass; the photo: at most a crop probe, no recognition
        assert reader.counters.detect_calls <= 3 and reader.counters.recognize_calls == 1
        assert list(report.passes) == ["main", "ocr"] and report.passes["ocr"]["files"] == 2


def test_a_picture_whose_line_is_read_with_its_words_run_together_is_found_by_a_three_word_quote(tmp_path):
    """The recogniser reads a line drawn without spaces as one token; its words are indexed read apart
    (mmsearch/analysis/run_together.py), so a quote of them finds the picture as words ("fulltext"), and
    the text shown is what was read."""
    root = tmp_path / "media"
    root.mkdir()
    slide([("Quietharbourlights", 72)], size=(640, 360)).save(root / "photo_1.png")
    slide(REVENUE, size=(640, 360)).save(root / "photo_2.png")  # names hold no query word
    with Engine(tmp_path / "lib", model="toy", **OFF) as e:
        assert e.index([root]).failed == 0
        [seg] = _ocr_segments(e, root / "photo_1.png")
        assert " " not in seg.text.strip() and "quietharbourlights" in seg.text.lower()  # read run together
        top = e.search("quiet harbour lights", k=2)[0]
        assert top.path == str(root / "photo_1.png") and {"ocr", "fulltext"} <= set(top.extra["signals"])
        assert top.text == seg.text  # shown as read


def test_a_videos_slide_text_lands_on_its_scene(tmp_path, video_samplings):
    sampled_again = video_samplings

    def framed(lines):  # the factory shows the middle 80 % of a picture: pad the slide so all of it shows
        canvas = Image.new("RGB", (1600, 900), BG)
        canvas.paste(slide(lines), (160, 90))
        return canvas

    root = tmp_path / "media"
    root.mkdir()
    path = root / "slides.mp4"
    cuts = mf.make_video(path, [(framed(AGENDA), 3.0), (framed(REVENUE), 3.0), (framed(CLOSING), 3.0)],
                         size=(480, 270), fps=5, motion=False)
    with Engine(tmp_path / "lib", model="toy", **OFF) as e:
        report = e.index([root])
        assert report.failed == 0 and report.jobs[Job.OCR]["done"] == 1
        assert sampled_again == []  # the text pass read the frames the first pass sampled (kept for it)
        spans = {s.text: s for s in _ocr_segments(e, path)}
        revenue = next(s for t, s in spans.items() if {"quarterly", "revenue"} <= words(t))
        assert abs(revenue.start - cuts[0]) <= 0.5 and abs(revenue.end - cuts[1]) <= 0.5
        assert revenue.start <= revenue.keyframe < revenue.end
        hit = e.search("quarterly revenue grew", k=1)[0]
        assert hit.path == str(path) and "ocr" in hit.extra["signals"]
        assert hit.start is not None and abs(hit.start - cuts[0]) <= 0.5


def test_an_unreadable_picture_is_recorded_and_the_run_completes(tmp_path, monkeypatch):
    root = tmp_path / "media"
    root.mkdir()
    slide(REVENUE, size=(640, 360)).save(root / "slide.png")
    whole = (root / "slide.png").read_bytes()
    (root / "broken.png").write_bytes(whole[: len(whole) // 3])  # truncated: no pixels to read
    slide(CLOSING, size=(640, 360)).save(root / "ocr_breaks.png")
    from mmsearch.encoders import ocr

    real = ocr.OcrReader.read

    def read(self, image, boxes=None, **how):  # the recogniser breaks on one picture only
        if image.size == (640, 360) and image.getpixel((0, 0)) == BG and len(self.detect(image)) == 1:
            raise RuntimeError("onnxruntime: invalid input")
        return real(self, image, boxes, **how)

    monkeypatch.setattr(ocr.OcrReader, "read", read)
    with Engine(tmp_path / "lib", model="toy", **OFF) as e:
        report = e.index([root])
        assert report.failed == 1  # the truncated file, recorded; the others indexed
        assert any(err["path"] == str(root / "broken.png") for err in e.errors())
        media = e.context.catalog.media_by_path(str(root / "ocr_breaks.png"))
        marks = e.context.catalog.jobs_of(media.id)
        assert marks[Job.OCR].state == "failed" and "invalid input" in (marks[Job.OCR].error or "")
        assert marks["clip"].state == "done"
        assert e.search("quarterly revenue grew", k=1)[0].path == str(root / "slide.png")


def test_ocr_off_leaves_the_job_pending_and_a_later_run_backfills_it(tmp_path):
    root = tmp_path / "media"
    root.mkdir()
    slide(REVENUE, size=(640, 360)).save(root / "slide.png")
    lib = tmp_path / "lib"
    with Engine(lib, model="toy", ocr_model="off", **OFF) as e:
        report = e.index([root])
        assert report.jobs[Job.OCR] == {"done": 0, "pending": 1, "failed": 0}
        assert not [w for w in report.warnings if w.startswith("ocr pending")]  # turned off: the user's choice
        assert _ocr_segments(e, root / "slide.png") == []
    with Engine(lib, model="toy", **OFF) as e:
        report = e.index()
        assert report.backfilled == 1 and report.jobs[Job.OCR]["done"] == 1
        [seg] = _ocr_segments(e, root / "slide.png")
        with e.context.catalog.session() as s:
            detail = json.loads(s.execute(text("SELECT detail FROM segment WHERE id = :i"), {"i": seg.id}).scalar())
        assert detail["size"] == [640, 360] and all(0.5 <= b["confidence"] <= 1 for b in detail["blocks"])
        assert e.search("quarterly revenue grew", k=1)[0].path == str(root / "slide.png")
        assert len(e.context.catalog.segments_of_media(seg.media_id)) == 2  # the image and its text, once each


def _cli(lib: Path, *args: str, kill_at: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMSEARCH_")}  # OCR on: the default
    env.update(MMSEARCH_AUDIO_MODEL="off", MMSEARCH_SPEECH_MODEL="off", MMSEARCH_DEVICE="cpu")
    if kill_at:
        env["MMSEARCH_TEST_KILL_AT"] = kill_at
    return subprocess.run([sys.executable, "-m", "mmsearch.cli", *args, "--library", str(lib)],
                          env=env, capture_output=True, text=True, timeout=300)


def test_text_is_read_in_its_own_pass_after_the_pictures_and_a_killed_pass_resumes(tmp_path):
    root = tmp_path / "media"
    root.mkdir()
    slides = {"agenda.png": AGENDA, "revenue.png": REVENUE, "closing.png": CLOSING}
    for name, lines in slides.items():
        slide(lines, size=(640, 360)).save(root / name)
    shutil.copy(SAMPLES / "cat.jpg", root / "cat.jpg")
    lib = tmp_path / "lib"
    # killed (SIGKILL) in the OCR pass, after the first file's text is read and before it is written
    r = _cli(lib, "index", str(root), "--model", "toy", kill_at="ocr:2")
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    with Engine(lib, model="toy", ocr_model="off", **OFF) as e:
        counts = e.context.catalog.job_counts()
        assert counts["clip"]["done"] == 4  # every picture was committed and is searchable before any text
        assert counts[Job.OCR]["done"] == 1 and counts[Job.OCR]["pending"] == 3
        assert len(e.search("a photo", k=10)) == 4
    r = _cli(lib, "index", "--model", "toy", "--json")  # the next run: nothing re-indexed, the text read
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(r.stdout)
    assert report["unchanged"] == 4 and report["added"] == 0
    assert [*report["passes"]] == ["main", "ocr"] and report["passes"]["ocr"]["files"] == 3
    assert all(p["seconds"] >= 0 for p in report["passes"].values())
    assert report["passes"]["ocr"]["cpu_seconds"] > 0  # three pictures' text read: the process's CPU time
    assert report["jobs"][Job.OCR] == {"done": 4, "pending": 0, "failed": 0}
    with Engine(lib, model="toy", **OFF) as e:
        for name, lines in slides.items():
            assert e.search(lines[0][0], k=1)[0].path == str(root / name)
            assert len(_ocr_segments(e, root / name)) == 1
        assert _ocr_segments(e, root / "cat.jpg") == []
