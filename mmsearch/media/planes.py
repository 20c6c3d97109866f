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
    return np.asarray(grey_picture(picture), dtype=np.float32)


def resize_plane(plane: np.ndarray, size: tuple[int, int], resample: Image.Resampling = BICUBIC) -> np.ndarray:
    """A float32 ``(h, w)`` plane resized to ``size`` = (width, height) with ``resample``, as float32."""
    return np.asarray(Image.fromarray(plane).resize(size, resample), dtype=np.float32)


def grey_picture(picture: Picture) -> Picture:
    """The picture in PIL's grey mode ``L`` (itself when it is already grey), to convert once for several reads."""
    return picture if picture.mode == "L" else picture.convert("L")


def box_grey(picture: Picture, size: tuple[int, int], crop: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The picture's grey (cropped to ``crop`` = (left, top, right, bottom) when given) box-averaged to ``size`` =
    (width, height) in PIL's 8-bit arithmetic, as float32: the exact pixels the stored perceptual hashes were
    computed from, so hashes of old and new libraries compare."""
    grey = grey_picture(picture)
    if crop is not None:
        grey = grey.crop(crop)
    return np.asarray(grey.resize(size, Image.Resampling.BOX), np.float32)
