"""Encoders by name: the factory the engine uses to turn a model spec into an Encoder."""
from __future__ import annotations

from typing import Callable

from ..config import DEFAULT_MODEL
from .base import Encoder, l2_normalize

# Spec prefix -> factory(spec, device). Specs without a registered prefix go to open_clip.
_FACTORIES: dict[str, Callable[[str, str], Encoder]] = {}


def register_encoder(prefix: str, factory: Callable[[str, str], Encoder]) -> None:
    """Make ``load_image_text_encoder`` build specs starting with ``prefix:`` (or equal to it) with ``factory``."""
    _FACTORIES[prefix] = factory


def resolve_device(device: str = "auto") -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_image_text_encoder(spec: str, device: str = "auto") -> Encoder:
    """The encoder of the ``clip`` space (images, video frames and texts) for a model spec."""
    prefix = spec.split(":", 1)[0]
    if prefix in _FACTORIES:
        return _FACTORIES[prefix](spec, resolve_device(device))
    from .openclip import OpenClipEncoder

    return OpenClipEncoder(spec, resolve_device(device))


# Default model spec of each space, and the setting that overrides it.
SPACE_DEFAULTS = {"clip": DEFAULT_MODEL, "audio": "laion/clap-htsat-unfused", "text": "bundled"}
SPACE_SETTINGS = {"clip": "model", "audio": "audio_model", "text": "text_model"}
OFF = ("off", "none", "disabled")


def load_encoder(space: str, spec: str, device: str = "auto") -> Encoder:
    """The encoder of any space: ``clip`` (open_clip), ``audio`` (CLAP), ``text`` (sentence embeddings)."""
    if space == "clip":
        return load_image_text_encoder(spec, device)
    if space == "audio":
        from .clap import ClapEncoder

        return ClapEncoder(spec, resolve_device(device))
    if space == "text":
        from .sentence import SentenceEncoder

        return SentenceEncoder(spec, resolve_device(device))
    raise ValueError(f"unknown space {space!r}")


def _toy(spec: str, device: str) -> Encoder:
    from .toy import ToyColorEncoder

    return ToyColorEncoder()


register_encoder("toy", _toy)

__all__ = ["Encoder", "l2_normalize", "register_encoder", "resolve_device", "load_image_text_encoder", "load_encoder",
           "SPACE_DEFAULTS", "SPACE_SETTINGS", "OFF"]
