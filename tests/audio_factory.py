"""Helpers that make test audio (and video with a soundtrack) on the fly.

Everything is generated: espeak-ng speech, sine tones, silence, noise, and broken files (random bytes,
empty, header only, truncated). Waves are float32 numpy arrays, mono ``(n,)`` or multi-channel
``(channels, n)`` — the convention of :func:`mmsearch.media.audio.load_audio`.

Other test modules import these; speech needs the ``espeak-ng`` binary (``apt-get install espeak-ng``):
guard such tests with ``requires_espeak``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

ESPEAK = shutil.which("espeak-ng") or shutil.which("espeak")
HAVE_ESPEAK = ESPEAK is not None
requires_espeak = pytest.mark.skipif(not HAVE_ESPEAK, reason="espeak-ng not installed (apt-get install espeak-ng)")


# --------------------------------------------------------------------------------------------------
# waves
# --------------------------------------------------------------------------------------------------


def speech(text: str, sample_rate: int = 16000, voice: str = "en-us", words_per_minute: int = 150) -> np.ndarray:
    """``text`` spoken by espeak-ng, mono float32 at ``sample_rate``, leading/trailing silence trimmed."""
    if not HAVE_ESPEAK:
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng; .ci/system-deps.sh installs it)")
    import soundfile as sf

    from mmsearch.media.audio import resample

    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "speech.wav")
        subprocess.run(
            [ESPEAK, "-v", voice, "-s", str(words_per_minute), "-w", wav, text],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        x, sr = sf.read(wav, dtype="float32", always_2d=False)
    if x.ndim > 1:
        x = x.mean(axis=1)
    nz = np.flatnonzero(np.abs(x) > 1e-3)
    if nz.size:
        x = x[nz[0] : nz[-1] + 1]
    return resample(x, sr, sample_rate).astype(np.float32)


def tone(seconds: float, sample_rate: int = 16000, freq: float = 440.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(round(seconds * sample_rate)), dtype=np.float64) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def silence(seconds: float, sample_rate: int = 16000) -> np.ndarray:
    return np.zeros(int(round(seconds * sample_rate)), dtype=np.float32)


def noise(seconds: float, sample_rate: int = 16000, amplitude: float = 0.1, seed: int = 0) -> np.ndarray:
    """White noise, uniform in [-amplitude, amplitude]."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-amplitude, amplitude, int(round(seconds * sample_rate))).astype(np.float32)


def compose(total_seconds: float, sample_rate: int, placements: Sequence[tuple[float, np.ndarray]]) -> np.ndarray:
    """A silent clip of ``total_seconds`` with each ``(start_seconds, wave)`` mixed in at its start."""
    out = silence(total_seconds, sample_rate)
    for start, wave in placements:
        i = int(round(start * sample_rate))
        j = min(out.shape[0], i + wave.shape[0])
        out[i:j] += wave[: j - i]
    np.clip(out, -1.0, 1.0, out=out)
    return out


def stereo(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    n = min(left.shape[0], right.shape[0])
    return np.stack([left[:n], right[:n]]).astype(np.float32)


# --------------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------------

_SF_FORMATS = {
    ".wav": ("WAV", "PCM_16"),
    ".flac": ("FLAC", "PCM_16"),
    ".ogg": ("OGG", "VORBIS"),
    ".oga": ("OGG", "VORBIS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
    ".opus": ("OGG", "OPUS"),  # libsndfile writes opus at 8/12/16/24/48 kHz only
}


def write_audio(path: os.PathLike | str, wave: np.ndarray, sample_rate: int) -> Path:
    """Write ``wave`` (``(n,)`` or ``(channels, n)``) to ``path``; the format follows the suffix.

    wav/flac/ogg/oga/mp3/opus go through libsndfile, m4a (AAC) through PyAV.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    wave = np.asarray(wave, dtype=np.float32)
    if suffix in _SF_FORMATS:
        import soundfile as sf

        fmt, subtype = _SF_FORMATS[suffix]
        data = wave[:, None] if wave.ndim == 1 else wave.T
        # write in blocks: libsndfile's Vorbis encoder overflows its stack on one large write (segfault)
        with sf.SoundFile(str(path), "w", sample_rate, data.shape[1], subtype, format=fmt) as f:
            for i in range(0, data.shape[0], 8192):
                f.write(data[i : i + 8192])
    elif suffix == ".m4a":
        _write_av(path, None, wave, sample_rate, fmt="mp4")
    else:
        raise ValueError(f"no writer for {suffix}")
    return path


def write_corrupt(path: os.PathLike | str, size: int = 4096, seed: int = 0) -> Path:
    """Random bytes under an audio extension."""
    path = Path(path)
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())
    return path


def write_empty(path: os.PathLike | str) -> Path:
    path = Path(path)
    path.write_bytes(b"")
    return path


def write_header_only(path: os.PathLike | str, sample_rate: int = 16000) -> Path:
    """A file that has a valid header and no samples (wav: 44-byte RIFF header; flac: fLaC + STREAMINFO)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".wav":
        write_audio(path, np.zeros(0, np.float32), sample_rate)
    else:
        write_audio(path, tone(1.0, sample_rate), sample_rate)
        head = {".flac": 42}.get(suffix, 64)  # "fLaC" + the STREAMINFO block; else the first page's start
        data = path.read_bytes()[:head]
        path.write_bytes(data)
    return path


def truncate(src: os.PathLike | str, dst: os.PathLike | str, keep_fraction: float = 0.5) -> Path:
    """Copy the first ``keep_fraction`` of ``src``'s bytes to ``dst`` (a download cut short)."""
    data = Path(src).read_bytes()
    dst = Path(dst)
    dst.write_bytes(data[: max(1, int(len(data) * keep_fraction))])
    return dst


# --------------------------------------------------------------------------------------------------
# video
# --------------------------------------------------------------------------------------------------


def _video_frames(seconds: float, fps: int, size: tuple[int, int]) -> list[np.ndarray]:
    """Frames whose colour changes at the half (two "scenes"), with a bar moving left to right."""
    w, h = size
    n = max(1, int(round(seconds * fps)))
    frames = []
    for i in range(n):
        img = np.empty((h, w, 3), np.uint8)
        img[:] = (200, 40, 40) if i < n // 2 else (40, 60, 200)
        x = int(i / n * (w - 4))
        img[:, x : x + 4] = 255
        frames.append(img)
    return frames


def _write_av(
    path: Path,
    video: tuple[float, int, tuple[int, int]] | None,
    audio: np.ndarray | None,
    sample_rate: int,
    fmt: str | None = None,
) -> None:
    import av

    suffix = path.suffix.lower()
    audio_codec = {".mkv": "flac", ".webm": "libopus"}.get(suffix, "aac")
    video_codec = {".webm": "libvpx-vp9"}.get(suffix, "libx264")
    with av.open(str(path), mode="w", format=fmt) as out:
        vs = as_ = None
        if video is not None:
            seconds, fps, size = video
            vs = out.add_stream(video_codec, rate=fps)
            vs.width, vs.height = size
            vs.pix_fmt = "yuv420p"
            if video_codec == "libx264":
                vs.options = {"preset": "ultrafast"}
        if audio is not None:
            rate = 48000 if audio_codec == "libopus" else sample_rate
            as_ = out.add_stream(audio_codec, rate=rate)
            as_.layout = "mono" if audio.ndim == 1 else "stereo"
            if rate != sample_rate:
                from mmsearch.media.audio import resample

                audio = resample(audio, sample_rate, rate)
            sample_rate = rate
        if vs is not None:
            for i, img in enumerate(_video_frames(*video)):  # type: ignore[misc]
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                frame.pts = i
                frame.time_base = Fraction(1, video[1])  # type: ignore[index]
                for packet in vs.encode(frame):
                    out.mux(packet)
            for packet in vs.encode(None):
                out.mux(packet)
        if as_ is not None:
            a2 = audio[None, :] if audio.ndim == 1 else audio  # type: ignore[union-attr]
            fmt_name = "fltp"
            if audio_codec == "flac":
                fmt_name = "s16"
                step = 4096
            else:
                step = 1024 if audio_codec == "aac" else 960
            for k, i in enumerate(range(0, a2.shape[1], step)):
                block = a2[:, i : i + step]
                if audio_codec == "flac":
                    arr = (np.clip(block, -1, 1) * 32767).astype(np.int16).T.reshape(1, -1)
                else:
                    arr = np.ascontiguousarray(block, dtype=np.float32)
                frame = av.AudioFrame.from_ndarray(arr, format=fmt_name, layout=as_.layout.name)
                frame.sample_rate = sample_rate
                frame.pts = i
                frame.time_base = Fraction(1, sample_rate)
                for packet in as_.encode(frame):
                    out.mux(packet)
            for packet in as_.encode(None):
                out.mux(packet)


def write_video(
    path: os.PathLike | str,
    seconds: float,
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
    fps: int = 10,
    size: tuple[int, int] = (64, 48),
) -> Path:
    """A small video (.mp4: H.264 + AAC, .mkv: H.264 + FLAC, .webm: VP9 + Opus); no audio when ``audio`` is None."""
    path = Path(path)
    _write_av(path, (seconds, fps, size), audio, sample_rate)
    return path


def write_video_with_speech(
    path: os.PathLike | str,
    text: str,
    speech_start: float,
    seconds: float,
    sample_rate: int = 16000,
    fps: int = 10,
) -> tuple[float, float]:
    """A video whose soundtrack is silence with ``text`` spoken from ``speech_start``; returns (start, end) of speech."""
    words = speech(text, sample_rate)
    end = speech_start + words.shape[0] / sample_rate
    if end > seconds:
        raise ValueError(f"speech ends at {end:.2f}s, after the video ({seconds}s)")
    write_video(path, seconds, compose(seconds, sample_rate, [(speech_start, words)]), sample_rate, fps)
    return speech_start, end
