"""Audio end to end: speech found by what is said (real Whisper tiny.en + all-MiniLM-L6-v2, offline),
video soundtracks on the video timeline, CLAP mechanics with a tiny model, merged ranking."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from typer.testing import CliRunner

from mmsearch import Engine
from mmsearch.cli.app import app

import audio_factory as af

SR = 16000
BUDGET = "we need to cut the marketing budget next quarter"


@pytest.fixture(scope="module")
def spoken_library(tmp_path_factory):
    """One library (toy images, real speech models, no CLAP) shared by the read-only tests below."""
    if not af.HAVE_ESPEAK:
        pytest.skip("espeak-ng not installed (make test installs it)")
    root = tmp_path_factory.mktemp("audio")
    af.write_audio(root / "meeting.wav", af.compose(14.0, SR, [(6.0, af.speech(BUDGET, SR))]), SR)
    af.write_audio(root / "hike.flac", af.compose(8.0, SR, [(1.0, af.speech("the trail climbs up to the lake", SR))]), SR)
    af.write_audio(root / "quiet.ogg", af.silence(5.0, SR), SR)
    af.write_audio(root / "beep.wav", af.tone(3.0, SR), SR)
    speech_at = af.write_video_with_speech(root / "clip.mp4", "the rocket lifts off from the launch pad", 4.0, 10.0)
    af.write_corrupt(root / "broken.mp3")
    af.write_empty(root / "empty.wav")
    af.write_audio(root / "blip.wav", af.tone(0.01, SR), SR)
    lib = root / "lib"
    with Engine(lib, model="toy", audio_model="off") as engine:
        report = engine.index([root])
    return root, lib, report, speech_at


def test_spoken_sentence_found_by_paraphrase_at_the_right_time(spoken_library):
    root, lib, _, _ = spoken_library
    with Engine(lib) as engine:
        hit = engine.search("where do they talk about reducing spending", k=3)[0]
    assert hit.path == str(root / "meeting.wav") and hit.kind == "audio" and hit.space == "text"
    assert abs(hit.start - 6.0) <= 1.0
    assert "budget" in hit.text.lower()


def test_video_soundtrack_speech_lands_on_the_video_timeline(spoken_library):
    root, lib, _, (start, end) = spoken_library
    with Engine(lib) as engine:
        hit = engine.search("a rocket launch", k=1, kinds=["video"])[0]
    assert hit.path == str(root / "clip.mp4") and hit.kind == "video"
    assert abs(hit.start - start) <= 1.0 and hit.space == "text"


def test_silence_and_tones_give_no_transcript(spoken_library):
    root, lib, _, _ = spoken_library
    with Engine(lib) as engine:
        assert engine.transcript(root / "quiet.ogg") == []
        assert engine.transcript(root / "beep.wav") == []
        meeting = engine.transcript(root / "meeting.wav")
    assert len(meeting) == 1 and "budget" in meeting[0]["text"].lower()


def test_bad_audio_is_recorded_never_fatal(spoken_library):
    root, lib, report, _ = spoken_library
    with Engine(lib) as engine:
        errors = {os.path.basename(e["path"]): e["message"] for e in engine.errors()}
        indexed = {os.path.basename(m.path) for m in engine.catalog.all_media()}
    assert {"broken.mp3", "empty.wav"} <= set(errors)
    assert "empty" in errors["empty.wav"]
    assert {"meeting.wav", "hike.flac", "quiet.ogg", "beep.wav", "clip.mp4"} <= indexed
    assert "blip.wav" in indexed or "blip.wav" in errors  # 10 ms: indexed (nothing said) or recorded
    assert not any(w.startswith("audio pending") for w in report.warnings)  # turned off: the user's choice


def test_keyword_search_and_cli(spoken_library):
    root, lib, _, _ = spoken_library
    runner = CliRunner()
    r = runner.invoke(app, ["search", "marketing budget", "--keyword", "--library", str(lib), "--json"])
    hits = json.loads(r.stdout)
    assert [h["path"] for h in hits] == [str(root / "meeting.wav")] and hits[0]["space"] == "keyword"
    r = runner.invoke(app, ["transcript", str(root / "meeting.wav"), "--library", str(lib)])
    assert r.exit_code == 0 and "budget" in r.stdout.lower() and "00:00:0" in r.stdout
    stats = json.loads(runner.invoke(app, ["stats", "--library", str(lib), "--json"]).stdout)
    assert {s["name"] for s in stats["spaces"]} >= {"clip", "text"}


def test_clap_windows_on_the_timeline_with_a_tiny_model(tmp_path, tiny_clap_dir):
    root = tmp_path / "sounds"
    root.mkdir()
    af.write_audio(root / "long.wav", af.noise(23.0, SR), SR)
    af.write_audio(root / "short.wav", af.tone(1.5, SR), SR)
    with Engine(tmp_path / "lib", model="toy", audio_model=str(tiny_clap_dir), speech_model="off") as engine:
        report = engine.index([root])
        assert report.added == 2 and report.failed == 0
        space = engine.catalog.space("audio")
        assert space is not None and space.dim == 24
        long_id = engine.catalog.media_by_path(str(root / "long.wav")).id
        windows = [(s.start, s.end) for s in engine.catalog.segments_of_media(long_id, kinds=["audio"])]
        assert windows == [(0.0, 10.0), (5.0, 15.0), (10.0, 20.0), (13.0, 23.0)]
        short_id = engine.catalog.media_by_path(str(root / "short.wav")).id
        assert [(s.start, s.end) for s in engine.catalog.segments_of_media(short_id, kinds=["audio"])] == [(0.0, 1.5)]
        # the index and the catalog agree, and a text query searches the audio space
        assert engine.library.index(space).ntotal == 5 == len(engine.catalog.vector_ids(space.id))
        hits = engine.search("a dog barking", k=5, kinds=["audio"])
        assert {h.space for h in hits} == {"audio"} and len({(h.path, h.start) for h in hits}) == len(hits)
        assert any(s["name"] == "audio" and s["active"] and s["vectors"] == 5 for s in engine.stats()["spaces"])


def test_an_audio_model_other_than_the_recorded_one_stops_the_run_and_fails_no_file(tmp_path, tiny_clap_dir):
    """A mismatch is the library's, not a file's: the run stops with the one line that says how to re-embed,
    and the new recording is not marked failed (a failed file is skipped until it changes)."""
    import shutil

    from mmsearch import ModelMismatchError

    root = tmp_path / "sounds"
    root.mkdir()
    af.write_audio(root / "first.wav", af.tone(1.5, SR), SR)
    with Engine(tmp_path / "lib", model="toy", audio_model=str(tiny_clap_dir), speech_model="off") as engine:
        assert engine.index([root]).added == 1
    other = tmp_path / "other-clap"
    shutil.copytree(tiny_clap_dir, other)
    af.write_audio(root / "second.wav", af.noise(3.0, SR), SR)
    with Engine(tmp_path / "lib", model="toy", audio_model=str(other), speech_model="off") as engine:
        with pytest.raises(ModelMismatchError, match="reembed"):
            engine.index([root])
    with Engine(tmp_path / "lib", model="toy", speech_model="off") as engine:
        assert engine.errors() == []
        report = engine.index([root])  # the recorded model: the new file is indexed now
        assert report.added == 1 and report.failed == 0


def test_unavailable_audio_model_keeps_the_library_working(tmp_path, colour_folder):
    af.write_audio(colour_folder / "tone.wav", af.tone(2.0, SR), SR)
    with Engine(tmp_path / "lib", model="toy", audio_model=str(tmp_path / "no-such-clap"), speech_model="off") as engine:
        report = engine.index([colour_folder])
        assert report.failed == 0 and any("MMSEARCH_AUDIO_MODEL" in w for w in report.warnings)
        assert engine.search("red", k=1, kinds=["image"])[0].path.endswith("red.png")
        audio = [s for s in engine.stats()["spaces"] if s["name"] == "audio"]
        assert audio and audio[0]["active"] is False and "MMSEARCH_AUDIO_MODEL" in audio[0]["reason"]


def test_merged_ranking_uses_calibrated_scores_not_raw_cosines(tmp_path):
    """Two spaces with very different cosine scales: the calibrated merge still puts each query's
    true match first, whichever space it lives in."""
    if not af.HAVE_ESPEAK:
        pytest.skip("espeak-ng not installed (make test installs it)")
    from conftest import solid

    root = tmp_path / "m"
    root.mkdir()
    solid(root / "red.png", "red")
    solid(root / "blue.png", "blue")
    af.write_audio(root / "talk.wav", af.compose(6.0, SR, [(1.0, af.speech("the weather will be sunny tomorrow", SR))]), SR)
    with Engine(tmp_path / "lib", model="toy", audio_model="off") as engine:
        engine.index([root])
        assert engine.search("red", k=1)[0].path.endswith("red.png")
        forecast = engine.search("what is the forecast for tomorrow", k=1)[0]
        assert forecast.path.endswith("talk.wav") and forecast.space == "text"
        hits = engine.search("red", k=4)
        assert np.all(np.diff([h.score for h in hits]) <= 0)


def test_scene_and_speech_hits_of_one_video_merge_on_one_timeline(tmp_path):
    """A video whose picture and soundtrack both match a query gives one hit for that moment, not two."""
    if not af.HAVE_ESPEAK:
        pytest.skip("espeak-ng not installed (make test installs it)")
    root = tmp_path / "v"
    root.mkdir()
    start, end = af.write_video_with_speech(root / "sky.mp4", "look at the blue sky today", 2.0, 6.0)
    with Engine(tmp_path / "lib", model="toy", audio_model="off") as engine:
        engine.index([root])
        media = engine.catalog.media_by_path(str(root / "sky.mp4"))
        kinds = {s.kind for s in engine.catalog.segments_of_media(media.id)}
        assert {"scene", "frame", "speech"} <= kinds  # both spaces hold segments of this video
        speech = engine.transcript(root / "sky.mp4")
        assert len(speech) == 1 and abs(speech[0]["start"] - start) <= 1.0
        for query in ("look at the blue sky today", "sky"):
            hits = engine.search(query, k=10, kinds=["video"])
            spans = sorted((h.start, h.end) for h in hits)
            assert spans and all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), spans  # found, no overlaps
            assert any(h.start <= speech[0]["start"] < h.end for h in hits)  # the spoken moment is covered
