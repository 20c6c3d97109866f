"""A Pillow picture to the image tower's input tensor, the last two steps (ToTensor, Normalize) in numpy.

Why: torch runs those elementwise steps on its intra-op thread pool, and the index calls them once per
picture from its decode workers while the tower runs on the same pool; the pool's threads then spin
between the tiny ops. Measured on 100 photo-like 640x480 JPEGs, one picture at a time on a quiet 2-core
machine: 7.6 CPU ms a picture through the torchvision transforms, 4.1 this way (the bicubic resize, ~3.4 ms,
is Pillow's either way). The numbers are the same bit for bit: uint8 / 255, minus the mean, over the std,
each one float32 operation as torchvision does it (tests/unit/encoders/test_pil_tensor.py).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


class PilPreprocess:
    """``compose``'s Pillow steps (resize, crop, mode), then ToTensor and Normalize in numpy."""

    def __init__(self, pil_steps: Sequence[Callable[[Any], Any]], mean: Sequence[float], std: Sequence[float]) -> None:
        self.pil_steps = list(pil_steps)
        self.mean = np.asarray(mean, np.float32).reshape(3, 1, 1)
        self.std = np.asarray(std, np.float32).reshape(3, 1, 1)

    @classmethod
    def from_transforms(cls, compose: Any) -> PilPreprocess | None:
        """The numpy form of a torchvision ``Compose`` that ends in ToTensor then a 3-channel Normalize
        (open_clip's eval transforms); None for any other (the caller keeps ``compose``)."""
        from torchvision import transforms as T

        steps = list(getattr(compose, "transforms", []))
        if len(steps) < 2 or not isinstance(steps[-2], T.ToTensor) or not isinstance(steps[-1], T.Normalize):
            return None
        norm = steps[-1]
        if len(norm.mean) != 3 or len(norm.std) != 3:
            return None
        return cls(steps[:-2], norm.mean, norm.std)

    def __call__(self, image: Any) -> Any:
        import torch

        for step in self.pil_steps:
            image = step(image)
        a = np.asarray(image.convert("RGB"), dtype=np.float32).transpose(2, 0, 1) / np.float32(255)
        return torch.from_numpy(np.ascontiguousarray((a - self.mean) / self.std))
