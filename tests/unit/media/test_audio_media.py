"""mmsearch.media.audio: decoding, resampling, down-mixing, windows, chunks, and bad files."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmsearch.errors import MediaError
from mmsearch.media.audio import (
    AUDIO_EXTENSIONS,
    AudioInfo,
    has_audio_stream,
    iter_audio_chunks,
    load_audio,
    probe_audio,
    windows,
)

import audio_factory as af

SAMPLES = Path(__file__).resolve().parents[3] / "sample_data" / "audio"


def onset(x: np.ndarray, sr: int, threshold: float = 0.05) -> float:
    return float(np.flatnonzero(np.abs(x) > threshold)[0]) / sr


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One clip in every format: 6 s at 16 kHz (48 kHz for opus), silent but for a tone burst at 2.0-3.0 s."""
    d = tmp_path_factory.mktemp("audio")
    out = {}
    for ext in (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".opus"):
        sr = 48000 if ext == ".opus" else 16000
        wave = af.compose(6.0, sr, [(2.0, af.tone(1.0, sr, 440.0, 0.5))])
        out[ext] = af.write_audio(d / f"clip{ext}", wave, sr)
    return out


# ----------------------------------------------------------------------------------------------
# windows
# ----------------------------------------------------------------------------------------------


def test_windows_cover_the_whole_file_with_the_last_aligned_to_the_end():
    w = windows(25.0, 10.0, 5.0)
    assert w == [(0.0, 10.0), (5.0, 15.0), (10.0, 20.0), (15.0, 25.0)]
    w = windows(23.0, 10.0, 5.0)
    assert w[0] == (0.0, 10.0) and w[-1] == (13.0, 23.0)
    assert all(b - a == pytest.approx(10.0) for a, b in w)
    assert all(w[i + 1][0] <= w[i][1] for i in range(len(w) - 1))  # no gaps


def test_windows_short_and_degenerate_clips():
    assert windows(3.2, 10.0, 5.0) == [(0.0, 3.2)]
    assert windows(10.0, 10.0, 5.0) == [(0.0, 10.0)]
    assert windows(0.0, 10.0, 5.0) == []
    assert windows(10.5, 10.0, 10.0) == [(0.0, 10.0), (0.5, 10.5)]
    with pytest.raises(ValueError):
        windows(30.0, 10.0, 12.0)
    with pytest.raises(ValueError):
        windows(30.0, 0.0, 1.0)


# ----------------------------------------------------------------------------------------------
# decoding
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", [".wav", ".flac", ".ogg", ".mp3", ".m4a", ".opus"])
@pytest.mark.parametrize("rate", [16000, 48000])
def test_every_format_decodes_and_resamples_to_the_right_length(files, ext, rate):
    x = load_audio(files[ext], rate)
    assert x.dtype == np.float32 and x.ndim == 1
    slack = 2048 * rate // 16000 if ext == ".m4a" else 2  # AAC pads its last frame
    assert 6 * rate <= len(x) <= 6 * rate + slack
    assert np.abs(x).max() <= 1.0
    assert onset(x, rate) == pytest.approx(2.0, abs=0.01)  # timeline preserved (codec delay removed)
    info = probe_audio(files[ext])
    assert isinstance(info, AudioInfo)
    assert info.duration == pytest.approx(6.0, abs=0.1) and info.channels == 1
    assert has_audio_stream(files[ext])


def test_resampling_from_44k1_gives_exact_lengths(tmp_path):
    p = af.write_audio(tmp_path / "a.wav", af.tone(3.0, 44100), 44100)
    assert load_audio(p, 16000).shape == (48000,)
    assert load_audio(p, 48000).shape == (144000,)
    assert load_audio(p, 44100).shape == (132300,)
    assert probe_audio(p) == AudioInfo(3.0, 44100, 1)


def test_stereo_is_mixed_down_to_mono(tmp_path):
    left = af.tone(2.0, 22050, 300.0, 0.4)
    p = af.write_audio(tmp_path / "st.flac", af.stereo(left, -left), 22050)  # opposite phase: sums to 0
    assert np.abs(load_audio(p, 16000)).max() < 1e-3
    q = af.write_audio(tmp_path / "st2.flac", af.stereo(left, af.silence(2.0, 22050)), 22050)
    mono = load_audio(q, 22050)
    assert np.allclose(mono, left / 2, atol=1e-3)
    both = load_audio(q, 16000, mono=False)
    assert both.shape == (2, 32000)
    assert probe_audio(q).channels == 2


def test_max_seconds_and_start_read_only_what_is_asked(files):
    for ext in (".wav", ".mp3", ".m4a"):
        x = load_audio(files[ext], 16000, start=1.5, max_seconds=2.0)
        assert x.shape == (32000,)
        assert onset(x, 16000) == pytest.approx(0.5, abs=0.01)


def test_chunks_match_the_whole_file(files, tmp_path):
    p = af.write_audio(tmp_path / "long.flac", af.stereo(af.tone(7.3, 44100), af.noise(7.3, 44100)), 44100)
    for path in (p, files[".m4a"]):
        whole = load_audio(path, 16000)
        chunks = list(iter_audio_chunks(path, 16000, chunk_seconds=2.0))
        assert [c.start for c in chunks[:3]] == [0.0, 2.0, 4.0]
        joined = np.concatenate([c.samples for c in chunks])
        assert joined.shape == whole.shape
        assert np.abs(joined - whole).max() < 1e-4
        overlapping = list(iter_audio_chunks(path, 16000, chunk_seconds=3.0, overlap_seconds=1.0))
        for c in overlapping:
            i = int(round(c.start * 16000))
            assert np.abs(whole[i : i + len(c.samples)] - c.samples).max() < 1e-4
        assert overlapping[-1].start + len(overlapping[-1].samples) / 16000 == pytest.approx(len(whole) / 16000)


# ----------------------------------------------------------------------------------------------
# video containers
# ----------------------------------------------------------------------------------------------


@af.requires_espeak
def test_every_decoder_chain_gives_the_same_samples_and_skips_what_a_decoder_cannot_open(files):
    """The CHAINS table: libsndfile and FFmpeg decode a wav to the same samples; a chain skips a decoder that
    does not accept the extension (libsndfile never sees an .m4a), and the last decoder's error is the caller's."""
    from mmsearch.media.audio.pyav_source import PyAVSource
    from mmsearch.media.audio.soundfile_source import SoundfileSource
    from mmsearch.media.audio.sources import CHAINS, open_source

    def samples(path, backend):
        with open_source(path, 0.0, backend) as src:
            return src.backend, np.concatenate(list(src.blocks()), axis=1)

    decoded = {backend: samples(files[".wav"], backend) for backend in CHAINS}
    assert {backend: name for backend, (name, _) in decoded.items()} == {"auto": "soundfile", "pyav": "pyav"}
    np.testing.assert_allclose(decoded["auto"][1], decoded["pyav"][1], atol=1e-4)
    assert not SoundfileSource.accepts(files[".m4a"]) and PyAVSource.accepts(files[".m4a"])
    assert samples(files[".m4a"], "auto")[0] == "pyav"


def test_the_soundtrack_of_a_video_is_decoded(tmp_path):
    start, end = af.write_video_with_speech(tmp_path / "talk.mp4", "hello, the budget meeting starts now", 2.0, 8.0)
    x = load_audio(tmp_path / "talk.mp4", 16000)
    assert x.shape == (8 * 16000,)
    assert onset(x, 16000, 0.02) == pytest.approx(start, abs=0.05)
    assert has_audio_stream(tmp_path / "talk.mp4")
    assert probe_audio(tmp_path / "talk.mp4").duration == pytest.approx(8.0, abs=0.1)


@pytest.mark.parametrize("ext", [".mkv", ".webm"])
def test_other_video_containers(tmp_path, ext):
    p = af.write_video(tmp_path / f"v{ext}", 3.0, af.tone(3.0, 16000), 16000)
    x = load_audio(p, 16000)
    assert len(x) == pytest.approx(48000, abs=400)
    assert has_audio_stream(p)


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_a_video_without_audio(tmp_path, ext):
    p = af.write_video(tmp_path / f"silent{ext}", 2.0)
    assert has_audio_stream(p) is False
    with pytest.raises(MediaError, match="no audio stream") as e:
        load_audio(p, 16000)
    assert e.value.stage == "decode"
    with pytest.raises(MediaError, match="no audio stream"):
        probe_audio(p)
    with pytest.raises(MediaError, match="no audio stream"):
        list(iter_audio_chunks(p, 16000))


# ----------------------------------------------------------------------------------------------
# bad files: a MediaError that says what is wrong, or a short valid array; never anything else
# ----------------------------------------------------------------------------------------------

BAD_EXTS = [".wav", ".flac", ".ogg", ".mp3"]


def _outcome(path: Path):
    try:
        x = load_audio(path, 16000)
    except MediaError as e:
        assert path.name in str(e) and e.stage == "decode"
        return e
    assert isinstance(x, np.ndarray) and x.dtype == np.float32 and x.ndim == 1 and len(x) > 0
    assert np.isfinite(x).all() and np.abs(x).max() <= 1.0
    return x


@pytest.mark.parametrize("ext", BAD_EXTS)
def test_empty_file(tmp_path, ext):
    p = af.write_empty(tmp_path / f"empty{ext}")
    with pytest.raises(MediaError, match=r"empty file \(0 bytes\)"):
        load_audio(p, 16000)
    with pytest.raises(MediaError, match="empty file"):
        probe_audio(p)
    assert has_audio_stream(p) is False


def _stream_verdict(path: Path) -> bool:
    """``has_audio_stream`` agrees with ``probe_audio``: a stream exists exactly when probing gets past opening
    the file and finding an audio stream (it succeeds, or finds no decodable samples in that stream)."""
    has = has_audio_stream(path)
    try:
        probe_audio(path)
        opened = True
    except MediaError as e:
        assert path.name in str(e)
        opened = "no decodable samples" in str(e)
    assert has is opened, (path.name, has)
    return has


MAGIC = {".wav", ".ogg", ".m4a", ".opus"}  # containers that start with a signature random bytes lack


@pytest.mark.parametrize("ext", BAD_EXTS + [".m4a", ".opus"])
def test_corrupt_file(tmp_path, ext):
    p = af.write_corrupt(tmp_path / f"corrupt{ext}")
    assert isinstance(_outcome(p), MediaError)
    with pytest.raises(MediaError, match=p.name):
        probe_audio(p)
    has = _stream_verdict(p)
    if ext in MAGIC:
        assert has is False


@pytest.mark.parametrize("ext", BAD_EXTS)
def test_header_only_file(tmp_path, ext):
    p = af.write_header_only(tmp_path / f"header{ext}")
    result = _outcome(p)
    assert isinstance(result, MediaError)
    if ext == ".wav":
        assert "no audio samples" in str(result)
        assert _stream_verdict(p) is True  # a valid header declares the stream; it holds no samples
    else:
        _stream_verdict(p)


@pytest.mark.parametrize("ext", BAD_EXTS + [".m4a", ".opus"])
def test_very_short_file_gives_a_short_array(tmp_path, ext):
    sr = 48000 if ext == ".opus" else 16000
    p = af.write_audio(tmp_path / f"short{ext}", af.tone(0.01, sr), sr)
    x = load_audio(p, 16000)
    assert 100 <= len(x) <= 1100  # 10 ms = 160 samples; AAC rounds up to one 1024-sample frame
    assert probe_audio(p).duration < 0.1


@pytest.mark.parametrize("ext", BAD_EXTS)
@pytest.mark.parametrize("keep", [0.5, 0.02])
def test_truncated_file(files, tmp_path, ext, keep):
    p = af.truncate(files[ext], tmp_path / f"cut{keep}{ext}", keep)
    result = _outcome(p)
    if isinstance(result, np.ndarray):
        assert len(result) <= 6 * 16000
    if keep == 0.5 and ext in (".wav", ".mp3"):
        assert isinstance(result, np.ndarray) and len(result) > 16000  # what is there is kept


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(MediaError, match="file not found"):
        load_audio(tmp_path / "nope.wav", 16000)
    (tmp_path / "dir.wav").mkdir()
    with pytest.raises(MediaError, match="not a regular file"):
        load_audio(tmp_path / "dir.wav", 16000)
    assert has_audio_stream(tmp_path / "nope.wav") is False


# ----------------------------------------------------------------------------------------------
# sample data
# ----------------------------------------------------------------------------------------------


def test_sample_data_decodes_and_matches_its_manifest():
    manifest = json.loads((SAMPLES / "transcripts.json").read_text())
    assert {e["kind"] for e in manifest} == {"speech", "sound"}
    for entry in manifest:
        p = SAMPLES / entry["file"]
        assert p.suffix in AUDIO_EXTENSIONS
        info = probe_audio(p)
        x = load_audio(p, 16000)
        assert len(x) == pytest.approx(info.duration * 16000, abs=2)
        for seg in entry["segments"]:
            assert 0 <= seg["start"] < seg["end"] <= info.duration
            quiet = x[: int(seg["start"] * 16000) - 800]
            assert np.abs(quiet).max() < 0.01  # silence before the sentence, as the manifest says
    assert sum(p.stat().st_size for p in SAMPLES.iterdir()) < 1_000_000
