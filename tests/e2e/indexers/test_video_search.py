"""Video scene search end to end: ingest generated videos with known cuts, query with the toy encoder."""
from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from mmsearch import Engine
from mmsearch.cli.app import app

import media_factory as mf
from conftest import solid

SEGMENTS = [("red", 3.0), ("blue", 4.0), ("green", 3.0)]  # cuts at 3 s and 7 s


@pytest.fixture
def videos(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    cuts = mf.make_video(root / "rgb.mp4", SEGMENTS, codec="h264", motion=False)
    mf.make_video(root / "other.webm", [("yellow", 3.0), ("purple", 3.0)], codec="vp9", motion=False)
    return root, cuts


@pytest.fixture
def engine(tmp_path):
    with Engine(tmp_path / "lib", model="toy") as e:
        yield e


def test_text_query_lands_in_the_right_scene_of_the_right_video(engine, videos):
    root, cuts = videos
    report = engine.index([root])
    assert report.added == 2 and report.failed == 0
    hit = engine.search("the blue scene", k=1, kinds=["video"])[0]
    assert hit.path == str(root / "rgb.mp4") and hit.kind == "video"
    assert abs(hit.start - cuts[0]) <= 0.5 and abs(hit.end - cuts[1]) <= 0.5
    assert hit.start <= hit.keyframe <= hit.end
    purple = engine.search("purple", k=1, kinds=["video"])[0]
    assert purple.path == str(root / "other.webm") and abs(purple.start - 3.0) <= 0.5


def test_scene_boundaries_are_stored_and_listed(engine, videos):
    root, cuts = videos
    engine.index([root])
    scenes = engine.scenes(root / "rgb.mp4")
    assert len(scenes) == 3
    assert scenes[0]["start"] == 0.0
    for scene, cut in zip(scenes[1:], cuts):
        assert abs(scene["start"] - cut) <= 0.5
    assert all(a["end"] == b["start"] for a, b in zip(scenes, scenes[1:]))
    media = engine.catalog.media_by_path(str(root / "rgb.mp4"))
    assert media.kind == "video" and media.decoder in ("decord", "pyav") and abs(media.duration - 10.0) < 0.2


def test_overlapping_hits_of_one_video_are_merged(engine, videos):
    root, _ = videos
    engine.index([root])
    hits = engine.search("red blue green", k=10, kinds=["video"])
    rgb = [h for h in hits if h.path.endswith("rgb.mp4")]
    spans = sorted((h.start, h.end) for h in rgb)
    assert spans and all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # found; no two hits overlap
    assert len(rgb) == 3


def test_image_to_video_similar(engine, videos, tmp_path):
    root, cuts = videos
    engine.index([root])
    probe = solid(tmp_path / "probe" / "g.png", "green")
    hit = engine.similar(probe, k=1, kinds=["video"])[0]
    assert hit.path.endswith("rgb.mp4") and abs(hit.start - cuts[1]) <= 0.5


def test_subtitles_are_found_on_the_video_timeline(engine, videos):
    root, _ = videos
    (root / "rgb.srt").write_text(
        "1\n00:00:01,000 --> 00:00:02,000\nwelcome everyone\n\n"
        "2\n00:00:08,000 --> 00:00:09,500\nthe rocket lifts off now\n"
    )
    engine.index([root])
    hit = engine.search("rocket lifts", k=1)[0]
    assert hit.path == str(root / "rgb.mp4") and hit.kind == "video"
    assert (hit.start, hit.end) == (8.0, 9.5) and "rocket" in hit.text


def test_reindexing_an_unchanged_video_does_not_decode_it(engine, videos, monkeypatch):
    root, _ = videos
    engine.index([root])
    import mmsearch.indexers.kinds.video.frames as video_mod

    def boom(*a, **k):
        raise AssertionError("decoded an unchanged video")

    monkeypatch.setattr(video_mod, "FrameSampler", boom)
    report = engine.index([root])
    assert report.unchanged == 2 and report.added == report.updated == 0


def test_bad_videos_are_recorded_never_fatal(engine, tmp_path):
    root = tmp_path / "bad"
    root.mkdir()
    mf.make_video(root / "good.mp4", [("red", 2.0), ("blue", 2.0)], codec="h264", motion=False)
    mf.make_truncated(root / "truncated.mp4", [("green", 3.0), ("yellow", 3.0)])
    mf.make_zero_frame_video(root / "zero.mp4")
    mf.make_audio_only(root / "audio_only.mp4")
    mf.make_random_bytes(root / "noise.mkv")
    (root / "empty.webm").write_bytes(b"")
    report = engine.index([root])
    assert report.failed + report.added == 6
    errors = {os.path.basename(e["path"]): e["message"] for e in engine.errors()}
    assert {"zero.mp4", "audio_only.mp4", "noise.mkv", "empty.webm"} <= set(errors)
    assert "no video stream" in errors["audio_only.mp4"]
    assert engine.search("red", k=1, kinds=["video"])[0].path.endswith("good.mp4")
    # the truncated file is either indexed up to where it breaks (and noted) or recorded
    assert "truncated.mp4" in errors or engine.catalog.media_by_path(str(root / "truncated.mp4")) is not None


def test_cli_scenes_and_thumbs(tmp_path, videos):
    root, _ = videos
    lib = str(tmp_path / "lib")
    runner = CliRunner()
    assert runner.invoke(app, ["index", str(root), "--library", lib, "--model", "toy"]).exit_code == 0
    r = runner.invoke(app, ["scenes", str(root / "rgb.mp4"), "--library", lib, "--json"])
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)) == 3
    human = runner.invoke(app, ["search", "blue", "--library", lib, "--kind", "video"])
    assert "00:00:03-00:00:07" in human.stdout
    thumbs = tmp_path / "thumbs"
    r = runner.invoke(app, ["search", "blue", "--library", lib, "--kind", "video", "--top", "1",
                            "--thumbs", str(thumbs), "--json"])
    hit = json.loads(r.stdout)[0]
    from PIL import Image

    image = Image.open(hit["thumb"])
    r_, g_, b_ = image.convert("RGB").resize((1, 1)).getpixel((0, 0))
    assert b_ > 150 and r_ < 100  # the keyframe of the blue scene


def test_sample_video_scene_layout_and_query(engine):
    """sample_data/video/launch.mp4 has a documented scene layout (launch.json)."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[3] / "sample_data" / "video"
    layout = json.loads((folder / "launch.json").read_text())["scenes"]
    engine.index([folder])
    scenes = engine.scenes(folder / "launch.mp4")
    assert len(scenes) == len(layout)
    for got, want in zip(scenes, layout):
        assert abs(got["start"] - want["start"]) <= 0.5 and abs(got["end"] - want["end"]) <= 0.5
    flower = next(s for s in layout if s["image"] == "flower.jpg")
    hit = engine.search("an orange flower", k=1, kinds=["video"])[0]
    assert (hit.start, hit.end) == pytest.approx((flower["start"], flower["end"]), abs=0.5)


def test_av1_falls_back_to_pyav_and_the_catalog_says_so(engine, tmp_path):
    if mf.av1_encoder() is None:
        pytest.skip("this PyAV build has no AV1 encoder to make the test file")
    root = tmp_path / "av1"
    root.mkdir()
    cuts = mf.make_av1(root / "clip.mkv", [("red", 2.0), ("blue", 3.0)], motion=False)
    mf.make_video(root / "h264.mp4", [("green", 3.0)], codec="h264", motion=False)
    assert engine.index([root]).added == 2
    assert engine.catalog.media_by_path(str(root / "clip.mkv")).decoder == "pyav"
    assert engine.catalog.media_by_path(str(root / "h264.mp4")).decoder == "pyav"  # the one-pass shot stream decodes with PyAV
    hit = engine.search("blue", k=1, kinds=["video"])[0]
    assert hit.path.endswith("clip.mkv") and abs(hit.start - cuts[0]) <= 0.5


def test_subtitle_cues_join_only_to_finish_a_sentence():
    from mmsearch.media.subtitles import Cue, merge_cues

    cues = [Cue(0.0, 1.0, "When the rocket"), Cue(1.2, 2.0, "clears the tower,"), Cue(2.1, 3.0, "we cheer."),
            Cue(3.2, 4.0, "Then we go home."), Cue(9.0, 10.0, "Much later")]
    assert [(c.start, c.end, c.text) for c in merge_cues(cues)] == [
        (0.0, 3.0, "When the rocket clears the tower, we cheer."), (3.2, 4.0, "Then we go home."),
        (9.0, 10.0, "Much later")]
