"""From a decoded PyAV frame to the picture a player shows: scaled, sample aspect ratio and rotation applied."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from mmsearch.media.video.probe import Probe

THUMB = 24  # side of the thumbnails refine_cut compares

# display rotation (degrees counter-clockwise) -> the transpose that shows it upright
_TRANSPOSE = {90: Image.Transpose.ROTATE_90, -90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180}


@dataclass(frozen=True)
class SampledFrame:
    time: float               # presentation time (s) from the stream's real timestamps
    image: Image.Image        # RGB, longest side <= max_side


def fit(w: int, h: int, max_side: int | None) -> tuple[int, int]:
    """(w, h) scaled so the longest side is <= max_side (unchanged when it already is, or no bound)."""
    if not max_side or max(w, h) <= max_side:
        return w, h
    s = max_side / max(w, h)
    return max(2, int(round(w * s))), max(2, int(round(h * s)))


def rotate(img: Image.Image, rotation: int) -> Image.Image:
    transpose = _TRANSPOSE.get(rotation)
    return img.transpose(transpose) if transpose is not None else img


def frame_image(frame, probe: Probe, max_side: int | None) -> Image.Image:
    """The displayed picture of a PyAV frame, scaled so its longest side is <= max_side."""
    dw, dh = probe.display_size
    w, h = fit(dw, dh, max_side)
    arr = frame.to_ndarray(width=w, height=h, format="rgb24", interpolation="AREA")
    return rotate(Image.fromarray(arr, "RGB"), probe.rotation)


def frame_thumb(frame, size: int = THUMB) -> np.ndarray:
    return frame.to_ndarray(width=size, height=size, format="rgb24",
                            interpolation="AREA").astype(np.float32) / 255.0
