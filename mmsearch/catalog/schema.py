"""The catalog's tables: SQLAlchemy schema 4 (meta, space, media with when/where and presence columns, segment,
job, place, ingest_error; the full-text table is its backend's, mmsearch/catalog/fulltext/).

The catalog is the source of truth. Every vector is stored here too (float16), so a FAISS index can
be rebuilt, moved to another index type or repaired without decoding or embedding again.

A segment's FAISS id is its primary key, so the index and the catalog agree by construction and a
check is a set comparison. Spaces carry an ``epoch`` bumped in the same transaction that adds or
removes their vectors; an index snapshot records the epoch it reflects, so a stale snapshot is
detected on open and replayed from the stored vectors.

The segment table's own columns come from one declaration, :class:`mmsearch.catalog.records.NewSegment`
(``SEGMENT_COLUMNS``, typed by ``SEGMENT_SQL``); the ORM class only names them for the type checker.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from mmsearch.catalog.records import SEGMENT_COLUMNS, SEGMENT_TYPES
from mmsearch.media.metadata import TimeSource

GENERATION = "generation:"  # meta key prefix: GENERATION + space name -> the token of its current vectors
WRITER = "writer"  # meta key: JSON of the process holding a server catalog's writer lock
STAGING = "~next"  # a re-embed's space and job names: SPACE~next (no real space or job name holds a "~")


def staging_name(space: str) -> str:
    """The name a re-embed of ``space`` stages under (space row and job rows)."""
    return f"{space}{STAGING}"


def staged_kind(space: str) -> str:
    """The ``segment.kind`` of a re-embed's staged rows for ``space``: no query asks for it."""
    return f"~{space}"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Meta(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Space(Base):
    """An embedding space: one encoder's output."""

    __tablename__ = "space"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    model_id: Mapped[str] = mapped_column(Text)
    spec: Mapped[str] = mapped_column(Text, default="")  # how to load the model again
    dim: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Media(Base):
    """One file of the library."""

    __tablename__ = "media"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)  # files past 2 GiB: PostgreSQL's INTEGER is 32-bit
    mtime: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(16), index=True)  # image | text | video | audio
    duration: Mapped[float | None] = mapped_column(Float, nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    decoder: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # A caption file points at the media it describes (IMAGE.txt -> IMAGE.jpg).
    link_id: Mapped[int | None] = mapped_column(
        ForeignKey("media.id", ondelete="SET NULL"), nullable=True, index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="ok")
    indexed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # When and where (schema 3, mmsearch/media/metadata.py): the time the file states, in UTC seconds (None:
    # its mtime is its time), the UTC offset in minutes where it states one, where the time comes from.
    taken_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    time_offset: Mapped[int | None] = mapped_column(Integer, nullable=True)
    time_source: Mapped[str | None] = mapped_column(String(16), nullable=True, default=TimeSource.MTIME)
    camera_make: Mapped[str | None] = mapped_column(Text, nullable=True)
    camera_model: Mapped[str | None] = mapped_column(Text, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    orientation: Mapped[int | None] = mapped_column(Integer, nullable=True)  # EXIF 1..8
    # Gone from an online root (schema 4, mmsearch/presence.py): since when, and how many runs found it gone.
    missing_since: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    missing_runs: Mapped[int | None] = mapped_column(Integer, nullable=True)



# A segment column's SQL type by the annotation of its NewSegment field (a field of a new type needs a row here).
SEGMENT_SQL: dict[str, tuple[TypeEngine, bool]] = {  # annotation -> (type, nullable)
    "str": (String(16), False),  # kind: image | text | scene | frame | audio | speech | subtitle | ~SPACE (staged)
    "float | None": (Float(), True),
    "str | None": (Text(), True),
}


def _declared(name: str) -> Column:
    sql_type, nullable = SEGMENT_SQL[SEGMENT_TYPES[name]]
    return Column(name, sql_type, nullable=nullable)


# The placed columns (the segment's identity, its media, parent, space and vector) and, between them in the
# order of the first schema, the declared ones.
_PLACED_SQL: dict[str, Column] = {
    "id": Column("id", Integer, primary_key=True),  # also the FAISS id
    "media_id": Column("media_id", Integer, ForeignKey("media.id", ondelete="CASCADE"), nullable=False, index=True),
    "parent_id": Column("parent_id", Integer, nullable=True, index=True),
    "space_id": Column("space_id", Integer, ForeignKey("space.id"), nullable=True),
    "vector": Column("vector", LargeBinary, nullable=True),  # float16
}
_ORDER = ("id", "media_id", "kind", "start", "end", "keyframe", "parent_id", "text", "space_id", "vector", "detail")
segment_table = Table(
    "segment", Base.metadata,
    *[_PLACED_SQL[n] if n in _PLACED_SQL else _declared(n) for n in _ORDER if n in _PLACED_SQL or n in SEGMENT_COLUMNS],
    *[_declared(n) for n in SEGMENT_COLUMNS if n not in _ORDER],  # a column declared since: at the end
    Index("ix_segment_space", "space_id", "id"),
)


class Segment(Base):
    """The unit a hit points at: a whole image, a text passage, a video scene or frame, an audio window.
    (Columns: :data:`segment_table`; the annotations are for the type checker.)"""

    __table__ = segment_table
    id: Mapped[int]
    media_id: Mapped[int]
    kind: Mapped[str]
    start: Mapped[float | None]
    end: Mapped[float | None]
    keyframe: Mapped[float | None]
    parent_id: Mapped[int | None]
    text: Mapped[str | None]
    space_id: Mapped[int | None]
    vector: Mapped[bytes | None]
    # JSON facts a kind of segment carries beyond its text (schema 2): e.g. an OCR block's boxes and confidence
    detail: Mapped[str | None]


class FileJob(Base):
    """Where one file stands with one space or job (``kinds.WORK_BY_KIND``): done, pending or failed."""

    __tablename__ = "job"
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)  # a space (clip, audio, text) or job (speech)
    state: Mapped[str] = mapped_column(String(12))  # kinds.JobState
    model_id: Mapped[str | None] = mapped_column(Text, nullable=True)  # the model that did it (done)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)  # why it is pending or failed
    updated: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_job_name_state", "name", "state"),)


class Place(Base):
    """An indexed root, or a mount point inside one (schema 4): its device when last online, and whether its
    files are online or offline (a drive not mounted, an unreadable folder) and why, since when."""

    __tablename__ = "place"
    path: Mapped[str] = mapped_column(String(4000), primary_key=True)
    dev: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # st_dev
    fsid: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # statvfs f_fsid: ext4's is from its UUID
    state: Mapped[str] = mapped_column(String(8), default="online")
    why: Mapped[str | None] = mapped_column(Text, nullable=True)
    since: Mapped[dt.datetime] = mapped_column(default=utcnow)


class IngestError(Base):
    __tablename__ = "ingest_error"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text, index=True)
    stage: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    # The file's size and mtime when it failed: an unchanged bad file is not retried every run.
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    mtime: Mapped[float | None] = mapped_column(Float, nullable=True)
    created: Mapped[dt.datetime] = mapped_column(default=utcnow)

