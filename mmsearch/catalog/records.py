"""The values the catalog hands out and takes in, without SQLAlchemy: what ranking and query code import.

:class:`NewSegment` is also the one declaration of a segment's columns (:data:`SEGMENT_COLUMNS`): the schema
(mmsearch/catalog/schema.py), the write path, a re-embed's staging and its swap all derive from its fields, so a
new column is a new field here (plus its migration step for libraries that exist).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

MAX_TERMS = 32  # words of one query used for matching (and as many phonetic keys)


@dataclass(frozen=True)
class NewSegment:
    """A segment to write; ``vector`` is None for segments that are not embedded."""

    kind: str
    vector: np.ndarray | None = None
    start: float | None = None
    end: float | None = None
    keyframe: float | None = None
    text: str | None = None
    parent: int | None = None  # index of the parent within the same write, for frames of a scene
    space: str | None = None  # the space of the vector; None: the write's default space
    detail: str | None = None  # JSON facts beyond the text (an OCR block's boxes and confidence)

    @classmethod
    def again(cls, stored: Any, vector: np.ndarray | None) -> NewSegment:
        """A stored segment (anything with the declared columns as attributes) with a new ``vector``: every
        declared column kept, its parent left to the caller (a re-embed from the stored text)."""
        return cls(vector=vector, **{name: getattr(stored, name) for name in SEGMENT_COLUMNS})


# How each field of NewSegment reaches the segment table. The PLACED ones become other columns in the write
# (``vector``: the float16 bytes in its space, ``parent``: ``parent_id``, ``space``: ``space_id``); every other
# field is a column of its own name and type. A re-embed's staged row must not look like a live segment to a
# query, listing or the full text, so it holds the HELD columns in its ``detail`` JSON until the swap; it
# carries the rest (CARRIED) as columns.
PLACED = frozenset({"vector", "parent", "space"})
SEGMENT_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(NewSegment) if f.name not in PLACED)
HELD: tuple[str, ...] = ("kind", "text", "detail")
CARRIED: tuple[str, ...] = tuple(c for c in SEGMENT_COLUMNS if c not in HELD)
# The annotation of each column's field (records are read with ``from __future__ import annotations``)
SEGMENT_TYPES: dict[str, str] = {f.name: str(f.type) for f in dataclasses.fields(NewSegment) if f.name not in PLACED}


@dataclass(frozen=True)
class SegmentRow:
    """What a query needs of a segment, joined with its media."""

    id: int
    media_id: int
    kind: str
    start: float | None
    end: float | None
    keyframe: float | None
    parent_id: int | None
    text: str | None
    path: str
    media_kind: str
    link_id: int | None
    link_path: str | None = None
    link_kind: str | None = None
    space_id: int | None = None  # the space of its vector (None: a segment without one)
    # When and where its media was made (a caption's or subtitle's: those of the media it describes):
    # media_time in UTC seconds (the time the file states, else its mtime), see mmsearch/query/when_where.py
    media_time: float | None = None
    time_offset: int | None = None
    time_source: str | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    lat: float | None = None
    lon: float | None = None

    @classmethod
    def of(cls, values: Sequence[Any]) -> SegmentRow:
        """A row from a result tuple in field order, without the frozen ``__init__``'s per-field
        ``object.__setattr__`` (6 us a row, a third of a hot query's row handling); absent fields: defaults."""
        row = object.__new__(cls)
        row.__dict__.update(_SEGMENT_ROW_DEFAULTS)
        row.__dict__.update(zip(_SEGMENT_ROW_FIELDS, values))
        return row


_SEGMENT_ROW_FIELDS = tuple(f.name for f in dataclasses.fields(SegmentRow))
_SEGMENT_ROW_DEFAULTS = {f.name: f.default for f in dataclasses.fields(SegmentRow)
                         if f.default is not dataclasses.MISSING}


@dataclass(frozen=True)
class WordRow:
    """A segment as the word match of a query reads it: its row, stored vector bytes, phonetic keys."""

    row: SegmentRow
    vector: bytes | None
    keys: str  # the stored phonetic column, space-separated ("" when it has none)


@dataclass(frozen=True)
class JobMark:
    """A file's state for one space or job: done (by ``model_id``), pending or failed (``error`` says why)."""

    state: str  # kinds.JobState
    model_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class WriteResult:
    media_ids: list[int]
    added: dict[str, list[tuple[int, np.ndarray]]]  # space name -> (segment id, vector) to index
    removed: list[tuple[int, int]]  # (space id, segment id) to remove from the index


@dataclass(frozen=True)
class IntegrityFacts:
    """What ``check`` reads from the catalog in one go."""

    media: int
    segments: int
    orphans: list[int]  # segments of no media
    no_space: list[int]  # segments of a space that does not exist
    no_parent: list[int]  # segments whose parent does not exist
    empty_media: list[str]  # paths of media without segments
    paths: list[str]


@dataclass(frozen=True)
class SimilaritySource:
    """What "more like this" searches with (stored vectors by space) and what it must leave out."""

    vectors: dict[str, np.ndarray]
    media_ids: frozenset[int]
    start: float | None = None
    end: float | None = None

    def covers(self, hit: Any) -> bool:
        """Whether ``hit`` is the source itself: the same whole file, or a moment overlapping the source's span."""
        if hit.media_id not in self.media_ids:
            return False
        if self.start is None or hit.start is None:
            return True
        end = self.end if self.end is not None else self.start
        return bool(hit.start < end + 1e-6 and (hit.end if hit.end is not None else hit.start) > self.start - 1e-6)


Generation = tuple[int, "str | None"]  # (epoch, token) of a space


# -- what query code reads of a space or a file (the catalog hands out its rows, which have these attributes) ----
class SpaceRow(Protocol):
    """An embedding space as the query side and the library read it."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def model_id(self) -> str: ...
    @property
    def spec(self) -> str: ...
    @property
    def dim(self) -> int: ...
    @property
    def epoch(self) -> int: ...


class MediaRow(Protocol):
    """An indexed file as the query side reads it."""

    @property
    def id(self) -> int: ...
    @property
    def path(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def link_id(self) -> int | None: ...


# -- the full text ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueryWords:
    """A query's text analysed once (mmsearch/query/words.py): its distinct ``terms`` and phonetic ``keys`` (at
    most :data:`MAX_TERMS` each, in order), and each term's own keys."""

    terms: tuple[str, ...]
    keys: tuple[str, ...]
    term_keys: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class FtsQuery:
    """What a search asks: the specific ``words``/``keys`` ranked first, then ``broad`` ones (any match)."""

    words: tuple[str, ...]  # specific words (in fewer than COMMON segments)
    keys: tuple[str, ...]  # specific phonetic keys
    broad_words: tuple[str, ...]  # every query word
    broad_keys: tuple[str, ...]  # every phonetic key of the query
    weights: tuple[float, ...] = ()  # specificity of each of words + keys, in that order (default 1 each)

    def tokens(self) -> list[tuple[str, bool]]:
        """The specific tokens as (token, is a phonetic key), words first."""
        return [(w, False) for w in self.words] + [(k, True) for k in self.keys]


@dataclass(frozen=True)
class FtsHit:
    segment_id: int
    score: float


@dataclass(frozen=True)
class FtsRow:
    segment_id: int
    text: str
    phonetic: str
    name: str


# -- what a catalog read needs of a when-and-where filter (mmsearch/query/when_where.py is one) ---------------
class NearBox(Protocol):
    def box(self) -> tuple[float, float, list[tuple[float, float]] | None]:
        """(lat low, lat high, longitude ranges; None: every longitude) of a box holding the place."""
        ...


class MediaWhere(Protocol):
    """A filter on when and where media was made: UTC seconds (after inclusive, before exclusive), a lower-case
    camera substring, a place (its bounding box is applied in SQL; the exact rule is the filter's own)."""

    @property
    def after(self) -> float | None: ...
    @property
    def before(self) -> float | None: ...
    @property
    def camera(self) -> str | None: ...
    @property
    def near(self) -> NearBox | None: ...
    def __hash__(self) -> int: ...  # a filter is a key of the statements built once (catalog/filters.py)


# -- stored vectors ---------------------------------------------------------------------------------------------
def encode_vector(v: np.ndarray) -> bytes:
    return np.asarray(v, dtype=np.float16).tobytes()


def as_stored(v: np.ndarray) -> np.ndarray:
    """The vector exactly as the catalog keeps it, so a replayed index equals the live one."""
    return np.asarray(v, dtype=np.float16).astype(np.float32)


def decode_vectors(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(blobs), dim).astype(np.float32)
