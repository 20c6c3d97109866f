"""Channel mixing and band-limited resampling (``torchaudio.functional.resample``), and the grid on which
chunked resampling matches whole-file resampling."""
from __future__ import annotations

import math

import numpy as np


def mix(block: np.ndarray, mono: bool) -> np.ndarray:
    """``block`` averaged to one channel when ``mono``, else as it is."""
    if mono and block.shape[0] > 1:
        return block.mean(axis=0, keepdims=True, dtype=np.float32)
    return block


def match_channels(block: np.ndarray, channels: int) -> np.ndarray:
    """A block whose channel count changed mid-stream (rare), mixed and repeated to ``channels``."""
    mixed = block.mean(axis=0, keepdims=True, dtype=np.float32)
    return np.repeat(mixed, channels, axis=0)


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


def finish(x: np.ndarray, mono: bool) -> np.ndarray:
    """Samples as returned: finite, clipped to [-1, 1], contiguous float32, ``(n,)`` when ``mono``."""
    x = np.nan_to_num(x, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
    np.clip(x, -1.0, 1.0, out=x)
    if mono:
        x = x[0]
    return np.ascontiguousarray(x, dtype=np.float32)


def grid(orig_rate: int, new_rate: int) -> int:
    """Native samples per resampling period: cuts at multiples of it fall on both sample grids."""
    return int(orig_rate) // math.gcd(int(orig_rate), int(new_rate))


def margin(orig_rate: int, new_rate: int) -> int:
    """Native samples of context on each side so chunked resampling matches whole-file resampling.

    torchaudio's sinc kernel spans ``6 * orig / min(orig, new)`` native samples each side; we take more,
    rounded up to a whole resampling period so that the context keeps the chunk on the output grid.
    """
    need = 64 + 16 * int(math.ceil(orig_rate / max(1, min(orig_rate, new_rate))))
    g = grid(orig_rate, new_rate)
    return int(math.ceil(need / g)) * g
