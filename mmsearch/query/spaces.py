"""The library's spaces as one query sees them: read once, each index looked up once, each calibration once.

A text query touches every space several times — to encode, to search each index, to score the word
matches' stored vectors on the same calibrated scale. Each of those used to ask the catalog again (the
space rows, the index epoch), about 2 ms of a 100k library's query; a :class:`QuerySpaces` asks once and
is dropped with the query, so a change committed by another process is seen by the next query.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mmsearch.catalog.records import SegmentRow, SpaceRow
from mmsearch.context import Context
from mmsearch.kinds import MODALITY_OF, Modality
from mmsearch.query.ranking import Background
from mmsearch.vectors import VectorIndex

# (id of a background sample, query vector bytes) -> (that sample, the query's background on it): a query
# repeated (the web page's paging, a benchmark) is calibrated once while its sample stands.
_RECENT: dict[tuple[int, bytes], tuple[np.ndarray, Background]] = {}
_RECENT_MAX = 64


class QuerySpaces:
    """Space rows, indexes and calibrations of one query (not shared between queries)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._rows: dict[str, SpaceRow] | None = None
        self._ids: dict[int, SpaceRow] = {}
        self._indexes: dict[str, VectorIndex] = {}
        self._backgrounds: dict[tuple[str, bytes], Callable[[SegmentRow], Background]] = {}

    @property
    def rows(self) -> dict[str, SpaceRow]:
        """The library's spaces by name (a re-embed's staging row is not one of them)."""
        return self._read()[0]

    def _read(self) -> tuple[dict[str, SpaceRow], dict[int, SpaceRow]]:
        if self._rows is None:
            self._rows = {sp.name: sp for sp in self.ctx.catalog.spaces()}
            self._ids = {sp.id: sp for sp in self._rows.values()}
        return self._rows, self._ids

    def named(self, name: str) -> SpaceRow | None:
        """A space by name; one not among :attr:`rows` (a staging row) is read from the catalog."""
        return self.rows.get(name) or self.ctx.catalog.space(name)

    def by_id(self, space_id: int | None) -> SpaceRow | None:
        return self._read()[1].get(space_id) if space_id is not None else None

    def index(self, space: SpaceRow) -> VectorIndex:
        """The space's index, its epoch checked against the catalog once per query."""
        found = self._indexes.get(space.name)
        if found is None:
            found = self._indexes[space.name] = self.ctx.library.index(space)
        return found

    def background(self, space: SpaceRow, vector: np.ndarray) -> Callable[[SegmentRow], Background]:
        """The calibration of ``vector``'s cosines in ``space``, per stored modality of a row (each computed
        once; the semantic and the word candidates of one query share them)."""
        query = np.ascontiguousarray(vector, np.float32).tobytes()
        key = (space.name, query)
        found = self._backgrounds.get(key)
        if found is None:
            found = self._backgrounds[key] = self._calibration(space, vector, query)
        return found

    def _calibration(self, space: SpaceRow, vector: np.ndarray, query: bytes) -> Callable[[SegmentRow], Background]:
        done: dict[Modality, Background] = {}
        ntotal = self.index(space).ntotal

        def of(row: SegmentRow) -> Background:
            modality = MODALITY_OF.get(row.kind, Modality.VISUAL)
            if modality not in done:
                sample = self.ctx.backgrounds.sample(self.ctx.catalog, space, modality, ntotal)
                key = (id(sample), query)
                recent = _RECENT.get(key)
                if recent is None or recent[0] is not sample:
                    if len(_RECENT) >= _RECENT_MAX:
                        _RECENT.clear()
                    recent = _RECENT[key] = (sample, Background.of(sample, vector))
                done[modality] = recent[1]
            return done[modality]

        return of
