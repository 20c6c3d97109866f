"""A video's text detected ahead, on the video pass's idle decode thread (indexers/kinds/video/ahead.py), with
the real OCR weights: the same boxes as the reader's, and an index whose text, boxes and spans are those of
a run without it."""
from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_ocr import AGENDA, BG, CLOSING, REVENUE, slide

import mmsearch.indexers.kinds.video.ahead as ahead_module
import mmsearch.indexers.kinds.video.text as video_text
import mmsearch.indexers.spaces as run_spaces
from mmsearch import Engine
from mmsearch.encoders import load_image_text_encoder
from mmsearch.encoders.ocr import OcrReader, _bgr, as_rgb
from mmsearch.encoders.ocr_probe import one_thread_reader, text_probability
from mmsearch.kinds import Job, SegmentKind

import media_factory as mf

SAMPLES = Path(__file__).resolve().parents[3] / "sample_data" / "images"
OFF = dict(audio_model="off", speech_model="off")


@pytest.fixture(autouse=True)
def _ocr_on(monkeypatch):
    monkeypatch.delenv("MMSEARCH_OCR_MODEL", raising=False)


def _framed(lines) -> Image.Image:
    canvas = Image.new("RGB", (1600, 900), BG)
    canvas.paste(slide(lines), (160, 90))
    return canvas


def test_the_one_thread_copy_finds_the_readers_boxes_to_the_bit():
    reader = OcrReader("bundled")
    copy = one_thread_reader(reader)
    assert copy is not reader and copy.model_id == reader.model_id and copy.counters is not reader.counters
    assert copy._engine.text_det.infer.session.get_session_options().intra_op_num_threads == 1
    pictures = [slide(REVENUE), Image.open(SAMPLES / "cat.jpg").convert("RGB").resize((448, 336))]
    for picture in pictures:
        small = _bgr(reader._reduced(as_rgb(picture)))
        assert np.array_equal(text_probability(reader._engine.text_det, small),
                              text_probability(copy._engine.text_det, small))
        assert copy.detect(picture) == reader.detect(picture)
    assert reader.detect(pictures[0])                               # the slide does have boxes


class WaitsForTheDetector:
    """The toy encoder, each encoding held until the detection ahead has gone through every kept frame."""

    def __init__(self, done: threading.Event) -> None:
        self._toy = load_image_text_encoder("toy", "cpu")
        self.done = done

    def encode_prepared(self, batch):
        assert self.done.wait(60), "the detection ahead never finished"
        return self._toy.encode_prepared(batch)

    def __getattr__(self, name):
        return getattr(self._toy, name)


def _index(tmp_path: Path, name: str, video: Path, encoder=None) -> tuple[list, int]:
    with Engine(tmp_path / name, model="toy", **OFF) as e:
        if encoder is not None:
            e.use_encoder(encoder)
        report = e.index([video.parent])
        assert report.failed == 0 and report.jobs[Job.OCR]["done"] == 1
        media = e.context.catalog.media_by_path(str(video))
        rows = [s for s in e.context.catalog.segments_of_media(media.id) if s.kind == SegmentKind.OCR]
        details = e.context.catalog.details_of([s.id for s in rows])
        detects = e.context.models.loaded(Job.OCR).counters.detect_calls
    return sorted((s.start, s.end, s.keyframe, s.text, details[s.id]) for s in rows), detects


def test_text_detected_ahead_is_the_text_the_pass_would_read(tmp_path, monkeypatch, video_samplings):
    root = tmp_path / "media"
    root.mkdir()
    video = root / "slides.mp4"
    mf.make_video(video, [(_framed(AGENDA), 3.0), (_framed(REVENUE), 3.0), (_framed(CLOSING), 3.0)],
                  size=(480, 270), fps=5)

    real_inputs = run_spaces.RunModels.timed_inputs
    with monkeypatch.context() as m:  # the run as it was: no reader for the decode thread
        m.setattr(run_spaces.RunModels, "timed_inputs",
                  lambda self, *a, **k: dataclasses.replace(real_inputs(self, *a, **k), text_reader=None))
        without, detects_without = _index(tmp_path, "without", video)

    done = threading.Event()
    real_ahead = video_text.detect_ahead

    def ahead(frames, detections, reader):
        work = real_ahead(frames, detections, reader)

        def counted(stopped, cuts):
            work(stopped, cuts)
            done.set()
        return counted

    monkeypatch.setattr(video_text, "detect_ahead", ahead)
    monkeypatch.setattr(ahead_module, "MIN_SHARE", 0.0)  # every frame ahead, however busy this machine is
    with_ahead, detects_with = _index(tmp_path, "ahead", video, WaitsForTheDetector(done))
    assert done.is_set() and video_samplings == []
    assert [t for *_, t, _d in with_ahead] and with_ahead == without   # same text, boxes, spans, keyframes
    assert detects_with < detects_without                              # the pass's probes were answered ahead


EXIT_SCRIPT = """
import sys, threading
from mmsearch.encoders import load_image_text_encoder
from mmsearch.encoders.ocr import OcrReader
from mmsearch.indexers.kinds.video.frames import embed_frames
from mmsearch.indexers.kinds.video.text import keep_frames

toy, started = load_image_text_encoder("toy", "cpu"), threading.Event()

class Tower:  # the toy encoder, waiting until the idle work has begun
    def prepare_image(self, image):
        return toy.prepare_image(image)
    def encode_prepared(self, batch):
        started.wait(60)
        return toy.encode_prepared(batch)

reader, kept = OcrReader("bundled"), keep_frames()

def idle(stopped, cuts):  # every kept frame, whatever stopped() says: still detecting when the process exits
    started.set()
    kept.detect_ahead(reader)(lambda: False, cuts)

embed_frames(sys.argv[1], Tower(), 1.0, 8, keep=kept.keep, idle=idle)
print("encoded", len(kept.encoded()), flush=True)
"""


def test_the_process_exits_cleanly_while_the_decode_thread_still_detects(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", EXIT_SCRIPT, str(SAMPLES.parent / "video" / "launch.mp4")],
                          capture_output=True, text=True, timeout=300)
    assert "encoded 21" in done.stdout
    assert done.returncode == 0 and "terminate called" not in done.stderr, done.stderr[-2000:]
