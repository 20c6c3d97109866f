"""JPEG decoding and CLIP preprocessing on tensors (torchvision): on the GPU when the encoder is there.

With a GPU the image tower is fast enough that decoding JPEGs on the CPU becomes the bottleneck of an
ingest; nvJPEG decodes on the card and the resize / crop / normalise run there too, so only the
compressed bytes cross the bus. On the CPU the same code runs with libjpeg-turbo (tests use that).

Anything this path cannot take (not a complete baseline/progressive JPEG, a preprocessing chain that
is not open_clip's standard one, a decoder error) returns None and the file goes the Pillow way,
which is also what records a genuinely bad file.
"""
from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from typing import Any

from mmsearch.media.images import MAX_PIXELS

# nvJPEG's handle is shared; concurrent decode calls from the decode threads take turns.
_DECODE_LOCK = threading.Lock()


def is_complete_jpeg(data: bytes) -> bool:
    """A JPEG that starts with SOI and ends with EOI (a truncated file is left to Pillow to judge)."""
    return data[:3] == b"\xff\xd8\xff" and data[-64:].rstrip(b"\x00\r\n ").endswith(b"\xff\xd9")


@dataclass(frozen=True)
class TensorPreprocess:
    """open_clip's eval preprocessing (bicubic resize of the shortest side, centre crop, normalise)."""

    size: int
    crop: tuple[int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def from_transforms(cls, compose: Any) -> TensorPreprocess | None:
        """The equivalent of ``compose``, or None when it is not the standard chain."""
        from torchvision import transforms as T

        steps = list(getattr(compose, "transforms", []))
        names = [type(s).__name__ for s in steps]
        if names != ["Resize", "CenterCrop", "MaybeConvertMode", "MaybeToTensor", "Normalize"] and names != [
            "Resize", "CenterCrop", "_convert_to_rgb", "ToTensor", "Normalize"
        ]:
            return None
        resize, crop, norm = steps[0], steps[1], steps[-1]
        if not isinstance(resize.size, int) and not (isinstance(resize.size, (list, tuple)) and len(resize.size) == 1):
            return None  # a fixed (h, w) resize squashes: not this class's rule
        if resize.interpolation != T.InterpolationMode.BICUBIC or resize.max_size is not None:
            return None
        size = resize.size if isinstance(resize.size, int) else resize.size[0]
        crop_h, crop_w = (int(c) for c in crop.size)  # torchvision keeps a CenterCrop's size as (h, w)
        return cls(size=int(size), crop=(crop_h, crop_w), mean=tuple(norm.mean), std=tuple(norm.std))

    def __call__(self, image: Any) -> Any:
        """A (3, H, W) uint8 tensor to the model's normalised float input (3, crop_h, crop_w)."""
        import torch
        from torchvision.transforms.v2 import functional as F

        x = F.resize(image, [self.size], interpolation=F.InterpolationMode.BICUBIC, antialias=True)
        x = F.center_crop(x, list(self.crop))
        x = x.to(torch.float32).div_(255.0)
        return F.normalize(x, list(self.mean), list(self.std))


def decode_jpeg(data: bytes, device: str) -> tuple[Any, int, int]:
    """Decode ``data`` to an RGB (3, H, W) uint8 tensor on ``device`` with EXIF orientation applied.

    Returns ``(tensor, width, height)``, the size as stored (before orientation), like ``load_image``.
    Raises ValueError for headers that claim too many pixels (checked before decoding).
    """
    import torch
    from PIL import Image
    from torchvision.io import ImageReadMode
    from torchvision.io import decode_jpeg as tv_decode

    with Image.open(io.BytesIO(data)) as header:  # reads the header only
        if header.format != "JPEG":
            raise ValueError(f"not a JPEG ({header.format})")
        width, height = header.size
        orientation = int(header.getexif().get(0x0112, 1) or 1)
    if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
        raise ValueError(f"unusable JPEG size {width}x{height}")
    raw = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    with _DECODE_LOCK:
        # torchvision ignores apply_exif_orientation on CUDA, so orientation is applied below, the
        # same way on every device.
        image = tv_decode(raw, mode=ImageReadMode.RGB, device=device)
    return orient(image, orientation), width, height


def orient(image: Any, orientation: int) -> Any:
    """Apply an EXIF orientation (1-8) to a (C, H, W) tensor, as ``PIL.ImageOps.exif_transpose`` does."""
    import torch

    if orientation == 2:
        return image.flip(-1)
    if orientation == 3:
        return image.flip(-1).flip(-2)
    if orientation == 4:
        return image.flip(-2)
    if orientation == 5:
        return image.transpose(-1, -2)
    if orientation == 6:
        return torch.rot90(image, k=-1, dims=(-2, -1))
    if orientation == 7:
        return image.transpose(-1, -2).flip(-1).flip(-2)
    if orientation == 8:
        return torch.rot90(image, k=1, dims=(-2, -1))
    return image
