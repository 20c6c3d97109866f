"""Scene cutting on synthetic embeddings with known structure (no video decoding here)."""
from __future__ import annotations

import numpy as np
import pytest

from mmsearch.analysis.scenes import Scene, cut_scenes, find_cuts

DIM = 64


def unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def shot_vectors(n_shots, seed=0, dim=DIM):
    rng = np.random.default_rng(seed + 1000)   # a stream of its own (see with_cosine)
    return [unit(rng.normal(size=dim)) for _ in range(n_shots)]


def with_cosine(base, cos, rng):
    """A unit vector whose cosine with unit vector ``base`` is exactly ``cos``."""
    r = rng.normal(size=base.shape)
    r -= (r @ base) * base
    assert np.linalg.norm(r) > 1e-6
    r = unit(r)
    return cos * base + np.sqrt(1 - cos ** 2) * r


def shots_to_frames(lengths, cos_within=0.95, seed=0, centres=None):
    """Frames at 1 s spacing: shot k has lengths[k] frames, each with cosine ``cos_within``
    to the shot's centre vector."""
    rng = np.random.default_rng(seed + 100)
    centres = centres or shot_vectors(len(lengths), seed)
    rows = [with_cosine(centres[k], cos_within, rng) for k, n in enumerate(lengths) for _ in range(n)]
    times = np.arange(len(rows), dtype=float)
    return times, np.stack(rows), centres


def check_coverage(scenes, duration, n_frames):
    assert scenes[0].start == 0.0
    assert scenes[-1].end == pytest.approx(duration)
    for a, b in zip(scenes, scenes[1:]):
        assert a.end == b.start                         # no gap, no overlap
        assert a.last + 1 == b.first                    # frame ranges partition the frames
    assert scenes[0].first == 0 and scenes[-1].last == n_frames - 1
    for s in scenes:
        assert s.start < s.end and s.first <= s.last


# ------------------------------------------------------------------ find_cuts

def test_cuts_between_shots():
    times, emb, _ = shots_to_frames([5, 4, 6, 3])
    assert find_cuts(emb) == [5, 9, 15]


def test_cuts_do_not_depend_on_the_cosine_scale():
    # another model: every embedding shares a large common direction, so all cosines are > 0.95
    # (a fixed threshold like 0.85 would see one shot); the video's own statistics still show the cuts
    times, emb, _ = shots_to_frames([6, 6, 6], seed=3)
    common = unit(np.random.default_rng(4).normal(size=DIM))
    squeezed = emb + 6.0 * common
    sq = squeezed / np.linalg.norm(squeezed, axis=1, keepdims=True)
    assert float(np.min(sq @ sq.T)) > 0.95
    assert find_cuts(emb) == find_cuts(squeezed) == [6, 12]


def test_slow_drift_is_not_a_cut():
    # a pan: each frame 0.97 to the previous one, but the last frame is orthogonal to the first
    base, other = shot_vectors(2, seed=5)
    other = unit(other - (other @ base) * base)
    angles = np.linspace(0, np.pi / 2, 40)
    emb = np.stack([np.cos(t) * base + np.sin(t) * other for t in angles])
    assert emb[0] @ emb[-1] == pytest.approx(0, abs=1e-9)
    assert min(emb[i] @ emb[i - 1] for i in range(1, 40)) > 0.99
    assert find_cuts(emb) == []


def test_normalisation_and_scale_invariance():
    times, emb, _ = shots_to_frames([4, 4, 4], seed=2)
    scaled = emb * np.linspace(0.1, 50, len(emb))[:, None]
    assert find_cuts(scaled) == find_cuts(emb) == [4, 8]


def test_min_frames_suppresses_early_cuts():
    times, emb, _ = shots_to_frames([4, 1, 4], seed=4)
    assert find_cuts(emb) == [4, 5]
    assert find_cuts(emb, min_frames=2) == [4]


def test_z_parameter():
    rng = np.random.default_rng(9)
    a = shot_vectors(1, seed=9)[0]
    rows = [with_cosine(a, 0.99, rng) for _ in range(8)]
    b = with_cosine(a, 0.9, rng)                        # a second shot that is very alike
    rows += [with_cosine(b, 0.99, rng) for _ in range(8)]
    emb = np.stack(rows)
    assert find_cuts(emb) == [8]                       # unlike the shot's own frame-to-frame changes
    assert find_cuts(emb, z=1e6) == []                 # nothing is that far out


def test_degenerate_inputs():
    assert find_cuts(np.zeros((0, 8))) == []
    assert find_cuts(np.ones((1, 8))) == []
    with pytest.raises(ValueError):
        find_cuts(np.ones(8))


# ------------------------------------------------------------------ cut_scenes

def test_scenes_cover_the_duration_with_midpoint_boundaries():
    times, emb, _ = shots_to_frames([5, 4, 6])
    scenes = cut_scenes(times, emb, duration=15.0)
    check_coverage(scenes, 15.0, len(times))
    assert [s.start for s in scenes] == [0.0, 4.5, 8.5]  # midway between frames 4|5 and 8|9
    assert [(s.first, s.last) for s in scenes] == [(0, 4), (5, 8), (9, 14)]
    assert all(isinstance(s, Scene) for s in scenes)


def test_boundary_times_are_used_and_clamped():
    times, emb, _ = shots_to_frames([5, 4, 6])
    scenes = cut_scenes(times, emb, 15.0, boundary_times={5: 4.8, 9: 20.0})
    assert scenes[1].start == 4.8
    assert scenes[2].start == 9.0                       # clamped into [times[8], times[9]]
    check_coverage(scenes, 15.0, len(times))


def test_duration_shorter_than_last_frame_is_extended():
    times, emb, _ = shots_to_frames([4, 4])
    scenes = cut_scenes(times, emb, duration=5.0)
    assert scenes[-1].end == 7.0


def test_short_scene_merges_into_the_more_similar_neighbour():
    rng = np.random.default_rng(11)
    a, far = shot_vectors(2, seed=11)
    b = with_cosine(a, 0.6, rng)                        # the short shot looks like a
    far = unit(far - (far @ b) * b)                     # ... and nothing like the next one
    centres = [a, b, far]
    times, emb, _ = shots_to_frames([5, 1, 5], centres=centres, seed=11)
    scenes = cut_scenes(times, emb, 11.0, min_length=2.0)
    assert [(s.first, s.last) for s in scenes] == [(0, 5), (6, 10)]   # joined to the left
    check_coverage(scenes, 11.0, len(times))
    # and the mirror image: joined to the right
    times, emb, _ = shots_to_frames([5, 1, 5], centres=[far, b, a], seed=11)
    scenes = cut_scenes(times, emb, 11.0, min_length=2.0)
    assert [(s.first, s.last) for s in scenes] == [(0, 4), (5, 10)]


def test_short_first_and_last_scenes_merge_into_their_only_neighbour():
    times, emb, _ = shots_to_frames([1, 6, 1], seed=12)
    scenes = cut_scenes(times, emb, 8.0, min_length=2.0)
    assert len(scenes) == 1 and (scenes[0].first, scenes[0].last) == (0, 7)
    check_coverage(scenes, 8.0, len(times))
    # min_length 0 keeps everything
    assert len(cut_scenes(times, emb, 8.0, min_length=0.0)) == 3


def test_flash_frame_inside_a_shot_is_merged_away():
    times, emb, centres = shots_to_frames([10], seed=13)
    emb = emb.copy()
    emb[5] = shot_vectors(1, seed=99)[0]                # one odd frame (a flash)
    # the next frame returns to the shot, so the odd frame is not a cut at all
    assert find_cuts(emb) == []
    scenes = cut_scenes(times, emb, 10.0)
    assert len(scenes) == 1
    check_coverage(scenes, 10.0, len(times))


def test_long_scene_is_split_evenly():
    times = np.arange(0, 95, 1.0)
    emb = np.tile(shot_vectors(1)[0], (len(times), 1))
    scenes = cut_scenes(times, emb, 95.0, max_length=30.0)
    assert len(scenes) == 4
    assert [s.start for s in scenes] == pytest.approx([0, 23.75, 47.5, 71.25])
    assert all(s.duration == pytest.approx(23.75) for s in scenes)
    check_coverage(scenes, 95.0, len(times))
    assert len(cut_scenes(times, emb, 95.0, max_length=None)) == 1


def test_split_part_without_frames_joins_a_neighbour():
    # frames only every 20 s: a 60 s shot split into parts of <= 10 s leaves parts with no frame
    times = np.array([0.0, 20.0, 40.0])
    emb = np.tile(shot_vectors(1)[0], (3, 1))
    scenes = cut_scenes(times, emb, 60.0, max_length=10.0)
    check_coverage(scenes, 60.0, 3)
    assert len(scenes) == 3
    for s in scenes:
        assert s.start <= times[s.first] and times[s.last] < s.end


def test_keyframe_is_the_frame_closest_to_the_scene_mean():
    rng = np.random.default_rng(21)
    a = shot_vectors(1, seed=21)[0]
    cosines = [0.91, 0.99, 0.93, 0.92]                  # frame 1 is nearest the centre
    emb = np.stack([with_cosine(a, c, rng) for c in cosines])
    times = np.array([0.0, 1.5, 3.0, 4.5])
    (scene,) = cut_scenes(times, emb, 5.0)
    mean = emb.sum(axis=0)
    expected = times[int(np.argmax(emb @ mean / np.linalg.norm(emb, axis=1)))]
    assert scene.keyframe_time == expected == 1.5


def test_no_frames_and_bad_input():
    assert cut_scenes(np.zeros(0), np.zeros((0, 4)), 10.0) == []
    with pytest.raises(ValueError):
        cut_scenes(np.arange(3.0), np.ones((4, 4)), 3.0)
    with pytest.raises(ValueError):
        cut_scenes(np.array([0.0, 2.0, 1.0]), np.ones((3, 4)), 3.0)


# ------------------------------------------------------------------ the fused rule on generated footage
# Real photos filmed by a virtual camera (tests/media_factory.py), decoded by the sampler's one pass;
# two unrelated encoders (the toy one and a random-init CLIP): the cuts may not depend on either.

FPS = 25
SIZE = (160, 90)


@pytest.fixture(scope="module")
def photos():
    import media_factory as mf

    return dict(zip(mf.FOOTAGE_IMAGES, mf.footage_images()))


@pytest.fixture(scope="module")
def encoders(tiny_clip):
    from mmsearch.encoders import load_image_text_encoder

    return {"toy": load_image_text_encoder("toy", "cpu"), "random-clip": load_image_text_encoder(tiny_clip, "cpu")}


def _fused_cuts(path, encoder) -> list[float]:

    from mmsearch.analysis.scenes import decide_cuts
    from mmsearch.indexers.kinds.video.frames import embed_frames

    video = embed_frames(str(path), encoder, 1.0, 8)
    return [c.time for c in decide_cuts(video.shots, video.times, video.vectors)]


def _write(path, frames) -> None:
    """Encode RGB frames (H, W, 3) as H.264 at FPS (frame i shown at i / FPS)."""
    import av

    out = av.open(str(path), "w")
    stream = out.add_stream("libx264", rate=FPS)
    stream.height, stream.width = frames[0].shape[:2]
    stream.pix_fmt = "yuv420p"
    stream.options = {"preset": "ultrafast", "crf": "23"}
    for i, f in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
        frame.pts = i
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
    out.close()


def _pan(photo, n, x0, x1, size=SIZE):
    """``n`` frames of a camera panning over ``photo`` (box centre from fraction x0 to x1 of its width)."""
    from PIL import Image

    w, h = size
    bw = photo.width * 0.6
    bh = bw * h / w
    out = []
    for k in range(n):
        cx = (x0 + (x1 - x0) * k / max(1, n - 1)) * photo.width
        left = min(max(cx - bw / 2, 0), photo.width - bw)
        top = (photo.height - bh) / 2
        out.append(np.asarray(photo.resize((w, h), Image.BILINEAR, box=(left, top, left + bw, top + bh))))
    return out


def test_one_second_shots_between_hard_cuts_are_each_found(tmp_path, photos, encoders):
    import media_factory as mf

    p = photos
    shots = [mf.Shot(p["cat.jpg"], 2.4, ("pan",), ((0.4, 0.5, 1.2), (0.6, 0.5, 1.2)), seed=1),
             mf.Shot(p["coffee.jpg"], 1.0, ("zoom",), ((0.5, 0.5, 1.0), (0.5, 0.5, 1.2)), seed=2),
             mf.Shot(p["temple.jpg"], 1.0, ("shake",), ((0.5, 0.5, 1.3), (0.5, 0.5, 1.3)), seed=3),
             mf.Shot(p["rocket.jpg"], 1.0, ("pan",), ((0.4, 0.5, 1.3), (0.6, 0.5, 1.3)), seed=4),
             mf.Shot(p["flower.jpg"], 2.4, ("crop",), ((0.5, 0.5, 1.4), (0.5, 0.5, 1.4)), seed=5)]
    path = tmp_path / "short.mp4"
    truth = mf.make_footage(path, shots, [("cut", 0.0)] * 4, size=SIZE)
    for name, enc in encoders.items():
        found = _fused_cuts(path, enc)
        assert len(found) == 4, (name, found)
        assert np.allclose(found, [t.start for t in truth], atol=2 / FPS + 1e-6), (name, found)


def test_a_two_frame_flash_next_to_a_cut_is_no_cut(tmp_path, photos, encoders):
    a = _pan(photos["cat.jpg"], 60, 0.35, 0.6)
    b = _pan(photos["coffee.jpg"], 60, 0.4, 0.6)
    for k in (30, 31):                    # a photographer's flash: two frames washed out towards white
        a[k] = (a[k] * 0.2 + 255 * 0.8).astype(np.uint8)
    for k in (52, 53):                    # ... and another 7 frames before the cut
        a[k] = (a[k] * 0.3 + 255 * 0.7).astype(np.uint8)
    path = tmp_path / "flash.mp4"
    _write(path, a + b)
    for name, enc in encoders.items():
        found = _fused_cuts(path, enc)
        assert np.allclose(found, [60 / FPS], atol=2 / FPS + 1e-6), (name, found)


@pytest.mark.parametrize("kind", ["dissolve", "fade"])
def test_a_gradual_transition_after_a_short_shot_gives_one_cut_inside_it(tmp_path, photos, encoders, kind):
    import media_factory as mf

    p = photos
    shots = [mf.Shot(p["astronaut.jpg"], 2.4, ("pan",), ((0.4, 0.5, 1.2), (0.6, 0.5, 1.2)), seed=1),
             mf.Shot(p["deep_field.jpg"], 1.8, ("zoom",), ((0.5, 0.5, 1.0), (0.5, 0.5, 1.3)), seed=2),
             mf.Shot(p["temple.jpg"], 2.4, ("crop",), ((0.5, 0.5, 1.3), (0.5, 0.5, 1.3)), seed=3)]
    path = tmp_path / f"{kind}.mp4"
    cut, gradual = mf.make_footage(path, shots, [("cut", 0.0), (kind, 0.8)], size=SIZE)
    assert gradual.start - cut.start < 1.05      # 1 s of the short shot alone, then the transition
    for name, enc in encoders.items():
        found = _fused_cuts(path, enc)
        assert len(found) == 2, (name, found)
        assert abs(found[0] - cut.start) <= 2 / FPS + 1e-6, (name, found)
        assert gradual.start - 1 / FPS <= found[1] <= gradual.end + 1 / FPS, (name, found)


def _flash_soon_after_a_cut(photos):
    import media_factory as mf

    p = photos
    return [mf.Shot(p["temple.jpg"], 2.0, ("crop",), ((0.39, 0.64, 1.66), (0.45, 0.56, 1.36)), seed=4),
            mf.Shot(p["deep_field.jpg"], 1.91, ("object",), ((0.32, 0.43, 1.42), (0.21, 0.39, 1.72)),
                    flashes=(0.69,), seed=5),
            mf.Shot(p["flower.jpg"], 2.0, ("light",), ((0.59, 0.53, 1.08), (0.69, 0.48, 1.16)), seed=6)], \
        [("cut", 0.0)] * 2


def _flash_soon_after_two_dissolves(photos):
    import media_factory as mf

    p = photos
    return [mf.Shot(p["rocket.jpg"], 2.99, ("crop",), ((0.68, 0.51, 1.37), (0.67, 0.59, 1.78)), seed=5),
            mf.Shot(p["temple.jpg"], 2.28, ("object", "shake"), ((0.58, 0.5, 1.68), (0.46, 0.45, 2.15)), seed=6),
            mf.Shot(p["astronaut.jpg"], 2.48, ("crop",), ((0.55, 0.64, 1.69), (0.63, 0.73, 2.18)),
                    flashes=(0.79,), seed=7)], \
        [("dissolve", 0.76), ("dissolve", 0.42)]


@pytest.mark.parametrize("plan", [_flash_soon_after_a_cut, _flash_soon_after_two_dissolves])
def test_a_flash_soon_after_a_transition_does_not_hide_it(tmp_path, photos, encoders, plan):
    # the flash is the strongest change nearby; judged on its own pictures it is no cut, and it must
    # not take the place of the transition before it (each peak is judged by itself)
    import media_factory as mf

    path = tmp_path / "flash-after.mp4"
    truth = mf.make_footage(path, *plan(photos), size=SIZE)
    for name, enc in encoders.items():
        found = _fused_cuts(path, enc)
        assert len(found) == len(truth), (name, found, truth)
        for f, t in zip(found, truth):
            assert t.start - 2 / FPS - 1e-6 <= f <= t.end + 2 / FPS + 1e-6, (name, found, truth)


# ------------------------------------------------------------------ look-alike shots (issue 26)
# Cuts that a colour histogram cannot see: two shots of one photo (the same grading), two pictures on
# the same light plain background. The pixels' persistence test sees them; a flash of another shot's
# frames, which a learned detector may take for two cuts, is no cut.

def _on_light(photo, n, left: bool, size=SIZE):
    """``n`` frames of ``photo`` (small) on a light plain background, with a slow zoom."""
    from PIL import Image

    w, h = size
    canvas = Image.new("RGB", (w * 2, h * 2), (236, 234, 228))
    pic = photo.copy()
    pic.thumbnail((int(w * 0.8), int(h * 1.2)))
    canvas.paste(pic, (int(w * 0.15) if left else int(w * 1.85) - pic.width, (h * 2 - pic.height) // 2))
    out = []
    for k in range(n):
        z = 1.0 - 0.1 * k / max(1, n - 1)
        bw, bh = w * 2 * z, h * 2 * z
        box = (w - bw / 2, h - bh / 2, w + bw / 2, h + bh / 2)
        out.append(np.asarray(canvas.resize((w, h), Image.BILINEAR, box=box)))
    return out


def look_alike_videos(tmp_path, photos) -> dict[str, tuple]:
    """name -> (path, cut frame indexes, frames): two look-alike cuts each; shared with test_shots.py."""
    from mmsearch.analysis.scenes.signals import hist, hist_distance

    same = _pan(photos["deep_field.jpg"], 55, 0.2, 0.3) + _pan(photos["deep_field.jpg"], 55, 0.75, 0.7) \
        + _pan(photos["deep_field.jpg"], 55, 0.45, 0.5)
    light = _on_light(photos["cat.jpg"], 60, True) + _on_light(photos["coffee.jpg"], 60, False) \
        + _on_light(photos["flower.jpg"], 60, True)
    light[25:27] = _on_light(photos["rocket.jpg"], 2, False)    # a 2-frame flash of another picture
    out = {}
    for name, frames, cuts in (("same-photo", same, [55, 110]), ("light", light, [60, 120])):
        for c in cuts:   # similar colours: the old rule's colour gate (0.3) saw no cut here
            assert hist_distance(hist([frames[c - 1]]), hist([frames[c]])) < 0.3, name
        path = tmp_path / f"{name}.mp4"
        _write(path, frames)
        out[name] = (path, cuts, frames)
    return out


@pytest.mark.parametrize("name", ["same-photo", "light"])
def test_a_hard_cut_between_look_alike_shots_is_found_without_the_detector(tmp_path, photos, encoders, name):
    path, cuts, _ = look_alike_videos(tmp_path, photos)[name]
    for enc_name, enc in encoders.items():
        found = _fused_cuts(path, enc)    # no model: the pixels alone
        assert np.allclose(found, [c / FPS for c in cuts], atol=2 / FPS + 1e-6), (enc_name, found)


class _BrokenShotModel:
    """A shot model that fails when asked (the detector breaking mid-run, e.g. out of memory)."""

    device = "cpu"

    def __init__(self) -> None:
        self.asked = 0

    def probabilities(self, windows):
        self.asked += 1
        raise RuntimeError("the shot model broke")


def test_a_shot_model_failing_raises_its_own_error_and_is_asked_once(tmp_path, photos, encoders):
    # the model is asked on either thread of embed_frames(shot_model=...) (the calling thread ahead, the decode
    # thread after the decode): its failure reaches the caller as itself (not as a decoding error), the other
    # thread does not ask it again, the decode thread ends, and torch's thread count is restored
    import threading

    import torch

    from mmsearch.errors import MediaError
    from mmsearch.indexers.kinds.video.frames import embed_frames

    path, _, _ = look_alike_videos(tmp_path, photos)["same-photo"]   # one candidate the pixels cannot settle
    broken = _BrokenShotModel()
    threads = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="the shot model broke") as raised:
        embed_frames(str(path), encoders["toy"], 1.0, 8, shot_model=broken)
    assert not isinstance(raised.value, MediaError) and broken.asked == 1
    assert torch.get_num_threads() == threads
    assert not [t for t in threading.enumerate() if t.name == "mmsearch-video-decode"]


# -- the shot model asked ahead, while the stream is being fed (decide.ask_ahead) --------------------------

class _CountingShotModel:
    """A deterministic stand-in for TransNetV2: each frame's probability is its mean change from the frame
    before, scaled; it records every window it is asked about."""

    device = "cpu"

    def __init__(self) -> None:
        self.windows: list[bytes] = []

    def probabilities(self, windows):
        out = []
        for w in windows:
            self.windows.append(np.ascontiguousarray(w).tobytes())
            x = w.astype(np.float64)
            change = np.r_[0.0, np.abs(np.diff(x, axis=0)).mean(axis=(1, 2, 3))]
            out.append(np.minimum(change / 20.0, 1.0))
        return out


@pytest.fixture(scope="module")
def plan_video(tmp_path_factory, photos):
    """A 25-second edit of real photos (cuts, dissolves, fades) and every frame of it (time, 48x27 RGB)."""
    from mmsearch.media.video.probe import probe
    from mmsearch.media.video.pyav_frames import sample_pyav

    import media_factory as mf

    class Recorder:
        def __init__(self) -> None:
            self.frames: list = []

        def push(self, time, rgb):
            self.frames.append((time, rgb))

    path = tmp_path_factory.mktemp("plan") / "plan.mp4"
    mf.make_footage(path, *mf.random_footage_plan(4, n_shots=10, images=list(photos.values())), size=SIZE)
    sink = Recorder()
    list(sample_pyav(path, probe(path), 1.0, 160, 1, sink))
    return path, sink.frames


@pytest.fixture(scope="module")
def plan_frames(plan_video):
    return plan_video[1]


@pytest.fixture
def every_candidate_grey(monkeypatch):
    """The pixels settle nothing but flashes: every other candidate is the model's (many windows to ask)."""
    import mmsearch.analysis.scenes.decide as decide

    monkeypatch.setattr(decide, "PERSISTENT", 1e9)
    monkeypatch.setattr(decide, "COLOUR_CLEAR", 2.0)


def _fed(frames, *, ahead=None, every: int = 25):
    """A stream fed ``frames``; ``ahead(stream)`` called every ``every`` frames while it is fed."""
    from mmsearch.analysis.scenes import ShotStream

    stream = ShotStream()
    for i, (t, rgb) in enumerate(frames):
        stream.push(t, rgb)
        if ahead is not None and i % every == every - 1:
            ahead(stream)
    return stream


def _decided(stream, model, budget):
    from mmsearch.analysis.scenes import consult_model, decide_cuts

    consult_model(stream, model, budget)
    times = np.asarray(stream.times[::25])
    cuts = decide_cuts(stream, times, np.ones((len(times), 1), dtype=np.float32))
    return [(c.time, c.by, c.probability) for c in cuts], [(c.index, c.probability, c.model_index)
                                                           for c in stream.candidates]


def test_windows_asked_ahead_give_the_cuts_of_asking_at_the_end_and_none_is_asked_twice(plan_frames,
                                                                                        every_candidate_grey):
    from mmsearch.analysis.scenes import ask_ahead
    from mmsearch.analysis.scenes.decide import SETTLED

    at_end = _CountingShotModel()
    expected = _decided(_fed(plan_frames), at_end, None)
    assert len(at_end.windows) >= 6 and any(by == "model" for _, by, _ in expected[0])

    model = _CountingShotModel()
    asked: list[tuple[int, int]] = []  # (windows asked, frames fed) at each turn

    def ahead(stream):
        before, windows = set(stream.answers), len(model.windows)
        asked.append((ask_ahead(stream, model, None, most=1), len(stream)))
        assert asked[-1][0] == len(model.windows) - windows             # it says how many it really asked
        for c in stream.candidates:   # a window is asked only once no candidate to come can join its group
            if c.index in set(stream.answers) - before:
                assert c.cut_index < len(stream) - SETTLED

    stream = _fed(plan_frames, ahead=ahead)
    ahead_count = len(model.windows)
    assert ahead_count >= 3 and max(n for n, _ in asked) <= 1        # asked ahead, at most `most` a turn
    assert _decided(stream, model, None) == expected                 # the same answers, the same cuts
    assert sorted(model.windows) == sorted(at_end.windows)           # each window asked once, no other window
    assert len(model.windows) > ahead_count                          # the last ones at the end


def test_a_budget_is_kept_ahead_and_what_the_final_budget_leaves_out_is_not_used(plan_frames,
                                                                                 every_candidate_grey):
    from mmsearch.analysis.scenes import ask_ahead
    from mmsearch.analysis.scenes.decide import MODEL_HALF, model_windows

    window = 2 * MODEL_HALF + 1
    model = _CountingShotModel()
    turns: list[tuple[int, int]] = []  # (windows so far, windows asked)

    def ahead(s):
        turns.append((len(model_windows(s.candidates)), ask_ahead(s, model, 3 * window, most=5)))

    stream = _fed(plan_frames, ahead=ahead)
    assert len(model.windows) == 3                                    # the budget binds ahead too
    assert all(asked == 0 for windows, asked in turns if windows > 3)  # and nothing ahead once windows outnumber it
    assert any(windows > 3 for windows, _ in turns)
    # the final budget allows one window: the decision is the one made with that budget alone, whatever was
    # asked ahead (the most persistent window answers; the others' answers are kept but not used)
    assert _decided(stream, model, window) == _decided(_fed(plan_frames), _CountingShotModel(), window)
    assert ask_ahead(_fed(plan_frames), model, 0) == 0 and ask_ahead(_fed(plan_frames), None, None) == 0


def test_the_calling_thread_asks_the_shot_model_ahead_while_the_decode_goes_on(plan_video, every_candidate_grey):
    """embed_frames: while it waits for frames, the calling thread asks the model about the settled windows;
    the decode thread asks the rest after the decode; each window once, and the answers (the CPU budget
    binding) those of asking them all at the end."""
    import threading
    import time

    from mmsearch.analysis.scenes.decide import model_windows
    from mmsearch.encoders import load_image_text_encoder
    from mmsearch.encoders.shots import budget_frames
    from mmsearch.indexers.kinds.video.frames import embed_frames

    class Model(_CountingShotModel):
        def __init__(self) -> None:
            super().__init__()
            self.threads: list[str] = []

        def probabilities(self, windows):
            self.threads += [threading.current_thread().name] * len(windows)
            return super().probabilities(windows)

    path, frames = plan_video
    model = Model()
    video = embed_frames(str(path), load_image_text_encoder("toy", "cpu"), 1.0, 8, shot_model=model,
                         keep=lambda t, image: time.sleep(0.02))   # a decode slower than the tower
    assert video.judged and video.shots is not None
    caller = threading.current_thread().name
    assert caller in model.threads and "mmsearch-video-decode" in model.threads
    assert model.threads.index("mmsearch-video-decode") > model.threads.index(caller)
    assert len(set(model.windows)) == len(model.windows)               # none asked twice

    reference = _fed(frames)
    at_end = _CountingShotModel()
    budget = budget_frames(model, len(reference))
    _decided(reference, at_end, budget)
    assert budget is not None and len(at_end.windows) == budget // 25 < len(model_windows(reference.candidates))
    assert [(c.index, c.probability, c.model_index) for c in video.shots.candidates] == \
        [(c.index, c.probability, c.model_index) for c in reference.candidates]


def test_a_model_that_failed_ahead_is_not_asked_again_and_its_error_is_raised_again(plan_frames,
                                                                                    every_candidate_grey):
    from mmsearch.analysis.scenes import ask_ahead, consult_model

    broken = _BrokenShotModel()
    stream = _fed(plan_frames)
    with pytest.raises(RuntimeError, match="the shot model broke") as first:
        ask_ahead(stream, broken, None)
    with pytest.raises(RuntimeError, match="the shot model broke") as again:
        consult_model(stream, broken, None)
    assert broken.asked == 1 and again.value is first.value
