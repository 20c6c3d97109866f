"""The numpy ToTensor + Normalize (mmsearch/encoders/pil_tensor.py) gives the torchvision tensors bit for bit."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mmsearch.encoders.pil_tensor import PilPreprocess

open_clip = pytest.importorskip("open_clip")


@pytest.mark.parametrize("size", [(640, 480), (224, 224), (97, 301), (1024, 683)])
@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA"])
def test_same_tensor_as_torchvision(size: tuple[int, int], mode: str) -> None:
    compose = open_clip.image_transform(224, is_train=False)
    fast = PilPreprocess.from_transforms(compose)
    assert fast is not None
    rng = np.random.default_rng(sum(size))
    pixels = rng.integers(0, 256, (size[1], size[0], 4), dtype=np.uint8)
    picture = Image.fromarray(pixels, "RGBA").convert(mode)
    want, got = compose(picture), fast(picture)
    assert got.dtype == want.dtype == torch.float32 and got.shape == want.shape == (3, 224, 224)
    assert torch.equal(got, want)


def test_other_transforms_are_left_alone() -> None:
    from torchvision import transforms as T

    assert PilPreprocess.from_transforms(T.Compose([T.Resize(8), T.ToTensor()])) is None
    assert PilPreprocess.from_transforms(T.Compose([T.ToTensor(), T.Normalize([0.5], [0.5])])) is None
    assert PilPreprocess.from_transforms(lambda im: im) is None
