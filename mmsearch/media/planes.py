"""Pictures as numpy planes, for the algorithms of mmsearch/analysis/ (which import no imaging library).

``Picture`` is the picture type every decoder here returns (a PIL image). The resampling filters are PIL's,
named here so a caller picks one by constant, and the arithmetic stays the decoders'.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

Picture = Image.Image  # what media/images.py and media/video/ return: RGB, width x height
BILINEAR = Image.Resampling.BILINEAR
BICUBIC = Image.Resampling.BICUBIC  # PIL's own default for resizing grey and colour pictures


def grey_plane(picture: Picture) -> np.ndarray:
    """The picture's luma (ITU-R 601-2, PIL's ``convert("L")``) as a float32 ``(h, w)`` plane in 0..255."""
    return np.asarray(picture.convert("L"), dtype=np.float32)


def resize_plane(plane: np.ndarray, size: tuple[int, int], resample: Image.Resampling = BICUBIC) -> np.ndarray:
    """A float32 ``(h, w)`` plane resized to ``size`` = (width, height) with ``resample``, as float32."""
    return np.asarray(Image.fromarray(plane).resize(size, resample), dtype=np.float32)
