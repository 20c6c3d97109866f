"""Sampling by time with PyAV: every frame decoded in order, the frame shown at each target kept.

The backend that is safe on bad input and the one a shot stream needs (it sees *every* frame, at
:data:`SHOT_SIZE`, in the same pass). Used when decord cannot be, and to finish what decord started.
"""
from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from av.video.reformatter import VideoReformatter

from mmsearch.media.video.pictures import SampledFrame, frame_image
from mmsearch.media.video.probe import EPS, Probe, loop_filter_needed
from mmsearch.media.video.pyav_reader import PyAVReader

SHOT_SIZE = (48, 27)  # (w, h) of the frames a shot stream receives (TransNetV2's input)


class ShotSink(Protocol):
    """What receives every decoded frame (a :class:`mmsearch.analysis.scenes.ShotStream`)."""

    def push(self, time: float, rgb: np.ndarray) -> object: ...


@dataclass(frozen=True)
class PyAVEnd:
    """How a PyAV pass ended: the last decoded frame's time (None: none decoded) and the errors met."""

    last_time: float | None
    decode_errors: int
    last_error: str | None
    demux_error: str | None


def sample_pyav(path: Path, probe: Probe, interval: float, max_side: int, threads: int,
                shots: ShotSink | None = None, after: float | None = None
                ) -> Generator[SampledFrame, None, PyAVEnd]:
    """The frames shown at ``k * interval`` after ``after`` (every target when None); returns :class:`PyAVEnd`.
    Every picture it makes is scaled to ``max_side`` or to the shot stream's 48x27, so a video far larger
    than ``max_side`` is decoded without the in-loop deblocking filter (:func:`loop_filter_needed`)."""
    reader = PyAVReader(path, probe, threads, loop_filter=loop_filter_needed(probe, max_side))
    try:
        k = 0 if after is None else int(math.floor(after / interval + 1e-9)) + 1
        prev = None            # (time, frame) of the previous decoded frame
        emitted: float | None = after
        last_t = None

        def emit(t, frame):
            return SampledFrame(time=t, image=frame_image(frame, probe, max_side))

        small = VideoReformatter() if shots is not None else None
        for t, frame in reader.frames(start=after):
            last_t = t
            if after is not None and t <= after + EPS:
                prev = (t, frame)
                continue
            if shots is not None and small is not None:
                shots.push(t, small.reformat(frame, width=SHOT_SIZE[0], height=SHOT_SIZE[1], format="rgb24",
                                             interpolation="AREA").to_ndarray())
            # every target before this frame is shown by the previous frame
            while k * interval + EPS < t:
                chosen = prev if prev is not None else (t, frame)
                if emitted is None or chosen[0] > emitted + 1e-9:
                    emitted = chosen[0]
                    yield emit(*chosen)
                k += 1
            prev = (t, frame)
        if prev is not None:
            while k * interval <= prev[0] + EPS:
                if emitted is None or prev[0] > emitted + 1e-9:
                    emitted = prev[0]
                    yield emit(*prev)
                k += 1
        return PyAVEnd(last_t, reader.decode_errors, reader.last_error, reader.demux_error)
    finally:
        reader.close()
