"""Decoding a whole file (or a stretch of it) to one float32 array at the rate asked for."""
from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from mmsearch.errors import MediaError
from mmsearch.media.audio.base import PYAV_ONLY, PathLike, check_file
from mmsearch.media.audio.resampling import finish, match_channels, mix, resample
from mmsearch.media.audio.sources import open_source

log = logging.getLogger(__name__)


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
    check_file(p)
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    try:
        return _load(p, sample_rate, mono, max_seconds, start, backend="auto")
    except MediaError:
        raise
    except Exception as first_error:  # noqa: BLE001 - soundfile opened the file but failed while reading: retry with FFmpeg
        if p.suffix.lower() in PYAV_ONLY:
            raise MediaError(f"{p}: cannot decode audio ({first_error})", stage="decode") from None
        log.debug("%s: soundfile failed while reading (%s), retrying with PyAV", p, first_error)
        try:
            return _load(p, sample_rate, mono, max_seconds, start, backend="pyav")
        except MediaError:
            raise
        except Exception as e:  # noqa: BLE001 - the decoders raise their own types: one MediaError
            raise MediaError(f"{p}: cannot decode audio ({first_error}; {e})", stage="decode") from None


def _load(p: Path, sample_rate: int, mono: bool, max_seconds: float | None, start: float, backend: str) -> np.ndarray:
    with open_source(p, start, backend) as src:
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
            block = mix(block, mono)
            if channels is None:
                channels = block.shape[0]
            elif block.shape[0] != channels:  # channel count changed mid-stream (rare): mix to the first one
                block = match_channels(block, channels)
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
    return finish(out, mono)
