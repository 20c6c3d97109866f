"""Audio decoding: files (and the soundtrack of video containers) to float32 sample arrays.

No ML here. Decoding goes through libsndfile (``soundfile``: wav, flac, ogg/vorbis/opus, mp3) first and
falls back to FFmpeg through PyAV for everything else (m4a/aac, opus in odd containers, the audio track of
mp4/mkv/webm/mov/avi, and files libsndfile rejects). Channel down-mixing and resampling are done here with
``torchaudio.functional.resample`` (band-limited sinc), never with ``torchaudio.load`` (which would need
torchcodec and a system FFmpeg).

Timeline: sample 0 of every array returned here is the first audio sample of the file's audio stream,
so ``index / sample_rate`` is a time in seconds on the file's audio timeline.

Memory: :func:`load_audio` holds the decoded part of the file at its native rate plus the resampled
copy, so it reads at most ``max_seconds`` (never the whole file when a limit is given). For long files use
:func:`iter_audio_chunks`, which decodes the file once, front to back, and yields fixed-length resampled
chunks while holding only about one chunk of audio in memory.

Bad input never crashes the caller: every decoding failure is a :class:`~mmsearch.errors.MediaError`
(``stage="decode"``) whose message names the file and what was wrong with it.
"""
from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Union

import numpy as np

from mmsearch.errors import MediaError
from mmsearch.media.metadata import container_tags

if TYPE_CHECKING:  # PyAV is imported when a file needs it
    from av.audio.frame import AudioFrame
    from av.audio.resampler import AudioResampler

log = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

#: Extensions that the scanner should treat as audio files.
AUDIO_EXTENSIONS: frozenset[str] = frozenset({".wav", ".mp3", ".flac", ".ogg", ".oga", ".m4a", ".opus"})

# Extensions libsndfile cannot open at all: go straight to PyAV and save a failed open.
_PYAV_ONLY = frozenset({".m4a", ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".aac", ".wma", ".3gp", ".ts"})

_BLOCK_FRAMES = 1 << 16  # soundfile read granularity (native frames)
_MAX_BAD_PACKETS = 64  # PyAV: consecutive undecodable packets before we give up on the rest of a stream
_MAX_LEADING_GAP_S = 1.0  # PyAV seek landed after the requested start: pad at most this much silence


@dataclass(frozen=True)
class AudioInfo:
    """What :func:`probe_audio` learns without decoding the whole file."""

    duration: float  # seconds
    sample_rate: int  # native rate of the audio stream
    channels: int
    tags: tuple[tuple[str, str], ...] = ()  # the container's tags where PyAV opened it (metadata.from_tags)


@dataclass(frozen=True)
class AudioChunk:
    """One piece of a file from :func:`iter_audio_chunks`: ``samples`` start at ``start`` seconds."""

    start: float
    samples: np.ndarray


# --------------------------------------------------------------------------------------------------
# windows
# --------------------------------------------------------------------------------------------------


def windows(duration: float, length: float, hop: float) -> list[tuple[float, float]]:
    """Overlapping ``(start, end)`` windows in seconds that cover ``[0, duration]``.

    Windows start every ``hop`` seconds and last ``length`` seconds; the last window is aligned to the
    end of the file (it may overlap its predecessor more than the others do), so no audio is left
    uncovered and no window runs past the end. A clip no longer than ``length`` gives the single window
    ``(0, duration)``; a duration of zero (or less) gives no windows.

    Raises:
        ValueError: ``length`` or ``hop`` is not positive, or ``hop > length`` (that would leave gaps).
    """
    if not (length > 0 and hop > 0):
        raise ValueError(f"window length and hop must be positive, got length={length}, hop={hop}")
    if hop > length:
        raise ValueError(f"hop ({hop}) larger than window length ({length}) would leave gaps")
    if not duration or duration <= 0 or not math.isfinite(duration):
        return []
    if duration <= length:
        return [(0.0, float(duration))]
    eps = 1e-6
    out: list[tuple[float, float]] = []
    k = 0
    while True:
        start = k * hop
        end = start + length
        if end >= duration - eps:
            break
        out.append((round(start, 6), round(end, 6)))
        k += 1
    last = (round(duration - length, 6), round(float(duration), 6))
    if not out or out[-1] != last:
        out.append(last)
    return out


# --------------------------------------------------------------------------------------------------
# native sources: yield (channels, n) float32 blocks at the file's own rate
# --------------------------------------------------------------------------------------------------


def _check_file(path: Path) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise MediaError(f"{path}: file not found", stage="decode") from None
    except OSError as e:
        raise MediaError(f"{path}: cannot read file ({e})", stage="decode") from None
    if not path.is_file():
        raise MediaError(f"{path}: not a regular file", stage="decode")
    if size == 0:
        raise MediaError(f"{path}: empty file (0 bytes), no audio to decode", stage="decode")


class _Source:
    """A decoder positioned at ``start`` seconds. ``blocks()`` yields (channels, n) float32 arrays."""

    sample_rate: int
    channels: int
    backend: str

    def blocks(self) -> Iterator[np.ndarray]:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - interface
        pass

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _SoundfileSource(_Source):
    backend = "soundfile"

    def __init__(self, path: Path, start: float = 0.0) -> None:
        import soundfile as sf

        self._f = sf.SoundFile(str(path))  # raises on formats libsndfile does not know
        self.sample_rate = int(self._f.samplerate)
        self.channels = int(self._f.channels)
        if self.sample_rate <= 0 or self.channels <= 0:
            self._f.close()
            raise RuntimeError(f"invalid stream parameters (rate={self.sample_rate}, channels={self.channels})")
        self._skip = 0
        if start > 0:
            frame = int(round(start * self.sample_rate))
            if self._f.seekable():
                self._f.seek(min(frame, max(self._f.frames, 0)))
            else:
                self._skip = frame

    def blocks(self) -> Iterator[np.ndarray]:
        skip = self._skip
        while True:
            block = self._f.read(_BLOCK_FRAMES, dtype="float32", always_2d=True)
            if block.shape[0] == 0:
                return
            if skip:
                drop = min(skip, block.shape[0])
                skip -= drop
                block = block[drop:]
                if block.shape[0] == 0:
                    continue
            yield np.ascontiguousarray(block.T)

    def close(self) -> None:
        self._f.close()


class _PyAVSource(_Source):
    backend = "pyav"

    def __init__(self, path: Path, start: float = 0.0) -> None:
        import av

        self._av = av
        try:
            self._container = av.open(str(path), mode="r", metadata_errors="ignore")
        except av.error.FFmpegError as e:
            raise MediaError(f"{path}: not a readable audio or video file ({_av_reason(e)})", stage="decode") from None
        except (OSError, ValueError) as e:
            raise MediaError(f"{path}: cannot open ({e})", stage="decode") from None
        try:
            audio = list(self._container.streams.audio)
            if not audio:
                raise MediaError(f"{path}: no audio stream", stage="decode")
            self._stream = stream = audio[0]
            tb = stream.time_base
            self._t0 = float(stream.start_time * tb) if (stream.start_time is not None and tb) else 0.0
            self._start = max(0.0, float(start))
            if self._start > 0 and tb:
                try:
                    self._container.seek(int((self._start + self._t0) / tb), stream=stream, backward=True)
                except self._av.error.FFmpegError:
                    # unseekable: decode from the top and drop samples until start
                    self._container.close()
                    self._container = av.open(str(path), mode="r", metadata_errors="ignore")
                    self._stream = stream = self._container.streams.audio[0]
            self._frames = self._decode_frames()
            self._resampler: AudioResampler | None = None
            first = next(self._frames, None)
            if first is None:
                raise MediaError(f"{path}: audio stream contains no decodable samples", stage="decode")
            self._first = first
            self.sample_rate = int(first.sample_rate)
            self.channels = max(1, len(first.layout.channels))
            self._path = path
        except BaseException:
            self._container.close()
            raise

    def _decode_frames(self) -> Iterator[AudioFrame]:
        av = self._av
        bad = 0
        decoded_any = False
        try:
            for packet in self._container.demux(self._stream):
                try:
                    frames = packet.decode()
                except av.error.FFmpegError as e:
                    bad += 1
                    if bad >= _MAX_BAD_PACKETS:
                        log.warning("%s: giving up after %d undecodable packets (%s)", self._container.name, bad, e)
                        return
                    continue
                bad = 0 if frames else bad
                for frame in frames:
                    if frame.samples:
                        decoded_any = True
                        yield frame
        except av.error.FFmpegError as e:
            # truncated / damaged container: keep what was decoded
            if not decoded_any:
                raise MediaError(
                    f"{self._container.name}: audio stream cannot be decoded ({_av_reason(e)})", stage="decode"
                ) from None
            log.warning("%s: audio ends early, file damaged or truncated (%s)", self._container.name, _av_reason(e))

    def _to_array(self, frame: AudioFrame) -> np.ndarray:
        av = self._av
        if self._resampler is None:
            layout = frame.layout.name
            self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=self.sample_rate)
        parts = [f.to_ndarray() for f in self._resampler.resample(frame)]
        if not parts:
            return np.zeros((self.channels, 0), np.float32)
        arr = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
        return arr.astype(np.float32, copy=False)

    def blocks(self) -> Iterator[np.ndarray]:
        first = self._first
        skip = 0
        pad = 0
        if self._start > 0 and first.time is not None:
            t_first = float(first.time) - self._t0
            delta = self._start - t_first
            if delta > 0:
                skip = int(round(delta * self.sample_rate))
            elif delta < 0:
                pad = int(round(min(-delta, _MAX_LEADING_GAP_S) * self.sample_rate))
        if pad:
            yield np.zeros((self.channels, pad), np.float32)
        for frame in itertools.chain([first], self._frames):
            try:
                arr = self._to_array(frame)
            except (self._av.error.FFmpegError, ValueError):
                # the stream changed layout or format mid-way: start a new converter for the new shape
                self._resampler = None
                try:
                    arr = self._to_array(frame)
                except (self._av.error.FFmpegError, ValueError) as e:
                    log.warning("%s: skipping an audio frame that cannot be converted (%s)", self._container.name, e)
                    continue
            if skip:
                drop = min(skip, arr.shape[1])
                skip -= drop
                arr = arr[:, drop:]
            if arr.shape[1]:
                yield arr
        if self._resampler is not None:
            try:
                tail = [f.to_ndarray() for f in self._resampler.resample(None)]
            except (self._av.error.FFmpegError, ValueError):
                tail = []
            for t in tail:
                if t.shape[1]:
                    yield t.astype(np.float32, copy=False)

    def close(self) -> None:
        self._container.close()


def _av_reason(e: Exception) -> str:
    msg = getattr(e, "strerror", None) or str(e)
    return str(msg)


def _open_source(path: Path, start: float = 0.0, backend: str | None = None) -> _Source:
    """Open ``path`` with soundfile, else PyAV. ``backend`` forces one ("soundfile" / "pyav")."""
    if backend in (None, "soundfile") and path.suffix.lower() not in _PYAV_ONLY:
        try:
            return _SoundfileSource(path, start)
        except Exception as e:  # noqa: BLE001 - libsndfile rejects the format or the file
            if backend == "soundfile":
                raise MediaError(f"{path}: cannot decode with libsndfile ({e})", stage="decode") from None
            log.debug("%s: soundfile cannot open (%s), trying PyAV", path, e)
    return _PyAVSource(path, start)


# --------------------------------------------------------------------------------------------------
# channel mixing and resampling
# --------------------------------------------------------------------------------------------------


def _mix(block: np.ndarray, mono: bool) -> np.ndarray:
    if mono and block.shape[0] > 1:
        return block.mean(axis=0, keepdims=True, dtype=np.float32)
    return block


def resample(x: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """Band-limited resampling along the last axis (``torchaudio.functional.resample``), float32 out."""
    x = np.asarray(x, dtype=np.float32)
    if orig_rate == new_rate or x.shape[-1] == 0:
        return x
    import torch
    import torchaudio.functional as AF

    g = math.gcd(int(orig_rate), int(new_rate))
    with torch.inference_mode():
        y = AF.resample(torch.from_numpy(np.ascontiguousarray(x)), int(orig_rate) // g, int(new_rate) // g)
    return y.numpy()


def _finish(x: np.ndarray, mono: bool) -> np.ndarray:
    x = np.nan_to_num(x, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
    np.clip(x, -1.0, 1.0, out=x)
    if mono:
        x = x[0]
    return np.ascontiguousarray(x, dtype=np.float32)


def _grid(orig_rate: int, new_rate: int) -> int:
    """Native samples per resampling period: cuts at multiples of it fall on both sample grids."""
    return int(orig_rate) // math.gcd(int(orig_rate), int(new_rate))


def _margin(orig_rate: int, new_rate: int) -> int:
    """Native samples of context on each side so chunked resampling matches whole-file resampling.

    torchaudio's sinc kernel spans ``6 * orig / min(orig, new)`` native samples each side; we take more,
    rounded up to a whole resampling period so that the context keeps the chunk on the output grid.
    """
    need = 64 + 16 * int(math.ceil(orig_rate / max(1, min(orig_rate, new_rate))))
    g = _grid(orig_rate, new_rate)
    return int(math.ceil(need / g)) * g


# --------------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------------


def load_audio(
    path: PathLike,
    sample_rate: int,
    mono: bool = True,
    max_seconds: float | None = None,
    start: float = 0.0,
) -> np.ndarray:
    """Decode ``path`` (an audio file, or the soundtrack of a video) to float32 samples in [-1, 1].

    Args:
        path: the file.
        sample_rate: rate of the returned samples (resampled with torchaudio when it differs).
        mono: average the channels into one. ``True``: shape ``(n,)``; ``False``: ``(channels, n)``.
        max_seconds: decode at most this many seconds (from ``start``); ``None`` decodes to the end.
        start: begin this many seconds into the file (seek, not decode-and-drop, where the format allows).

    Returns a non-empty array; a very short file (10 ms) gives a correspondingly short array.

    Raises:
        MediaError: the file is missing, empty, not audio, has no audio stream ("no audio stream"), or
            nothing in it can be decoded. A damaged or truncated file that decodes in part returns the
            part that decodes (a warning is logged).
    """
    p = Path(path)
    _check_file(p)
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    try:
        return _load(p, sample_rate, mono, max_seconds, start, backend=None)
    except MediaError:
        raise
    except Exception as first_error:  # noqa: BLE001 - soundfile opened the file but failed while reading: retry with FFmpeg
        if p.suffix.lower() in _PYAV_ONLY:
            raise MediaError(f"{p}: cannot decode audio ({first_error})", stage="decode") from None
        log.debug("%s: soundfile failed while reading (%s), retrying with PyAV", p, first_error)
        try:
            return _load(p, sample_rate, mono, max_seconds, start, backend="pyav")
        except MediaError:
            raise
        except Exception as e:  # noqa: BLE001 - the decoders raise their own types: one MediaError
            raise MediaError(f"{p}: cannot decode audio ({first_error}; {e})", stage="decode") from None


def _load(
    p: Path, sample_rate: int, mono: bool, max_seconds: float | None, start: float, backend: str | None
) -> np.ndarray:
    with _open_source(p, start, backend) as src:
        sr0 = src.sample_rate
        limit = None
        if max_seconds is not None:
            if max_seconds <= 0:
                raise ValueError(f"max_seconds must be positive, got {max_seconds}")
            limit = int(math.ceil(max_seconds * sr0))
        parts: list[np.ndarray] = []
        have = 0
        channels = None
        for block in src.blocks():
            block = _mix(block, mono)
            if channels is None:
                channels = block.shape[0]
            elif block.shape[0] != channels:  # channel count changed mid-stream (rare): mix to the first one
                block = _match_channels(block, channels)
            if limit is not None and have + block.shape[1] > limit:
                block = block[:, : limit - have]
            parts.append(block)
            have += block.shape[1]
            if limit is not None and have >= limit:
                break
    if have == 0:
        raise MediaError(f"{p}: no audio samples to decode (empty stream or header only)", stage="decode")
    native = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
    del parts
    out = resample(native, sr0, sample_rate)
    if max_seconds is not None:
        out = out[:, : int(round(max_seconds * sample_rate))]
    if out.shape[-1] == 0:  # a handful of samples that round to none at the new rate
        out = np.zeros((out.shape[0], 1), np.float32)
    return _finish(out, mono)


def _match_channels(block: np.ndarray, channels: int) -> np.ndarray:
    mixed = block.mean(axis=0, keepdims=True, dtype=np.float32)
    return np.repeat(mixed, channels, axis=0)


def iter_audio_chunks(
    path: PathLike,
    sample_rate: int,
    chunk_seconds: float = 60.0,
    overlap_seconds: float = 0.0,
    mono: bool = True,
) -> Iterator[AudioChunk]:
    """Decode a long file once, front to back, as consecutive resampled chunks.

    Chunk ``k`` starts at ``k * (chunk_seconds - overlap_seconds)`` seconds and holds up to
    ``chunk_seconds`` of audio (the last one is shorter); ``chunk.start`` is exact, and equals that value
    rounded to the resampling period (``native_rate / gcd(native_rate, sample_rate)`` samples, 10 ms at
    worst for 44.1 kHz -> 16 kHz). Resampling uses native context on both sides of each chunk, cut on that
    period, so the samples match :func:`load_audio` of the whole file (to float rounding).
    Memory: about one chunk at the native rate plus one resampled.

    Use it for files too long to hold whole (a 1 h stereo 48 kHz file is ~1.4 GB as float32): e.g.
    ``chunk_seconds=300, overlap_seconds=10`` for transcription (drop segments that start in the overlap
    already seen), or chunks of a whole number of CLAP hops for audio windows.

    Raises:
        MediaError: as :func:`load_audio`, when the file cannot be opened or yields no samples. A file
            that breaks part way ends the iteration early (a warning is logged).
    """
    if not (chunk_seconds > 0):
        raise ValueError(f"chunk_seconds must be positive, got {chunk_seconds}")
    if not (0 <= overlap_seconds < chunk_seconds):
        raise ValueError(f"overlap_seconds must be in [0, chunk_seconds), got {overlap_seconds}")
    p = Path(path)
    _check_file(p)
    src = _open_source(p, 0.0, None)
    try:
        blocks = src.blocks()
        try:
            first = next(blocks, None)
        except MediaError:
            raise
        except Exception as e:  # noqa: BLE001 - the decoders raise their own types: one MediaError
            if src.backend != "soundfile":
                raise MediaError(f"{p}: cannot decode audio ({e})", stage="decode") from None
            src.close()
            src = _open_source(p, 0.0, "pyav")
            blocks = src.blocks()
            first = next(blocks, None)
        if first is None:
            raise MediaError(f"{p}: no audio samples to decode (empty stream or header only)", stage="decode")
        yield from _chunk_stream(p, src.sample_rate, first, blocks, sample_rate, chunk_seconds, overlap_seconds, mono)
    finally:
        src.close()


def _chunk_stream(
    p: Path,
    sr0: int,
    first: np.ndarray,
    blocks: Iterator[np.ndarray],
    sr: int,
    chunk_seconds: float,
    overlap_seconds: float,
    mono: bool,
) -> Iterator[AudioChunk]:
    step = chunk_seconds - overlap_seconds
    margin = _margin(sr0, sr) if sr0 != sr else 0
    grid = _grid(sr0, sr)

    def at(seconds: float) -> int:  # native index on the common grid, so chunks match the whole-file result
        return int(round(seconds * sr0 / grid)) * grid
    buf = _mix(first, mono)
    channels = buf.shape[0]
    buf_start = 0  # native index of buf[:, 0]
    eof = False
    k = 0

    def pull() -> bool:
        nonlocal buf, eof
        if eof:
            return False
        try:
            block = next(blocks, None)
        except Exception as e:  # noqa: BLE001 - damaged tail: stop where the damage starts
            log.warning("%s: audio ends early, file damaged or truncated (%s)", p, e)
            block = None
        if block is None:
            eof = True
            return False
        block = _mix(block, mono)
        if block.shape[0] != channels:
            block = _match_channels(block, channels)
        buf = np.concatenate([buf, block], axis=1)
        return True

    while True:
        s = at(k * step)
        e = s + at(chunk_seconds)
        while buf_start + buf.shape[1] < e + margin and pull():
            pass
        total_known = buf_start + buf.shape[1]
        if s >= total_known or (k > 0 and eof and total_known <= s + at(overlap_seconds)):
            return
        a = max(buf_start, s - margin)
        b = min(total_known, e + margin)
        seg = buf[:, a - buf_start : b - buf_start]
        y = resample(seg, sr0, sr)
        out_left = (s - a) * sr // sr0  # exact: s and a are on the grid
        out_len = int(math.ceil((min(e, total_known) - s) * sr / sr0))
        chunk = y[:, out_left : out_left + out_len]
        if chunk.shape[1] == 0:
            return
        yield AudioChunk(start=s / sr0, samples=_finish(chunk.copy(), mono))
        if eof and e >= total_known:
            return
        k += 1
        # drop native samples no later chunk needs
        next_s = at(k * step)
        keep_from = max(buf_start, next_s - margin)
        if keep_from > buf_start:
            buf = buf[:, keep_from - buf_start :]
            buf_start = keep_from


def probe_audio(path: PathLike) -> AudioInfo:
    """Duration, native sample rate and channel count of the (first) audio stream of ``path``.

    Reads headers only where the container states the duration; otherwise (some ogg/streamed files)
    decodes the stream once to count samples.

    Raises:
        MediaError: the file cannot be opened, has no audio stream, or its audio cannot be decoded.
    """
    p = Path(path)
    _check_file(p)
    if p.suffix.lower() not in _PYAV_ONLY:
        try:
            import soundfile as sf

            info = sf.info(str(p))
            if info.samplerate > 0 and info.channels > 0 and 0 < info.frames < 2**62:  # 2**63-1: unknown
                return AudioInfo(float(info.frames) / info.samplerate, int(info.samplerate), int(info.channels))
        except Exception as e:  # noqa: BLE001 - libsndfile raises its own types: logged, PyAV probes
            log.debug("%s: soundfile cannot probe (%s), trying PyAV", p, e)
    return _probe_pyav(p)


def _probe_pyav(p: Path) -> AudioInfo:
    import av

    try:
        container = av.open(str(p), mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as e:
        raise MediaError(f"{p}: not a readable audio or video file ({_av_reason(e)})", stage="decode") from None
    except (OSError, ValueError) as e:
        raise MediaError(f"{p}: cannot open ({e})", stage="decode") from None
    try:
        audio = list(container.streams.audio)
        if not audio:
            raise MediaError(f"{p}: no audio stream", stage="decode")
        stream = audio[0]
        cc = stream.codec_context
        rate = int(cc.sample_rate or stream.rate or 0)
        channels = int(getattr(cc, "channels", 0) or 0)
        if not channels and cc.layout is not None:
            channels = len(cc.layout.channels)
        duration = None
        if stream.duration is not None and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = float(container.duration) / 1_000_000.0  # av.time_base
        tags = container_tags(container)
    finally:
        container.close()
    if duration is None or duration <= 0 or rate <= 0 or channels <= 0:
        # unknown from headers: decode once and count
        with _PyAVSource(p) as src:
            n = sum(b.shape[1] for b in src.blocks())
            rate, channels = src.sample_rate, src.channels
        if n == 0:
            raise MediaError(f"{p}: audio stream contains no decodable samples", stage="decode")
        duration = n / rate
    return AudioInfo(float(duration), rate, channels, tags)


def has_audio_stream(path: PathLike) -> bool:
    """True when ``path`` opens and holds at least one audio stream. Never raises."""
    p = Path(path)
    try:
        _check_file(p)
    except MediaError:
        return False
    if p.suffix.lower() not in _PYAV_ONLY:
        try:
            import soundfile as sf

            info = sf.info(str(p))
            if info.channels > 0 and info.samplerate > 0:
                return True
        except Exception as e:  # noqa: BLE001 - libsndfile raises its own types; PyAV decides below
            log.debug("%s: soundfile finds no audio stream (%s), asking PyAV", p, e)
    try:
        import av

        with av.open(str(p), mode="r", metadata_errors="ignore") as container:
            return len(container.streams.audio) > 0
    except Exception as e:  # noqa: BLE001 - never raises (docstring): FFmpeg's many error types mean "no"
        log.debug("%s: PyAV finds no audio stream (%s)", p, e)
        return False


__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioChunk",
    "AudioInfo",
    "has_audio_stream",
    "iter_audio_chunks",
    "load_audio",
    "probe_audio",
    "resample",
    "windows",
]
