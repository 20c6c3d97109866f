"""Text detection ahead of the OCR pass (indexers/kinds/video/ahead.py): run on the video pass's decode
thread once the decode is done, never waited for, and giving the OCR pass the very boxes it would find."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import mmsearch.indexers.kinds.video.ahead as ahead_module
from mmsearch.catalog import NewSegment
from mmsearch.encoders import load_image_text_encoder
from mmsearch.encoders.ocr import Box, TextBlock
from mmsearch.errors import MediaError
from mmsearch.indexers.kinds.video.ahead import Detections, likely_first
from mmsearch.indexers.kinds.video.frames import embed_frames
from mmsearch.indexers.kinds.video.text import KeptFrames, keep_frames, scene_text_segments

import media_factory as mf

TOY = load_image_text_encoder("toy", "cpu")


@pytest.fixture(autouse=True)
def _any_share(monkeypatch):
    """The work ahead goes on however busy this machine is (the share rule has its own test)."""
    monkeypatch.setattr(ahead_module, "MIN_SHARE", 0.0)
DARK, LIGHT, GREY = (20, 20, 40), (235, 235, 225), (128, 128, 128)


class FakeReader:
    """A detector whose boxes follow the picture (one box over the frame when it is light, its width
    coding the mean brightness) and a recogniser that reads that code: deterministic, no weights."""

    device = "fake"  # not an onnxruntime CPU reader: one_thread_reader hands it back as it is

    def __init__(self) -> None:
        self.threads: list[str] = []

    def detect(self, image) -> list[Box]:
        self.threads.append(threading.current_thread().name)
        mean = float(np.asarray(image.convert("L")).mean())
        if mean < 100:
            return []
        w = 10 + int(mean) % 50
        return [Box(((2.0, 2.0), (2.0 + w, 2.0), (2.0 + w, 12.0), (2.0, 12.0)))]

    def read_many(self, images, boxes):
        return [[TextBlock(f"light {int(b.width)}", b, 0.9) for b in bxs] for bxs in boxes]


def no_full_frame(t: float):
    raise MediaError("the sampled frame is read")


def _scenes(*bounds: tuple[float, float]) -> list[NewSegment]:
    return [NewSegment(kind="scene", start=a, end=b, keyframe=(a + b) / 2) for a, b in bounds]


def _kept(path: str) -> KeptFrames:
    kept = keep_frames()
    embed_frames(path, TOY, 1.0, 8, keep=kept.keep)
    return kept


@pytest.fixture
def two_shots(tmp_path):
    path = tmp_path / "two.mp4"
    mf.make_video(path, [(DARK, 3.0), (LIGHT, 3.0)], size=(160, 90))
    return str(path)


class SlowTower:
    """The toy encoder, whose encoding waits until the decode thread's idle work has begun."""

    def __init__(self, started: threading.Event) -> None:
        self.started = started

    def prepare_image(self, image):
        return TOY.prepare_image(image)

    def encode_prepared(self, batch):
        assert self.started.wait(30), "the idle work never started"
        return TOY.encode_prepared(batch)


def test_idle_work_runs_on_the_decode_thread_after_the_decode_and_is_not_waited_for(two_shots):
    """The decode thread's turn: after the decode, with the scenes' cuts, until the frames are encoded."""
    started, release, finished = threading.Event(), threading.Event(), threading.Event()
    kept = keep_frames()
    seen: dict = {}

    def idle(stopped, cuts):
        if threading.current_thread() is threading.main_thread():
            return  # the calling thread's turns: the next test
        seen["thread"] = threading.current_thread().name
        seen["frames then"] = len(kept.encoded())
        seen["stopped then"] = stopped()
        seen["cuts"] = cuts
        started.set()
        release.wait(30)
        seen["stopped after"] = stopped()
        finished.set()

    video = embed_frames(two_shots, SlowTower(started), 1.0, 8, keep=kept.keep, idle=idle)
    assert not finished.is_set()               # returned while the idle work still runs
    release.set()
    assert finished.wait(30)
    assert seen["thread"] == "mmsearch-video-decode"
    assert seen["frames then"] == len(video.times) == 6   # every frame decoded and kept before it began
    assert seen["stopped then"] is False and seen["stopped after"] is True
    assert len(seen["cuts"]) == 1 and abs(seen["cuts"][0] - 3.0) <= 0.1   # the cut the scenes will have


def test_the_calling_thread_runs_the_idle_work_while_it_waits_and_stops_when_handed_something(two_shots):
    kept = keep_frames()
    turns: list[tuple[int, list[float], bool]] = []  # (frames kept then, cuts, stopped() came true)

    def idle(stopped, cuts):
        if threading.current_thread() is not threading.main_thread():
            return
        frames_then = len(kept.encoded())
        deadline = time.monotonic() + 30
        while not stopped() and time.monotonic() < deadline:
            time.sleep(0.001)
        turns.append((frames_then, cuts, stopped()))

    def slow_keep(t, image):  # a decoder slower than the tower: the calling thread waits for every frame
        kept.keep(t, image)
        time.sleep(0.05)

    video = embed_frames(two_shots, TOY, 1.0, 8, keep=slow_keep, idle=idle)
    assert len(video.times) == 6 and video.vectors.shape[0] == 6
    assert turns and all(came for _, _, came in turns)         # each turn ended when the decode thread put something
    during = [n for n, _, _ in turns if 0 < n < 6]
    assert len(during) >= 3                                    # turns during the decode, on the frames kept so far
    assert all(cuts is None for n, cuts, _ in turns if n < 6)  # cuts not decided while the decode goes on


def test_the_last_frames_are_encoded_while_the_shot_model_runs(two_shots, monkeypatch):
    """The frames after the last full batch are encoded as soon as the decode ends, not after the shot model."""
    import mmsearch.indexers.kinds.video.frames as frames_module

    encoded = threading.Event()
    seen: dict = {}

    class Tower:
        count = 0

        def prepare_image(self, image):
            return TOY.prepare_image(image)

        def encode_prepared(self, batch):
            out = TOY.encode_prepared(batch)
            Tower.count += len(batch)
            if Tower.count == 6:
                encoded.set()
            return out

    def slow_model(stream, model, budget):  # the shot model: waits for the tower to have every frame
        stream.finish()
        seen["encoded while the model ran"] = encoded.wait(30)

    class Model:
        device = "cpu"

    monkeypatch.setattr(frames_module, "consult_model", slow_model)
    video = embed_frames(two_shots, Tower(), 1.0, 8, shot_model=Model())   # 6 frames: one partial batch
    assert video.judged and len(video.times) == 6
    assert seen == {"encoded while the model ran": True}


def test_a_failing_idle_work_costs_the_video_nothing(two_shots):
    started = threading.Event()

    def idle(stopped, cuts):
        started.set()
        raise RuntimeError("detector broke")

    video = embed_frames(two_shots, SlowTower(started), 1.0, 8, idle=idle)
    assert len(video.times) == 6 and video.vectors.shape[0] == 6


def test_boxes_found_ahead_give_the_same_text_and_the_pass_detects_nothing_again(two_shots):
    scenes = _scenes((0.0, 3.0), (3.0, 6.0))
    plain = FakeReader()
    expected = scene_text_segments(plain, _kept(two_shots), scenes, no_full_frame)
    assert [s.text for s in expected] and len(plain.threads) > 0   # the light shot has text

    kept, ahead = _kept(two_shots), FakeReader()
    kept.detect_ahead(ahead)(lambda: False, [3.0])
    ahead_calls = len(ahead.threads)
    got = scene_text_segments(ahead, kept, scenes, no_full_frame)
    assert [(s.text, s.start, s.end, s.keyframe, s.detail) for s in got] == \
        [(s.text, s.start, s.end, s.keyframe, s.detail) for s in expected]
    assert len(ahead.threads) == ahead_calls                    # every probe answered from what was found ahead
    assert ahead_calls <= len(kept.encoded()) == 6


def test_stopped_idle_work_leaves_the_rest_to_the_pass(two_shots):
    scenes = _scenes((0.0, 3.0), (3.0, 6.0))
    expected = scene_text_segments(FakeReader(), _kept(two_shots), scenes, no_full_frame)
    kept, reader = _kept(two_shots), FakeReader()
    kept.detect_ahead(reader)(lambda: len(reader.threads) >= 2, [3.0])  # stopped after two frames
    assert len(reader.threads) == 2 and len(kept.detections) == 2
    got = scene_text_segments(reader, kept, scenes, no_full_frame)
    assert [(s.text, s.start, s.end, s.detail) for s in got] == [(s.text, s.start, s.end, s.detail) for s in expected]


def test_identical_pictures_are_detected_once(tmp_path):
    path = tmp_path / "still.mp4"
    mf.make_video(path, [(GREY, 6.0)], size=(160, 90), motion=False)
    kept, reader = _kept(str(path)), FakeReader()
    pictures = {jpeg for _, jpeg in kept.encoded()}
    assert len(kept.encoded()) == 6 and len(pictures) < 6      # a still: the kept frames repeat
    scene_text_segments(reader, kept, _scenes((0.0, 6.0)), no_full_frame)
    assert 0 < len(reader.threads) <= len(pictures)


def test_boxes_are_only_answered_to_the_reader_that_found_them():
    found, other = Detections(), Detections()
    a, b = FakeReader(), FakeReader()
    found.put(a, b"key", ["box"])
    found.put(b, b"other", ["box"])                             # not the owner: not kept
    assert found.get(a, b"key") == ("box",) and found.get(b, b"key") is None and found.get(a, b"other") is None
    assert len(found) == 1 and other.get(a, b"key") is None


def test_the_passs_probes_are_detected_first():
    times = [float(i) for i in range(21)]
    order = likely_first(times, [4.2, 8.0, 12.4, 16.0])              # scenes 0-4, 5-7, 8-12, 13-15, 16-20
    assert sorted(order) == list(range(21))                           # every frame, once
    assert order[:13] == [0, 2, 4, 5, 7, 8, 10, 12, 13, 15, 16, 18, 20]  # each scene's probes, every 2 s and its last
    assert order[13:15] == [6, 14]                                    # then from each scene's middle out
    assert likely_first(times, [0.0, 25.0])[:3] == [0, 2, 4] and likely_first([], [1.0]) == []


class WaitingReader(FakeReader):
    """A detector that waits instead of computing: it never has a core to itself."""

    def detect(self, image):
        time.sleep(0.02)
        return super().detect(image)


def test_a_detector_without_a_core_of_its_own_stops_the_work_ahead(two_shots, monkeypatch):
    monkeypatch.setattr(ahead_module, "MIN_SHARE", 0.7)
    kept, busy = _kept(two_shots), WaitingReader()
    kept.detect_ahead(busy)(lambda: False, [3.0])
    assert len(busy.threads) == 2 < len(kept.encoded())          # judged from the second detection: stopped there


def test_the_share_is_judged_across_turns_and_a_busy_video_gets_no_more(two_shots, monkeypatch):
    monkeypatch.setattr(ahead_module, "MIN_SHARE", 0.7)
    kept, busy = _kept(two_shots), WaitingReader()
    work = kept.detect_ahead(busy)
    work(lambda: len(busy.threads) >= 1, None)  # two short turns (one detection each, as the calling thread's
    work(lambda: len(busy.threads) >= 2, None)  # turns during a decode)
    assert len(busy.threads) == 2                                # the video's second detection was judged: busy
    work(lambda: False, None)
    work(lambda: False, [3.0])
    assert len(busy.threads) == 2                                # no turn of this video detects anything more


def test_turns_in_time_order_take_the_new_frames_and_a_decided_turn_takes_the_rest(two_shots):
    kept, reader = _kept(two_shots), FakeReader()
    work = kept.detect_ahead(reader)
    work(lambda: len(reader.threads) >= 2, None)                 # stopped after two frames, in time order
    assert len(kept.detections) == 2
    work(lambda: len(reader.threads) >= 3, None)                 # the next turn goes on from the third
    assert len(reader.threads) == 3
    work(lambda: False, [3.0])                                   # decided: every frame not yet detected
    assert len(reader.threads) == len({jpeg for _, jpeg in kept.encoded()}) <= 6
