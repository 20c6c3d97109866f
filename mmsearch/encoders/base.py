"""The Encoder protocol: what an embedding model must offer to the engine.

An encoder owns one *space*: a name (``clip``, ``audio``, ``speech``), the model id that produced it and
a dimension. It maps the modalities it supports to L2-normalised float32 vectors of that dimension.
The engine never mixes vectors of two model ids in one space.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from mmsearch.errors import ModelUnavailableError


@runtime_checkable
class Encoder(Protocol):
    """An embedding model for one space.

    Attributes:
        space: name of the embedding space this encoder writes (``"clip"`` for images+video frames).
        model_id: stable id of the weights, stored in the catalog (e.g. ``"ViT-B-32:laion2b_s34b_b79k"``).
        dim: output dimension.
        modalities: the inputs it accepts, a subset of ``{"text", "image", "audio"}``.
    """

    space: str
    model_id: str
    dim: int
    modalities: frozenset[str]

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Return an (n, dim) float32 array of unit vectors."""
        ...

    def prepare_image(self, image: Any) -> Any:
        """CPU-side preprocessing of one PIL image; safe to call from worker threads."""
        ...

    def encode_prepared(self, prepared: Sequence[Any]) -> np.ndarray:
        """Encode a batch of ``prepare_image`` outputs to an (n, dim) float32 array of unit vectors."""
        ...


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation that leaves zero rows at zero instead of producing NaN."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


CPU_BATCH = 32  # images per batch on the CPU: larger batches measured no faster on 2 cores


def batch_for_memory(free_bytes: int, per_item_bytes: int, floor: int = 16, cap: int = 512) -> int:
    """The largest power-of-two batch whose activations take at most half the free device memory.

    Half, because the caching allocator fragments and the decode threads keep tensors on the card too.
    """
    if per_item_bytes <= 0:
        return cap
    fits = max(1, int(free_bytes * 0.5) // int(per_item_bytes))
    batch = 1 << (fits.bit_length() - 1)
    return int(min(cap, max(floor, batch)))


def require(module: str, name: str, install: str) -> Any:
    """``module.name`` of an optional dependency, or ModelUnavailableError saying it is missing and
    ``install`` (what to do about it)."""
    try:  # the import statement's path (builtins.__import__), as ``from module import name`` would take
        return getattr(__import__(module, fromlist=[name]), name)
    except ImportError as e:
        raise ModelUnavailableError(f"{module.split('.')[0]} is not installed ({e}): {install}") from None
