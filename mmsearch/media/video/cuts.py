"""Cut refinement: the first frame of the new shot, for a cut known to lie between two sampled frames."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mmsearch.media.video.pictures import frame_thumb
from mmsearch.media.video.probe import EPS, probe
from mmsearch.media.video.pyav_reader import PyAVReader


def _split_point(thumbs: Sequence[np.ndarray]) -> int:
    """Index of the first frame of the new shot in a run of frames that starts in the old shot
    and ends in the new one: the split minimising the frames' distance to their own end frame."""
    a, b = thumbs[0], thumbs[-1]
    da = np.array([float(np.mean(np.abs(t - a))) for t in thumbs])
    db = np.array([float(np.mean(np.abs(t - b))) for t in thumbs])
    # cost(i) = sum(da[:i]) + sum(db[i:]), for i in 1..n-1
    ca = np.cumsum(da)
    cb = np.cumsum(db[::-1])[::-1]
    costs = [ca[i - 1] + cb[i] for i in range(1, len(thumbs))]
    return 1 + int(np.argmin(costs))


def _refine_with(reader: PyAVReader, before: float, after: float) -> float:
    times: list[float] = []
    thumbs: list[np.ndarray] = []
    for t, frame in reader.frames(start=before):
        if t < before - EPS:
            continue
        if t > after + EPS:
            break
        times.append(t)
        thumbs.append(frame_thumb(frame))
    if len(times) < 2:
        return float(after)
    return float(times[_split_point(thumbs)])


def refine_cut(path, before: float, after: float) -> float:
    """Time of the first frame of the new shot, for a cut known to lie in (before, after].

    Decodes every frame in [before, after] (PyAV, from the keyframe before ``before``), shrinks
    each to a 24x24 thumbnail and picks the split that best separates frames like the ``before``
    frame from frames like the ``after`` frame (sum of mean absolute pixel distances to each end).
    Returns ``after`` when fewer than two frames lie in the range. Raises MediaError if the file
    cannot be opened.
    """
    return refine_cuts(path, [(before, after)])[0]


def refine_cuts(path, pairs: Sequence[tuple[float, float]]) -> list[float]:
    """:func:`refine_cut` for several cuts of one file, opening it once."""
    path = Path(path)
    reader = PyAVReader(path, probe(path), threads=0)
    out: list[float] = []
    try:
        for before, after in pairs:
            before, after = float(before), float(after)
            if after < before:
                before, after = after, before
            reader.reopen()  # fresh demuxer state for each range (cheap)
            out.append(_refine_with(reader, before, after))
    finally:
        reader.close()
    return out
