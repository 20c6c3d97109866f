"""Image decoding with Pillow: bounded memory, orientation fixed, reduced-size JPEG decoding."""
from __future__ import annotations

import threading
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import Any, NamedTuple

from PIL import Image, ImageOps, UnidentifiedImageError

from mmsearch.errors import MediaError
from mmsearch.media.metadata import EXIF_IFD, GPS_IFD

try:  # HEIC/HEIF when the optional plugin is installed
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF = True
except ImportError:
    HEIF = False

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"} | ({".heic", ".heif"} if HEIF else set())
)
# Refuse to decode more than this many pixels (a 100000x100000 header would need 30 GB).
MAX_PIXELS = 120_000_000
# Decodes bigger than this (after JPEG's reduced-size decoding) run one at a time: a 300 KB PNG can hold
# 9000x9000 RGBA pixels (324 MB), and eight decode threads must not hold eight of them at once.
BIG_PIXELS = 16_000_000
_BIG_DECODE = threading.BoundedSemaphore(1)
_RESIZABLE = frozenset({"L", "LA", "RGB", "RGBA", "RGBa", "La", "CMYK", "YCbCr"})


class DecodedImage(NamedTuple):
    image: Image.Image  # RGB, orientation applied, longest side at most max_side
    width: int  # of the file, before any scaling
    height: int
    exif: Any  # the file's PIL ``Image.Exif`` as opened (read by mmsearch.media.metadata), or None


def load_image(path: str | Path, max_side: int = 1024) -> tuple[Image.Image, int, int]:
    """Decode an image to RGB with its longest side at most ``max_side``.

    Returns ``(image, original_width, original_height)``. Raises MediaError for anything that is
    not a decodable image, and before decoding for images whose header claims too many pixels.
    """
    image, width, height, _ = decode_image(path, max_side)
    return image, width, height


def decode_image(path: str | Path, max_side: int = 1024) -> DecodedImage:
    """:func:`load_image` that also hands back the EXIF block the decoder read (no second read)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Typed as the base class: the shrinking below replaces the opened file with plain images.
            im: Image.Image = Image.open(path)
            width, height = im.size
            if width <= 0 or height <= 0:
                raise MediaError(f"image has no pixels ({width}x{height})")
            if width * height > MAX_PIXELS:
                raise MediaError(f"image too large to decode safely ({width}x{height} pixels)")
            # JPEG can decode at 1/2, 1/4, 1/8 scale directly: far less work and memory.
            im.draft("RGB", (max_side, max_side))
            big = im.size[0] * im.size[1] > BIG_PIXELS
            with _BIG_DECODE if big else nullcontext():
                im.load()
                exif = _exif(im)
                # Shrink first where the mode allows it, so the copies below are small. Pillow resizes
                # and reduces RGBA/LA through a full-size premultiplied copy: sample those by nearest first.
                if max(im.size) >= 4 * max_side and im.mode in _RESIZABLE:
                    f = max(im.size) // (2 * max_side)
                    im = (im.resize((im.width // f, im.height // f), Image.Resampling.NEAREST)
                          if im.mode in ("RGBA", "LA") else im.reduce(f))
                if max(im.size) > max_side and im.mode in _RESIZABLE:
                    im.thumbnail((max_side, max_side), Image.Resampling.BICUBIC)
                im = ImageOps.exif_transpose(im)
                if im.mode != "RGB":
                    im = _to_rgb(im)
            if max(im.size) > max_side:
                im.thumbnail((max_side, max_side), Image.Resampling.BICUBIC)
            return DecodedImage(im, width, height, exif)
    except MediaError:
        raise
    except UnidentifiedImageError:
        raise MediaError("not a decodable image (unrecognised or damaged format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(f"image too large to decode safely: {exc}") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise MediaError(f"corrupt or truncated image: {exc}") from None


def _exif(im: Image.Image) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "Corrupt EXIF data": the block is dropped, not the image
            exif = im.getexif()
            for ifd in (EXIF_IFD, GPS_IFD):  # parsed now, under this filter (Pillow reads them lazily)
                exif.get_ifd(ifd)
            return exif
    except Exception:  # noqa: BLE001 - a damaged EXIF block is no EXIF, never an undecodable image
        return None


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return im.convert("RGB")
