"""Batched encoding of decoded files: each file's vectors per space, and its job segments' texts embedded.

One rule for a local run's writer and a cluster's encode actors (indexers/cluster/), so a library indexed
either way holds the same vectors.
"""
from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np

from mmsearch.kinds import WORK_BY_KIND, Space

from .items import Decoded
from .spaces import RunModels


class BatchEncoder:
    """Encodes batches of :class:`~.items.Decoded` files with the models of a run."""

    def __init__(self, models: RunModels) -> None:
        self.models = models

    def vectors(self, batch: list[Decoded], spaces: Collection[str] | None = None) -> list[dict[str, list[np.ndarray]]]:
        """Each file's vectors per space, in order: its images and texts in ``clip`` (when that model is
        here), its texts also in the sentence space ``text`` when its kind's work includes it. ``spaces``:
        only those (a backfill)."""
        encoder = self.models.encoder
        out: list[dict[str, list[np.ndarray]]] = [{} for _ in batch]
        if encoder is not None and (spaces is None or Space.CLIP in spaces):
            images = [img for item in batch for img in item.images]
            image_vecs = list(encoder.encode_prepared(images)) if images else []
            text_vecs = self._texts(encoder, [t for item in batch for t in item.texts])
            ii = ti = 0
            for item, vecs in zip(batch, out):
                if item.images:
                    vecs[Space.CLIP] = image_vecs[ii : ii + len(item.images)]
                    ii += len(item.images)
                elif item.texts:
                    vecs[Space.CLIP] = text_vecs[ti : ti + len(item.texts)]
                    ti += len(item.texts)
        wants_text = [bool(item.texts) and Space.TEXT in WORK_BY_KIND[item.entry.kind]
                      and (spaces is None or Space.TEXT in spaces) for item in batch]
        sentence = self.models.text_encoder() if any(wants_text) else None
        if sentence is not None:
            text_vecs = self._texts(sentence, [t for item, w in zip(batch, wants_text) if w for t in item.texts])
            ti = 0
            for item, w, vecs in zip(batch, wants_text, out):
                if w:
                    vecs[Space.TEXT] = text_vecs[ti : ti + len(item.texts)]
                    ti += len(item.texts)
        return out

    def _texts(self, encoder: Any, texts: list[str]) -> list[np.ndarray]:
        vecs: list[np.ndarray] = []
        step = self.models.batch_size
        for i in range(0, len(texts), step):
            vecs += list(encoder.encode_text(texts[i : i + step]))
        return vecs
