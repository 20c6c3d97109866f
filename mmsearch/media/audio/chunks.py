"""Decoding a long file once, front to back, as consecutive resampled chunks (about one chunk in memory)."""
from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmsearch.errors import MediaError
from mmsearch.media.audio.base import PathLike, check_file
from mmsearch.media.audio.resampling import finish, grid, margin, match_channels, mix, resample
from mmsearch.media.audio.sources import open_source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AudioChunk:
    """One piece of a file from :func:`iter_audio_chunks`: ``samples`` start at ``start`` seconds."""

    start: float
    samples: np.ndarray


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
    check_file(p)
    src = open_source(p, 0.0)
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
            src = open_source(p, 0.0, "pyav")
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
    context = margin(sr0, sr) if sr0 != sr else 0
    period = grid(sr0, sr)

    def at(seconds: float) -> int:  # native index on the common grid, so chunks match the whole-file result
        return int(round(seconds * sr0 / period)) * period
    buf = mix(first, mono)
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
        block = mix(block, mono)
        if block.shape[0] != channels:
            block = match_channels(block, channels)
        buf = np.concatenate([buf, block], axis=1)
        return True

    while True:
        s = at(k * step)
        e = s + at(chunk_seconds)
        while buf_start + buf.shape[1] < e + context and pull():
            pass
        total_known = buf_start + buf.shape[1]
        if s >= total_known or (k > 0 and eof and total_known <= s + at(overlap_seconds)):
            return
        a = max(buf_start, s - context)
        b = min(total_known, e + context)
        seg = buf[:, a - buf_start : b - buf_start]
        y = resample(seg, sr0, sr)
        out_left = (s - a) * sr // sr0  # exact: s and a are on the grid
        out_len = int(math.ceil((min(e, total_known) - s) * sr / sr0))
        chunk = y[:, out_left : out_left + out_len]
        if chunk.shape[1] == 0:
            return
        yield AudioChunk(start=s / sr0, samples=finish(chunk.copy(), mono))
        if eof and e >= total_known:
            return
        k += 1
        # drop native samples no later chunk needs
        next_s = at(k * step)
        keep_from = max(buf_start, next_s - context)
        if keep_from > buf_start:
            buf = buf[:, keep_from - buf_start :]
            buf_start = keep_from
