"""Sampling by time with decord: fast, resizes inside the decoder, but trusted only after checks.

decord is handed only files PyAV has already probed (a real video stream whose first frame decodes).
Its frame index must then be finite, sorted and start where PyAV's first frame starts; a rotated video
is refused (decord 0.6 does not apply display rotation the way players do). Any refusal raises, and the
sampler decodes with PyAV instead.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from mmsearch.media.video.pictures import SampledFrame, fit
from mmsearch.media.video.probe import EPS, Probe, VideoInfo, decoder_threads, ffmpeg_message

BATCH = 8  # frames per decord get_batch call
_ONE_THREAD_CODECS = frozenset({"vp9", "vp8"})  # decord's threaded VP8/VP9 decoding is unreliable


class DecordFailed(Exception):
    """decord failed in the middle of a file; ``str()`` is the line for the sampler's warnings."""

    def __init__(self, warning: str, reason: str) -> None:
        super().__init__(warning)
        self.reason = reason


def short(exc: BaseException) -> str:
    """One line of an exception's message (decord's are multi-line C++ traces)."""
    lines = [ln.strip() for ln in ffmpeg_message(exc).splitlines() if ln.strip()]
    text = lines[-1] if lines else type(exc).__name__
    prefix = re.compile(r"^\[[0-9:]+\]\s*\S+:\d+:\s*")  # decord's "[12:00:00] file.cc:12: "
    while prefix.match(text):
        text = prefix.sub("", text, count=1)
    # "Check failed: <C++ expression> (a vs. b) <what it means>" -> "<what it means>"
    m = re.match(r"Check failed: .*? vs\. [^)]*\)\s*(.+)$", text)
    if m:
        text = m.group(1)
    return text[:300]


def sample_indices(starts: np.ndarray, interval: float) -> np.ndarray:
    """Indices of the frames shown at 0, interval, 2*interval, ... (the sampling rule of the package)."""
    if len(starts) == 0:
        return np.zeros(0, dtype=np.int64)
    last = float(starts[-1])
    n = int(math.floor(max(last, 0.0) / interval + 1e-9)) + 1
    targets = np.arange(n, dtype=np.float64) * interval
    idx = np.searchsorted(starts, targets + EPS, side="right") - 1
    idx = np.clip(idx, 0, len(starts) - 1)
    return np.unique(idx)


def tolerance(info: VideoInfo) -> float:
    """How far before its stated length a video may end and still count as whole: max(1 s, 2 frames)."""
    fps = info.avg_fps or 25.0
    return max(1.0, 2.0 / fps)


class DecordReader:
    """decord's ``VideoReader`` on a probed file, its index checked.

    ``info`` is the probe's, with decord's exact frame count when its index reaches the stated end;
    ``index_short`` says it does not (a truncated file, or damage a newer FFmpeg can resync past).
    Raises on open when decord cannot be trusted with the file (the sampler then uses PyAV).
    """

    def __init__(self, path: Path, probe: Probe, max_side: int, threads: int) -> None:
        if probe.rotation:
            raise RuntimeError(f"video is rotated by {probe.rotation} degrees")
        import decord  # lazy: importing decord is not free, and it may be absent

        w, h = fit(*probe.display_size, max_side)
        codec = probe.info.codec.lower()
        threads = 1 if codec in _ONE_THREAD_CODECS else decoder_threads(threads, probe)
        vr = decord.VideoReader(str(path), ctx=decord.cpu(0), width=w, height=h, num_threads=threads)
        n = len(vr)
        if n <= 0:
            raise RuntimeError("decord found no frames")
        ts = np.asarray(vr.get_frame_timestamp(np.arange(n)), dtype=np.float64)
        starts = ts[:, 0]
        if not np.all(np.isfinite(ts)):
            raise RuntimeError("decord returned invalid timestamps")
        if n > 1 and np.any(np.diff(starts) <= 0):
            raise RuntimeError("decord returned unsorted or duplicate timestamps")
        frame_dur = 1.0 / probe.info.avg_fps if probe.info.avg_fps else 0.04
        if abs(starts[0] - probe.first_time) > max(0.002, frame_dur / 2):
            raise RuntimeError(f"decord's first timestamp {starts[0]:.3f}s differs from PyAV's "
                               f"{probe.first_time:.3f}s")
        self.vr: Any = vr
        self.starts = starts
        self.info = probe.info
        end = float(ts[-1, 1]) if ts[-1, 1] > ts[-1, 0] else float(starts[-1]) + frame_dur
        self.index_short = bool(
            (probe.declared_frames and n + 2 < probe.declared_frames)
            or (probe.declared_duration and end < probe.declared_duration - tolerance(probe.info)))
        duration = probe.info.duration if probe.info.duration > 0 else end
        if not self.index_short:
            avg = n / duration if duration > 0 else probe.info.avg_fps
            self.info = replace(probe.info, frame_count=n, duration=duration, avg_fps=float(avg))

    def sampled(self, interval: float) -> Iterator[SampledFrame]:
        """The frames of the sampling rule, :data:`BATCH` at a time. Raises :class:`DecordFailed` mid-file."""
        starts = self.starts
        idx = sample_indices(starts, interval)
        for i in range(0, len(idx), BATCH):
            chunk = [int(j) for j in idx[i:i + BATCH]]
            try:
                batch = self.vr.get_batch(chunk).asnumpy()
            except Exception as exc:  # decord raises its own types: one line, PyAV takes over
                msg = short(exc)
                raise DecordFailed(f"decord failed decoding the frames at {starts[chunk[0]]:.2f}-"
                                   f"{starts[chunk[-1]]:.2f}s ({msg}); continued with PyAV", msg) from exc
            for j, arr in zip(chunk, batch):
                yield SampledFrame(time=float(starts[j]), image=Image.fromarray(arr, "RGB"))
