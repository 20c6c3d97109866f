"""Calibration samples: a fixed random sample of each space's stored vectors (see ranking.Background)."""
from __future__ import annotations

import threading

import numpy as np

from mmsearch.catalog import Catalog
from mmsearch.catalog.records import SpaceRow as Space
from mmsearch.kinds import SEGMENT_KINDS_OF, Modality

SAMPLE_SIZE = 2048
REDRAW = 1.25  # redraw once the space has grown or shrunk by this factor (a fifth) since the draw


class Backgrounds:
    """Per space *and stored modality* (:data:`mmsearch.kinds.MODALITY_OF`): up to :data:`SAMPLE_SIZE`
    stored vectors drawn by random id lookups (never a table scan), kept until the space's size leaves
    ``[n / REDRAW, n * REDRAW]`` of the size at the draw or its model changes.

    Per modality, because one model's cosines differ in scale between what it compares: a text query's
    cosines with texts sit far above its cosines with images (the modality gap), so one background per
    space would let texts bury images."""

    def __init__(self) -> None:
        self._samples: dict[tuple[str, str, Modality], tuple[int, np.ndarray]] = {}
        self._lock = threading.Lock()

    def sample(self, catalog: Catalog, space: Space, modality: Modality, ntotal: int) -> np.ndarray:
        key = (space.name, space.model_id, modality)  # a re-embedded space draws anew
        with self._lock:
            cached = self._samples.get(key)
        if cached is None or not (cached[0] / REDRAW <= ntotal <= cached[0] * REDRAW):
            vectors = catalog.sample_vectors(space.id, space.dim, SAMPLE_SIZE, kinds=SEGMENT_KINDS_OF[modality])
            cached = (ntotal, vectors)
            with self._lock:
                self._samples[key] = cached
        return cached[1]

    def forget(self, name: str | None = None) -> None:
        with self._lock:
            for key in [k for k in self._samples if name is None or k[0] == name]:
                del self._samples[key]
