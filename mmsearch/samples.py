"""Calibration samples: a fixed random sample of each space's stored vectors (see ranking.Background)."""
from __future__ import annotations

import threading

import numpy as np

from .catalog import Catalog, Space

SAMPLE_SIZE = 2048
REDRAW = 1.25  # redraw once the space has grown or shrunk by this factor (a fifth) since the draw


class Backgrounds:
    """Per space: up to :data:`SAMPLE_SIZE` stored vectors drawn by random id lookups (never a table
    scan), kept until the space's size leaves ``[n / REDRAW, n * REDRAW]`` of the size at the draw."""

    def __init__(self) -> None:
        self._samples: dict[str, tuple[int, np.ndarray]] = {}
        self._lock = threading.Lock()

    def sample(self, catalog: Catalog, space: Space, ntotal: int) -> np.ndarray:
        with self._lock:
            cached = self._samples.get(space.name)
        if cached is None or not (cached[0] / REDRAW <= ntotal <= cached[0] * REDRAW):
            cached = (ntotal, catalog.sample_vectors(space.id, space.dim, SAMPLE_SIZE))
            with self._lock:
                self._samples[space.name] = cached
        return cached[1]

    def forget(self, name: str | None = None) -> None:
        with self._lock:
            if name is None:
                self._samples.clear()
            else:
                self._samples.pop(name, None)
