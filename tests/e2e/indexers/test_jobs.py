"""Spaces as independent jobs per file: what can run now runs, the rest is pending and backfilled later."""
from __future__ import annotations

import os
import subprocess
import sys

from mmsearch import Engine

from audio_factory import compose, requires_espeak, speech, tone, write_audio
from conftest import solid

MISSING_CLIP = "ViT-B-32:/nonexistent/open_clip_model.bin"


def _folder(tmp_path):
    root = tmp_path / "media"
    for colour in ("red", "green", "blue"):
        solid(root / f"{colour}.png", colour)
    (root / "red.txt").write_text("a red square")
    (root / "notes").mkdir()
    (root / "notes" / "garden.md").write_text("The tulips in the garden bloom in April.")
    return root


def test_without_a_clip_model_files_are_catalogued_texts_searchable_and_clip_pending(tmp_path):
    root = _folder(tmp_path)
    with Engine(tmp_path / "lib", model=MISSING_CLIP, audio_model="off", speech_model="off") as e:
        report = e.index([root])
        assert report.added == 5 and report.failed == 0
        assert any(w.startswith("clip pending") and "MMSEARCH_MODEL" in w for w in report.warnings)
        assert report.jobs["clip"] == {"done": 0, "pending": 5, "failed": 0}
        assert report.jobs["text"] == {"done": 2, "pending": 0, "failed": 0}  # the sentence model is bundled
        hits = e.search("when do the flowers bloom", k=1)  # found by meaning in the sentence space
        assert hits[0].path == str(root / "notes" / "garden.md") and "text" in hits[0].extra["signals"]
        assert e.stats()["jobs"]["clip"]["pending"] == 5


def test_a_later_run_backfills_only_the_pending_work(tmp_path):
    root = _folder(tmp_path)
    lib = tmp_path / "lib"
    with Engine(lib, model=MISSING_CLIP, audio_model="off", speech_model="off") as e:
        e.index([root])
        text_vectors = e.stats()["spaces"]
    before = {s["name"]: s["vectors"] for s in text_vectors}
    with Engine(lib, model="toy", audio_model="off", speech_model="off") as e:
        report = e.index()  # no paths: the library's own roots
        assert report.backfilled == 5 and report.added == 0 and report.unchanged == 5
        assert report.jobs["clip"] == {"done": 5, "pending": 0, "failed": 0}
        vectors = {s["name"]: s["vectors"] for s in e.stats()["spaces"]}
        assert vectors["text"] == before["text"]  # the sentence space was not re-embedded
        assert vectors["clip"] == 3 + 2  # three images, two text passages
        assert e.search("green", k=1, kinds=["image"])[0].path == str(root / "green.png")
        assert e.check().ok
        again = e.index()
        assert again.backfilled == 0 and again.unchanged == 5


def test_no_model_at_all_is_an_error_and_strict_fails_on_pending_work(tmp_path):
    root = tmp_path / "pics"
    solid(root / "red.png", "red")
    env = dict(os.environ, MMSEARCH_AUDIO_MODEL="off", MMSEARCH_SPEECH_MODEL="off", MMSEARCH_OCR_MODEL="off")
    lib = str(tmp_path / "lib")
    cli = [sys.executable, "-m", "mmsearch.cli", "index", str(root), "--library", lib, "--model", MISSING_CLIP]
    nothing = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=300)
    assert nothing.returncode == 2 and "no embedding model could run" in nothing.stderr
    (root / "note.txt").write_text("a note")
    partly = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=300)
    assert partly.returncode == 0, partly.stderr
    assert "clip pending" in partly.stderr
    strict = subprocess.run(cli + ["--strict"], capture_output=True, text=True, env=env, timeout=300)
    assert strict.returncode == 2 and "pending" in strict.stderr


@requires_espeak
def test_sound_backfill_keeps_the_speech_and_adds_the_windows(tmp_path, tiny_clap_dir):
    root = tmp_path / "rec"
    root.mkdir()
    wave = compose(12.0, 16000, [(0.5, speech("the budget meeting starts at noon")), (8.0, tone(2.0))])
    write_audio(root / "meeting.wav", wave, 16000)
    lib = tmp_path / "lib"
    with Engine(lib, model="toy", audio_model="off") as e:
        first = e.index([root])
        assert first.jobs["audio"]["pending"] == 1 and first.jobs["speech"]["done"] == 1
        spoken = e.transcript(root / "meeting.wav")
        assert spoken and "budget" in " ".join(p["text"] for p in spoken).lower()
    with Engine(lib, model="toy", audio_model=str(tiny_clap_dir)) as e:
        report = e.index([root])
        assert report.backfilled == 1 and report.jobs["audio"] == {"done": 1, "pending": 0, "failed": 0}
        assert e.transcript(root / "meeting.wav") == spoken  # speech untouched
        kinds = {s.kind for s in e.catalog.segments_of_media(e.catalog.media_by_path(str(root / "meeting.wav")).id)}
        assert kinds == {"speech", "audio"}
        assert e.check().ok


def test_a_run_with_nothing_new_is_not_an_error_for_want_of_a_model(tmp_path):
    """With work left pending (OCR off) and nothing new to index, a repeat run or a deletion-only run
    exits 0: no model was needed (the watcher runs such batches all day)."""
    root = tmp_path / "pics"
    solid(root / "red.png", "red")
    solid(root / "blue.png", "blue")
    env = dict(os.environ, MMSEARCH_AUDIO_MODEL="off", MMSEARCH_SPEECH_MODEL="off", MMSEARCH_OCR_MODEL="off")
    cli = [sys.executable, "-m", "mmsearch.cli", "index", str(root), "--library", str(tmp_path / "lib"),
           "--model", "toy"]
    first = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0 and "unchanged 2" in again.stdout, again.stderr
    (root / "blue.png").unlink()
    kept = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=300)
    assert kept.returncode == 0 and "missing 1" in kept.stdout, kept.stderr  # kept for the grace runs
    removed = subprocess.run([*cli, "--prune"], capture_output=True, text=True, env=env, timeout=300)
    assert removed.returncode == 0 and "removed 1" in removed.stdout, removed.stderr
