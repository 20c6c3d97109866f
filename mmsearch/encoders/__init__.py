"""Encoders by name: turn a space's model spec into an Encoder (one small module per model family).

``LOADERS`` maps each embedding space to the factory of its model family; ``register_encoder`` lets a
spec prefix of the ``clip`` space (``toy``, or a plug-in) choose another factory. Every factory takes
``(spec, device)`` with ``device`` already resolved (``cpu``, ``cuda``, ``cuda:1``).
"""
from __future__ import annotations

import os
from collections.abc import Callable

from mmsearch.encoders.base import Encoder, l2_normalize
from mmsearch.kinds import Space

Factory = Callable[[str, str], Encoder]
GPU_DEVICE_FILES = ("/dev/nvidiactl", "/dev/kfd")

# Spec prefix -> factory(spec, device) for the clip space. Specs without a registered prefix go to open_clip.
_FACTORIES: dict[str, Factory] = {}


def register_encoder(prefix: str, factory: Factory) -> None:
    """Make ``load_image_text_encoder`` build specs starting with ``prefix:`` (or equal to it) with ``factory``."""
    _FACTORIES[prefix] = factory


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; anything else is kept. Without a GPU driver's
    device files (NVIDIA's /dev/nvidiactl, ROCm's /dev/kfd) torch cannot see one: ``cpu`` without importing it."""
    if device != "auto":
        return device
    if not any(os.path.exists(node) for node in GPU_DEVICE_FILES):
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_image_text_encoder(spec: str, device: str = "auto") -> Encoder:
    """The encoder of the ``clip`` space (images, video frames and texts) for a model spec."""
    prefix = spec.split(":", 1)[0]
    if prefix in _FACTORIES:
        return _FACTORIES[prefix](spec, resolve_device(device))
    from mmsearch.encoders.openclip import OpenClipEncoder

    return OpenClipEncoder(spec, resolve_device(device))


def _clap(spec: str, device: str) -> Encoder:
    from mmsearch.encoders.clap import ClapEncoder

    return ClapEncoder(spec, device)


def _sentence(spec: str, device: str) -> Encoder:
    from mmsearch.encoders.sentence import SentenceEncoder

    return SentenceEncoder(spec, device)


def _toy(spec: str, device: str) -> Encoder:
    from mmsearch.encoders.toy import ToyColorEncoder

    return ToyColorEncoder()


LOADERS: dict[Space, Factory] = {
    Space.CLIP: load_image_text_encoder,
    Space.AUDIO: _clap,
    Space.TEXT: _sentence,
}


def load_encoder(space: str, spec: str, device: str = "auto") -> Encoder:
    """The encoder of any space: ``clip`` (open_clip), ``audio`` (CLAP), ``text`` (sentence embeddings)."""
    try:
        factory = LOADERS[Space(space)]
    except ValueError:
        raise ValueError(f"unknown space {space!r}") from None
    return factory(spec, resolve_device(device))


register_encoder("toy", _toy)

__all__ = ["Encoder", "Factory", "LOADERS", "l2_normalize", "register_encoder", "resolve_device",
           "load_image_text_encoder", "load_encoder"]
