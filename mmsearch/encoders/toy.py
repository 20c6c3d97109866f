"""A deterministic encoder with known semantics, for tests and for trying the pipeline without weights.

It is not a real model. Images are embedded by how much of each named colour they contain; texts by
the colour words they mention plus a hashed bag of their other words. So "red" ranks a red image
first, a red image retrieves the text "a red square", and two texts sharing words are similar.
Select it with the model spec ``toy``.
"""
from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from mmsearch.encoders.base import l2_normalize

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30), "green": (30, 180, 40), "blue": (30, 60, 220), "yellow": (240, 230, 40),
    "orange": (250, 140, 20), "purple": (130, 40, 170), "pink": (250, 150, 200), "brown": (120, 70, 30),
    "black": (10, 10, 10), "white": (245, 245, 245), "gray": (128, 128, 128), "cyan": (40, 220, 230),
}  # fmt: skip
SYNONYMS = {"grey": "gray", "violet": "purple", "crimson": "red", "azure": "blue", "turquoise": "cyan"}
COLOURS = list(PALETTE)
WORD_DIMS = 52
_WORD = re.compile(r"[a-z]+")
_STOP = {"a", "an", "the", "of", "in", "on", "with", "and", "is", "at", "to", "photo", "picture", "image"}


class ToyColorEncoder:
    space = "clip"
    model_id = "toy:colors-v1"
    dim = len(COLOURS) + WORD_DIMS
    modalities = frozenset({"image", "text"})

    def __init__(self) -> None:
        self._palette = np.array([PALETTE[c] for c in COLOURS], dtype=np.float32)

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                word = SYNONYMS.get(word, word)
                if word in PALETTE:
                    out[row, COLOURS.index(word)] += 3.0
                elif word not in _STOP:
                    out[row, len(COLOURS) + zlib.crc32(word.encode()) % WORD_DIMS] += 1.0
        return l2_normalize(out)

    def prepare_image(self, image: Any) -> np.ndarray:
        small = np.asarray(image.convert("RGB").resize((32, 32)), dtype=np.float32).reshape(-1, 3)
        nearest = ((small[:, None, :] - self._palette[None, :, :]) ** 2).sum(-1).argmin(1)
        hist = np.bincount(nearest, minlength=len(COLOURS)).astype(np.float32)
        vec = np.zeros(self.dim, np.float32)
        vec[: len(COLOURS)] = hist
        return vec

    def encode_prepared(self, prepared: Sequence[Any]) -> np.ndarray:
        if not prepared:
            return np.zeros((0, self.dim), np.float32)
        return l2_normalize(np.stack(prepared))
