"""The catalog: SQL schema and queries for media files, segments, vectors and ingest errors.

The catalog is the source of truth. Every vector is stored here too (float16), so a FAISS index can
be rebuilt, moved to another index type or repaired without decoding or embedding again.

A segment's FAISS id is its primary key, so the index and the catalog agree by construction and a
check is a set comparison. Spaces carry an ``epoch`` bumped in the same transaction that adds or
removes their vectors; an index snapshot records the epoch it reflects, so a stale snapshot is
detected on open and replayed from the stored vectors.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    bindparam,
    case,
    create_engine,
    delete,
    event,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, aliased, mapped_column, sessionmaker

from mmsearch import _faults as faults
from mmsearch import fulltext
from mmsearch.catalog_lock import LOCKS, AdvisoryLock
from mmsearch.errors import LibraryError, LibraryLockedError, ReembedIncompleteError
from mmsearch.fulltext import FtsHit, phonetic_column
from mmsearch.kinds import WORK_BY_KIND, Job, JobState, MediaKind
from mmsearch.media.metadata import FACT_COLUMNS, TimeSource
from mmsearch.when_where import WhenWhere

SCHEMA_VERSION = 4


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


class Segment(Base):
    """The unit a hit points at: a whole image, a text passage, a video scene or frame, an audio window."""

    __tablename__ = "segment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # also the FAISS id
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # image | text | scene | frame | audio | speech | subtitle
    start: Mapped[float | None] = mapped_column(Float, nullable=True)
    end: Mapped[float | None] = mapped_column(Float, nullable=True)
    keyframe: Mapped[float | None] = mapped_column(Float, nullable=True)
    parent_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    space_id: Mapped[int | None] = mapped_column(ForeignKey("space.id"), nullable=True)
    vector: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # float16
    # JSON facts a kind of segment carries beyond its text (schema 2): e.g. an OCR block's boxes and confidence
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_segment_space", "space_id", "id"),)


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


# Migrations: MIGRATIONS[n] upgrades a catalog at version n to n+1, as SQL statements or callables of a
# connection, run in one transaction with the version bump. Version 1 is the first schema.
Migration = Sequence["str | Callable[[Connection], None]"]


def _v1_to_v2(conn: Connection) -> None:
    """Schema 2: per-file jobs and the full-text index, filled from what a schema-1 library holds.

    A file's work is ``done`` where its segments exist in that space (or its speech was transcribed);
    the rest of what ``WORK_BY_KIND`` asks is ``pending``, so the next index run backfills it — the
    sentence-space embedding of texts (new in schema 2), and the sound windows of files indexed while
    CLAP was unavailable. Speech counts as done where the ``text`` space exists (the transcriber ran;
    silence gives no passages).

    Idempotent: SQLite runs DDL outside the step's transaction, so a step killed half-way may leave its
    tables behind with the version still 1; running it again empties and refills them."""
    job_table = Base.metadata.tables["job"]
    Base.metadata.create_all(conn, tables=[job_table])
    if "detail" not in {c["name"] for c in inspect(conn).get_columns("segment")}:
        conn.exec_driver_sql("ALTER TABLE segment ADD COLUMN detail TEXT")
    fulltext.create(conn)
    conn.execute(delete(FileJob))
    conn.exec_driver_sql("DELETE FROM segment_fts")
    spaces = {name: (sid, model) for sid, name, model in conn.execute(select(Space.id, Space.name, Space.model_id))}
    have: set[tuple[int, str]] = set()
    for media_id, space_name in conn.execute(
        select(Segment.media_id, Space.name).join(Space, Space.id == Segment.space_id).distinct()
    ):
        have.add((int(media_id), space_name))
    spoken = {int(m) for (m,) in conn.execute(select(Segment.media_id).where(Segment.kind == "speech").distinct())}
    rows = []
    for media_id, kind in conn.execute(select(Media.id, Media.kind)):
        for name in WORK_BY_KIND.get(MediaKind(kind), ()):
            if name == "speech":
                done = media_id in spoken or "text" in spaces
                model = spaces["text"][1] if "text" in spaces else None
            else:
                done = (media_id, name) in have
                model = spaces[name][1] if name in spaces else None
            rows.append({"media_id": media_id, "name": str(name), "state": JobState.DONE if done else JobState.PENDING,
                         "model_id": model if done else None, "error": None if done else "indexed before schema 2",
                         "updated": utcnow()})
    if rows:
        conn.execute(job_table.insert(), rows)
    fts = fulltext.backend(conn)
    batch: list[fulltext.FtsRow] = []
    named: set[int] = set()
    order = select(Segment.id, Segment.media_id, Segment.text, Media.path).join(Media, Media.id == Segment.media_id)
    for seg_id, media_id, text, path in conn.execute(order.order_by(Segment.media_id, Segment.id)):
        if not text and media_id in named:
            continue
        name = "" if media_id in named else fulltext.name_words(path)
        named.add(media_id)
        batch.append(fulltext.FtsRow(int(seg_id), text or "", phonetic_column(text or ""), name))
        if len(batch) >= 5000:
            fts.insert(conn, batch)
            batch = []
    fts.insert(conn, batch)


# The media columns schema 3 adds, as constant statements (types both SQLite and PostgreSQL take).
V3_COLUMNS = {
    "taken_at": "ALTER TABLE media ADD COLUMN taken_at FLOAT",
    "time_offset": "ALTER TABLE media ADD COLUMN time_offset INTEGER",
    "time_source": "ALTER TABLE media ADD COLUMN time_source VARCHAR(16)",
    "camera_make": "ALTER TABLE media ADD COLUMN camera_make TEXT",
    "camera_model": "ALTER TABLE media ADD COLUMN camera_model TEXT",
    "lat": "ALTER TABLE media ADD COLUMN lat FLOAT",
    "lon": "ALTER TABLE media ADD COLUMN lon FLOAT",
    "orientation": "ALTER TABLE media ADD COLUMN orientation INTEGER",
}


def _v2_to_v3(conn: Connection) -> None:
    """Schema 3: when and where each file was made (media time, camera, place, orientation). The columns
    start empty (the media time is the mtime, ``time_source`` ``mtime``) and the ``metadata`` job is pending
    for every file whose kind has one, so the next ``mmsearch index`` reads their headers (a backfill).
    Idempotent like :func:`_v1_to_v2`."""
    have = {c["name"] for c in inspect(conn).get_columns("media")}
    for name, statement in V3_COLUMNS.items():
        if name not in have:
            conn.exec_driver_sql(statement)
    conn.execute(update(Media).values({**{name: None for name in FACT_COLUMNS}, "time_source": TimeSource.MTIME}))
    conn.execute(delete(FileJob).where(FileJob.name == Job.METADATA))
    rows = [{"media_id": media_id, "name": str(Job.METADATA), "state": JobState.PENDING, "model_id": None,
             "error": "indexed before schema 3", "updated": utcnow()}
            for media_id, kind in conn.execute(select(Media.id, Media.kind))
            if Job.METADATA in WORK_BY_KIND.get(MediaKind(kind), ())]
    if rows:
        conn.execute(Base.metadata.tables["job"].insert(), rows)


V4_COLUMNS = {"missing_since": "ALTER TABLE media ADD COLUMN missing_since TIMESTAMP",
              "missing_runs": "ALTER TABLE media ADD COLUMN missing_runs INTEGER"}


def _v3_to_v4(conn: Connection) -> None:
    """Schema 4: the ``place`` table (roots' devices and online state) and each file's missing marks, empty:
    every file present, each place's device recorded by the next index run. Idempotent like :func:`_v1_to_v2`."""
    Base.metadata.create_all(conn, tables=[Base.metadata.tables["place"]])
    have = {c["name"] for c in inspect(conn).get_columns("media")}
    for name, statement in V4_COLUMNS.items():
        if name not in have:
            conn.exec_driver_sql(statement)


MIGRATIONS: dict[int, Migration] = {1: [_v1_to_v2], 2: [_v2_to_v3], 3: [_v3_to_v4]}


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
    # media_time in UTC seconds (the time the file states, else its mtime), see mmsearch/when_where.py
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


# What a failed write means, by words of the database's own message (SQLite, PostgreSQL).
_WRITE_FAILURES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("disk is full", "no space left", "could not extend file", "disk full"),
     "the disk holding the library is full: free some space and run the command again (nothing indexed "
     "before was lost)"),
    (("readonly database", "read-only", "read only", "permission denied"),
     "the library is read-only here: make it writable, or use another --library"),
    (("unable to open database", "no such table", "disk i/o error"),
     "the library's catalog could not be written (was its folder removed or its disk unplugged during "
     "the run?)"),
)


def write_failure(url: str, exc: BaseException) -> LibraryError:
    """The one-line LibraryError for a write the database refused."""
    why = " ".join(str(getattr(exc, "orig", exc)).split())
    low = why.lower()
    for words, meaning in _WRITE_FAILURES:
        if any(w in low for w in words):
            return LibraryError(f"{meaning} ({shown_url(url)}: {why})")
    return LibraryError(f"cannot write to catalog {shown_url(url)}: {why}")


def shown_url(url: str) -> str:
    """A database URL fit for a message: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # not a URL SQLAlchemy parses: mask what looks like ``user:password@``
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _db_text(text: str | None) -> str | None:
    """Text as every backend stores it: PostgreSQL cannot hold NUL characters."""
    return text.replace("\x00", "") if text else text


def encode_vector(v: np.ndarray) -> bytes:
    return np.asarray(v, dtype=np.float16).tobytes()


def _as_stored(v: np.ndarray) -> np.ndarray:
    """The vector exactly as the catalog keeps it, so a replayed index equals the live one."""
    return np.asarray(v, dtype=np.float16).astype(np.float32)


def decode_vectors(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(blobs), dim).astype(np.float32)


class Catalog:
    """SQLAlchemy-backed catalog. Thread-safe for the engine's use: each call opens its own session."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = url
        try:
            # a ping guards against a server that dropped the connection; a SQLite file has none to drop
            self.sql: SqlEngine = create_engine(url, future=True, pool_pre_ping=not url.startswith("sqlite"))
        except (SQLAlchemyError, ImportError) as exc:
            raise LibraryError(f"cannot open database {shown_url(url)!r}: {exc}") from None
        if self.sql.dialect.name == "sqlite":
            event.listen(self.sql, "connect", _sqlite_pragmas)
        self.session = sessionmaker(self.sql, expire_on_commit=False)
        self._write_lock = threading.Lock()
        self._server_lock: AdvisoryLock | None = None
        self._open(create)

    # -- schema -------------------------------------------------------------------------------
    def _open(self, create: bool) -> None:
        try:
            with self.sql.begin() as conn:
                has_meta = self.sql.dialect.has_table(conn, "meta")
            # Tables without a version row: a creation still running in another process, or killed
            # half-way (create_all is not one transaction on SQLite): finish it, or say there is none yet.
            if not has_meta or self.schema_version() == 0:
                if not create:
                    raise LibraryError(f"no mmsearch catalog at {shown_url(self.url)}")
                Base.metadata.create_all(self.sql)
                with self.sql.begin() as conn:
                    fulltext.create(conn)
                with self.session.begin() as s:
                    s.merge(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
                return
            version = self.schema_version()
        except SQLAlchemyError as exc:  # not a database, damaged, unreachable: one clear line, no traceback
            why = " ".join(str(getattr(exc, "orig", exc)).split())
            raise LibraryError(f"cannot read catalog {shown_url(self.url)}: {why}") from None
        if version > SCHEMA_VERSION:
            raise LibraryError(
                f"this library was written by a newer mmsearch (catalog schema {version}, this version "
                f"reads up to {SCHEMA_VERSION}); upgrade mmsearch to open it"
            )
        while version < SCHEMA_VERSION:
            # Each step and its version bump commit together: a crash mid-migration leaves the
            # previous version, and the next open runs the step again.
            with self._writing() as s:
                for step in MIGRATIONS[version]:
                    if isinstance(step, str):
                        s.connection().exec_driver_sql(step)
                    else:
                        step(s.connection())
                version += 1
                s.merge(Meta(key="schema_version", value=str(version)))

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Session]:
        """One write transaction (one writer at a time in this process). A database that cannot take the
        write — disk full, read-only, gone — raises LibraryError with one line saying so; the transaction is
        rolled back, so nothing committed before is touched."""
        try:
            with self._write_lock, self.session.begin() as s:
                yield s
        except SQLAlchemyError as exc:
            raise write_failure(self.url, exc) from None

    def schema_version(self) -> int:
        with self.session() as s:
            row = s.get(Meta, "schema_version")
            return int(row.value) if row else 0

    def close(self) -> None:
        self.release_writer_lock()
        self.sql.dispose()

    # -- spaces -------------------------------------------------------------------------------
    def space(self, name: str) -> Space | None:
        with self.session() as s:
            return s.scalar(select(Space).where(Space.name == name))

    def spaces(self) -> list[Space]:
        """The library's spaces; a re-embed's staging row (:func:`staging_name`) is not one of them."""
        with self.session() as s:
            return list(s.scalars(select(Space).where(~Space.name.endswith(STAGING, autoescape=True))
                                  .order_by(Space.id)))

    def ensure_space(self, name: str, model_id: str, dim: int, spec: str = "") -> Space:
        """Create the space on first use; callers check model ids before writing."""
        with self._writing() as s:
            space = s.scalar(select(Space).where(Space.name == name))
            if space is None:
                space = Space(name=name, model_id=model_id, dim=dim, epoch=0, spec=spec)
                s.add(space)
                s.flush()
            return space

    # -- media ----------------------------------------------------------------------------------
    def media_by_path(self, path: str) -> Media | None:
        with self.session() as s:
            return s.scalar(select(Media).where(Media.path == path))

    def media_by_id(self, media_id: int) -> Media | None:
        with self.session() as s:
            return s.get(Media, media_id)

    def all_media(self, prefix: str | None = None) -> list[Media]:
        with self.session() as s:
            q = select(Media)
            if prefix is not None:
                q = q.where(Media.path.startswith(prefix, autoescape=True))
            return list(s.scalars(q.order_by(Media.path)))

    def media_by_hash(self, content_hash: str) -> list[Media]:
        with self.session() as s:
            return list(s.scalars(select(Media).where(Media.content_hash == content_hash)))

    def touch_media(self, media_id: int, *, size: int, mtime: float, path: str | None = None) -> None:
        with self._writing() as s:
            values: dict = {"size": size, "mtime": mtime, "missing_since": None, "missing_runs": None}
            if path is not None:
                values["path"] = path
            s.execute(update(Media).where(Media.id == media_id).values(**values))

    def set_link(self, media_id: int, link_id: int | None) -> None:
        with self._writing() as s:
            s.execute(update(Media).where(Media.id == media_id).values(link_id=link_id))

    def write_media(
        self,
        items: Sequence[tuple[dict, Sequence[NewSegment]]],
        space_name: str | None,
        replace_ids: Iterable[int] = (),
        jobs: Sequence[dict[str, JobMark]] | None = None,
    ) -> WriteResult:
        """Insert media rows with their segments in ONE transaction; remove ``replace_ids`` first.

        A segment's vector goes to its own ``space`` if it names one, else to ``space_name``. Every
        space whose vectors change gets its epoch bumped in the same transaction; the segments' words
        enter the full-text index, and ``jobs`` (aligned with ``items``) record each file's work.
        """
        with self._writing() as s:
            spaces = {sp.name: sp for sp in s.scalars(select(Space))}
            removed = _delete_media(s, list(replace_ids))
            media_ids: list[int] = []
            added: dict[str, list[tuple[int, np.ndarray]]] = {}
            for n, (fields, segments) in enumerate(items):
                media = Media(**fields)
                s.add(media)
                s.flush()
                media_ids.append(media.id)
                _add_segments(s, media, segments, spaces, space_name, added, named=True)
                if jobs is not None:
                    _mark_jobs(s, media.id, jobs[n])
            _bump(s, {sid for sid, _ in removed} | {spaces[name].id for name in added})
            # A file's old error goes with the commit that indexes it (no stale error after a crash).
            for chunk in _chunks([fields["path"] for fields, _ in items], 900):
                s.execute(delete(IngestError).where(IngestError.path.in_(chunk)))
            faults.point("commit")
            return WriteResult(media_ids, added, removed)

    def remove_media(self, media_ids: Sequence[int]) -> list[tuple[int, int]]:
        """Delete media with their segments; returns (space id, segment id) of removed vectors."""
        if not media_ids:
            return []
        with self._writing() as s:
            removed = _delete_media(s, list(media_ids))
            _bump(s, {sid for sid, _ in removed})
            return removed

    def add_segments(
        self,
        media_id: int,
        segments: Sequence[NewSegment],
        jobs: dict[str, JobMark],
        *,
        replace_spaces: Sequence[str] = (),
        fields: dict | None = None,
        space_name: str | None = None,
    ) -> WriteResult:
        """Add segments to a file already in the library (a backfilled or re-embedded space), in ONE
        transaction with its job marks; its segments of ``replace_spaces`` go first, ``fields`` update
        its media row; a vector without a ``space`` goes to ``space_name``. The file's other segments are
        untouched."""
        with self._writing() as s:
            media = s.get(Media, media_id)
            if media is None:
                raise LibraryError(f"media {media_id} is gone from the catalog")
            spaces = {sp.name: sp for sp in s.scalars(select(Space))}
            removed: list[tuple[int, int]] = []
            old_ids = [sp.id for name, sp in spaces.items() if name in replace_spaces]
            if old_ids:
                gone = list(s.execute(select(Segment.id, Segment.space_id)
                                      .where(Segment.media_id == media_id, Segment.space_id.in_(old_ids))))
                removed = [(int(sid), int(seg)) for seg, sid in gone if sid is not None]
                fulltext.backend(s.connection()).delete(s.connection(), [seg for seg, _ in gone])
                s.execute(delete(Segment).where(Segment.id.in_([seg for seg, _ in gone])))
            if fields:
                s.execute(update(Media).where(Media.id == media_id).values(**fields))
            added: dict[str, list[tuple[int, np.ndarray]]] = {}
            _add_segments(s, media, segments, spaces, space_name, added, named=False)
            _mark_jobs(s, media_id, jobs)
            _bump(s, {sid for sid, _ in removed} | {spaces[name].id for name in added})
            faults.point("commit")
            return WriteResult([media_id], added, removed)

    # -- jobs -----------------------------------------------------------------------------------
    def set_jobs(self, media_id: int, marks: dict[str, JobMark]) -> None:
        """Record where one file stands with some of its work (no segments change)."""
        with self._writing() as s:
            _mark_jobs(s, media_id, marks)

    def jobs_of(self, media_id: int) -> dict[str, JobMark]:
        with self.session() as s:
            return {j.name: JobMark(j.state, j.model_id, j.error)
                    for j in s.scalars(select(FileJob).where(FileJob.media_id == media_id))}

    def pending(self, names: Iterable[str] | None = None) -> dict[int, set[str]]:
        """Files with pending work: media id -> the pending space/job names (only ``names``, if given)."""
        with self.session() as s:
            q = select(FileJob.media_id, FileJob.name).where(FileJob.state == JobState.PENDING)
            if names is not None:
                q = q.where(FileJob.name.in_(list(names)))
            out: dict[int, set[str]] = {}
            for media_id, name in s.execute(q):
                out.setdefault(int(media_id), set()).add(name)
            return out

    def job_counts(self) -> dict[str, dict[str, int]]:
        """Per space/job name: how many files are done, pending, failed."""
        with self.session() as s:
            out: dict[str, dict[str, int]] = {}
            for name, state, n in s.execute(
                select(FileJob.name, FileJob.state, func.count()).group_by(FileJob.name, FileJob.state)
            ):
                out.setdefault(name, {str(st): 0 for st in JobState})[state] = int(n)
            return out

    # -- roots ----------------------------------------------------------------------------------
    def roots(self) -> list[str]:
        """The folders and files this library has been indexed from (what ``index`` with no paths re-reads)."""
        with self.session() as s:
            row = s.get(Meta, "roots")
            return list(json.loads(row.value)) if row else []

    def add_roots(self, paths: Sequence[str]) -> None:
        """Remember indexed roots; a root inside one already remembered adds nothing."""
        known = self.roots()
        new = [p for p in paths if not any(p == k or p.startswith(k.rstrip("/") + "/") for k in known)]
        if not new:
            return
        kept = [k for k in known if not any(k.startswith(p.rstrip("/") + "/") for p in new)]
        with self._writing() as s:
            s.merge(Meta(key="roots", value=json.dumps(sorted(kept + new))))

    # -- presence (mmsearch/presence.py) -----------------------------------------------------------
    def places(self) -> dict[str, Place]:
        with self.session() as s:
            return {p.path: p for p in s.scalars(select(Place))}

    def set_place(self, path: str, dev: int | None, fsid: int | None, state: str, why: str | None) -> None:
        """Record a place's device (None: keep the one recorded) and state; ``since`` moves when the state does."""
        with self._writing() as s:
            old = s.get(Place, path)
            if old is None:
                s.add(Place(path=path, dev=dev, fsid=fsid, state=state, why=why))
            else:
                old.since = utcnow() if old.state != state else old.since
                old.state, old.why = state, why
                if dev is not None:
                    old.dev, old.fsid = dev, fsid

    def forget_places(self, paths: Sequence[str]) -> None:
        with self._writing() as s:
            s.execute(delete(Place).where(Place.path.in_(list(paths))))

    def mark_missing(self, media_ids: Sequence[int], present: Sequence[int] = ()) -> None:
        """One more run found ``media_ids`` gone (since now, if they were not missing); ``present`` are back."""
        with self._writing() as s:
            for chunk in _chunks(list(media_ids), 900):
                s.execute(update(Media).where(Media.id.in_(chunk)).values(
                    missing_since=func.coalesce(Media.missing_since, utcnow()),
                    missing_runs=func.coalesce(Media.missing_runs, 0) + 1))
            for chunk in _chunks(list(present), 900):
                s.execute(update(Media).where(Media.id.in_(chunk)).values(missing_since=None, missing_runs=None))

    def presence_of(self, media_ids: Sequence[int]) -> tuple[list[str], set[int]]:
        """The offline places' paths, and which of ``media_ids`` are marked missing (one connection)."""
        with self.sql.connect() as conn:
            offline = list(conn.scalars(select(Place.path).where(Place.state == "offline")))
            missing = {int(i) for chunk in _chunks(list(dict.fromkeys(media_ids)), 900) for i in conn.scalars(
                select(Media.id).where(Media.id.in_(chunk), Media.missing_since.is_not(None)))}
        return offline, missing

    def count_under(self, prefix: str) -> tuple[int, int]:
        """(files, of them missing) whose path is ``prefix`` or below it."""
        inside = prefix.rstrip("/") + "/"
        with self.session() as s:
            row = s.execute(select(func.count(), func.count(Media.missing_since))
                            .where((Media.path == prefix) | Media.path.startswith(inside, autoescape=True))).one()
        return int(row[0]), int(row[1])

    def clear_scan_errors(self, prefix: str) -> None:
        """Forget the scan errors at or below ``prefix`` (a run looks again and records what still fails)."""
        inside = prefix.rstrip("/") + "/"
        with self._writing() as s:
            s.execute(delete(IngestError).where(IngestError.stage == "scan", (IngestError.path == prefix)
                                                | IngestError.path.startswith(inside, autoescape=True)))

    def excluded(self) -> list[str]:
        """Paths ``remove`` forgot: scans skip them until ``index`` names them (or a path inside) again."""
        with self.session() as s:
            row = s.get(Meta, "excluded")
            return list(json.loads(row.value)) if row else []

    def set_excluded(self, paths: Sequence[str]) -> None:
        with self._writing() as s:
            s.merge(Meta(key="excluded", value=json.dumps(sorted(set(paths)))))

    # -- full text ------------------------------------------------------------------------------
    def fulltext(self, query: str, limit: int = 200) -> list[tuple[int, float]]:
        """Segments whose words (text, phonetic keys, file name) match any word of ``query``:
        ``(segment id, score)`` best first (the summed specificity of the tokens each holds; the two-step
        query of :func:`mmsearch.fulltext.search`)."""
        return [(h.segment_id, h.score) for h in self.fulltext_hits(query, limit)[0]]

    def fulltext_hits(self, query: str, limit: int = 200,
                      fill: int | None = None) -> tuple[list[FtsHit], dict[str, int]]:
        """:meth:`fulltext` as :class:`~mmsearch.fulltext.FtsHit` (topped up to ``fill`` with unranked ones,
        see :func:`mmsearch.fulltext.search`), with the document frequencies of the query's words and keys
        (counted up to ``fulltext.COMMON``)."""
        terms = fulltext.query_terms(query)
        if not terms:
            return [], {}
        with self.sql.connect() as conn:
            df = fulltext.FREQUENCIES.of(conn, terms, fulltext.query_keys(query))
            return fulltext.search(conn, fulltext.plan(query, df), limit, fill), df

    # -- segments -----------------------------------------------------------------------------
    def segments(self, ids: Sequence[int], where: WhenWhere | None = None) -> dict[int, SegmentRow]:
        """Segments by id joined with their media, in one query per 900 ids (SQLite's bound limit); ``where``:
        only those whose media match it (in SQL; ``near`` by its bounding box, see WhenWhere.keeps)."""
        out: dict[int, SegmentRow] = {}
        ids = [int(i) for i in ids]
        with self.sql.connect() as conn:  # Core, not an ORM session: a third of this hot call's time
            for chunk in _chunks(ids, 900):
                for row in conn.execute(_segments_by_id(where), {"ids": chunk}).all():
                    out[row[0]] = SegmentRow.of(row)
        return out

    def word_rows(self, ids: Sequence[int], where: WhenWhere | None = None) -> dict[int, WordRow]:
        """:meth:`segments` with each one's stored vector bytes and phonetic keys (what the word match of a
        query needs), in one statement per 900 ids."""
        out: dict[int, WordRow] = {}
        statement = _word_rows_by_id(self.sql.dialect.name, where)
        with self.sql.connect() as conn:
            for chunk in _chunks([int(i) for i in ids], 900):
                for *row, vector, keys in conn.execute(statement, {"ids": chunk}).all():
                    out[row[0]] = WordRow(SegmentRow.of(row), vector, keys or "")
        return out

    def segments_of_media(self, media_id: int, kinds: Sequence[str] | None = None) -> list[SegmentRow]:
        with self.session() as s:
            q = (
                _segment_columns()
                .where(Segment.media_id == media_id)
                .order_by(Segment.start, Segment.id)
            )
            if kinds:
                q = q.where(Segment.kind.in_(list(kinds)))
            return [SegmentRow(*row) for row in s.execute(q)]

    def segments_containing(self, terms: Sequence[str], limit: int = 200) -> list[SegmentRow]:
        """Text-bearing segments whose text contains every term (case-insensitive, parameterised LIKE)."""
        with self.session() as s:
            q = _segment_columns().where(Segment.text.is_not(None))
            for term in terms:
                q = q.where(func.lower(Segment.text).contains(term.lower(), autoescape=True))
            return [SegmentRow(*row) for row in s.execute(q.order_by(Media.path, Segment.start).limit(limit))]

    def vectors_of_media(self, media_id: int) -> dict[str, np.ndarray]:
        """Stored vectors of one media file by space name (to query with a file already indexed)."""
        with self.session() as s:
            q = (
                select(Space.name, Space.dim, Segment.vector)
                .join(Space, Space.id == Segment.space_id)
                .where(Segment.media_id == media_id)
                .order_by(Segment.id)
            )
            grouped: dict[str, tuple[int, list[bytes]]] = {}
            for name, dim, blob in s.execute(q):
                if blob is not None:
                    grouped.setdefault(name, (dim, []))[1].append(blob)
            return {name: decode_vectors(blobs, dim) for name, (dim, blobs) in grouped.items()}

    def similarity_source(self, *, segment_id: int | None = None,
                          media_id: int | None = None) -> SimilaritySource | None:
        """The stored vectors (by space) that stand for one segment or a whole file in "more like this",
        and what they cover; None when there is no such segment or media.

        A segment without a vector of its own is represented by its child segments (a scene's frames),
        else by the segments of its file that overlap it."""
        with self.session() as s:
            seg = None
            if segment_id is not None:
                seg = s.get(Segment, segment_id)
                if seg is None:
                    return None
                media_id = seg.media_id
            media = s.get(Media, media_id)
            if media is None:
                return None
            rows = s.execute(
                select(Segment.id, Segment.start, Segment.end, Segment.parent_id, Space.name, Space.dim, Segment.vector)
                .join(Space, Space.id == Segment.space_id)
                .where(Segment.media_id == media.id, Segment.vector.is_not(None))
                .order_by(Segment.id)
            ).all()
            media_ids = frozenset({media.id} | ({media.link_id} if media.link_id else set()))
            start = end = None
            if seg is not None:
                chosen = [r for r in rows if r.id == seg.id] or [r for r in rows if r.parent_id == seg.id]
                if not chosen and seg.start is not None:
                    until = seg.end if seg.end is not None else seg.start
                    chosen = [r for r in rows if r.start is not None and r.start < until
                              and (r.end if r.end is not None else r.start) > seg.start]
                rows, start, end = chosen, seg.start, seg.end
        grouped: dict[str, tuple[int, list[bytes]]] = {}
        for r in rows:
            grouped.setdefault(r.name, (r.dim, []))[1].append(r.vector)
        vectors = {name: decode_vectors(blobs, dim) for name, (dim, blobs) in grouped.items()}
        return SimilaritySource(vectors, media_ids, start, end)

    # -- integrity (mmsearch.integrity) ------------------------------------------------------
    def integrity_facts(self) -> IntegrityFacts:
        """Counts and dangling references, for ``check``."""
        with self.session() as s:
            parent = aliased(Segment)
            return IntegrityFacts(
                media=int(s.scalar(select(func.count()).select_from(Media)) or 0),
                segments=int(s.scalar(select(func.count()).select_from(Segment)) or 0),
                orphans=list(s.scalars(
                    select(Segment.id).outerjoin(Media, Media.id == Segment.media_id).where(Media.id.is_(None)))),
                no_space=list(s.scalars(
                    select(Segment.id).outerjoin(Space, Space.id == Segment.space_id)
                    .where(Segment.space_id.is_not(None), Space.id.is_(None)))),
                no_parent=list(s.scalars(
                    select(Segment.id).outerjoin(parent, parent.id == Segment.parent_id)
                    .where(Segment.parent_id.is_not(None), parent.id.is_(None)))),
                empty_media=list(s.scalars(
                    select(Media.path).outerjoin(Segment, Segment.media_id == Media.id).where(Segment.id.is_(None)))),
                paths=list(s.scalars(select(Media.path).order_by(Media.path))),
            )

    def iter_raw_vectors(self, space_id: int, batch: int = 20_000) -> Iterator[list[tuple[int, int, bytes | None]]]:
        """(segment id, media id, stored vector bytes) of a space in id order, a batch at a time, unchecked."""
        last = -1
        with self.session() as s:
            while True:
                rows = s.execute(
                    select(Segment.id, Segment.media_id, Segment.vector)
                    .where(Segment.space_id == space_id, Segment.id > last)
                    .order_by(Segment.id)
                    .limit(batch)
                ).all()
                if not rows:
                    return
                yield [(int(a), int(b), c) for a, b, c in rows]
                last = rows[-1][0]

    def vector_blobs(self, ids: Sequence[int]) -> dict[int, bytes]:
        """Stored vector bytes of segments by id (unchecked)."""
        out: dict[int, bytes] = {}
        with self.session() as s:
            for chunk in _chunks([int(i) for i in ids], 900):
                query = select(Segment.id, Segment.vector).where(Segment.id.in_(chunk), Segment.vector.is_not(None))
                out.update({int(a): b for a, b in s.execute(query) if b is not None})
        return out

    def delete_segments(self, ids: Sequence[int]) -> None:
        """Delete segments by id (children are detached first) and bump the epochs of their spaces."""
        with self._writing() as s:
            spaces: set[int] = set()
            for chunk in _chunks(list(ids), 900):
                spaces |= {int(sid) for (sid,) in s.execute(
                    select(Segment.space_id).where(Segment.id.in_(chunk), Segment.space_id.is_not(None)).distinct()
                ) if sid is not None}
                s.execute(update(Segment).where(Segment.parent_id.in_(chunk)).values(parent_id=None))
                fulltext.backend(s.connection()).delete(s.connection(), list(chunk))
                s.execute(delete(Segment).where(Segment.id.in_(chunk)))
            _bump(s, set(spaces))

    def iter_vectors(self, space_id: int, dim: int, batch: int = 50_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All (ids, float32 vectors) of a space, in id order, in batches (for index rebuilds); a segment
        without stored bytes is left out."""
        for rows in self.iter_raw_vectors(space_id, batch):
            kept = [(sid, blob) for sid, _, blob in rows if blob is not None]
            if kept:
                yield (np.fromiter((sid for sid, _ in kept), dtype=np.int64, count=len(kept)),
                       decode_vectors([blob for _, blob in kept], dim))

    def sample_vectors(self, space_id: int, dim: int, n: int, kinds: Sequence[str] | None = None) -> np.ndarray:
        """About ``n`` stored vectors of a space (of segments of ``kinds``, if given) drawn at random; all of
        them for a small set.

        Draws random ids between the space's smallest and largest segment id and keeps those that belong:
        a few indexed lookups, never a scan of a large table. A rare kind that random ids seldom hit is
        read directly, up to ``n`` rows."""
        import random

        where = [Segment.space_id == space_id] + ([Segment.kind.in_(list(kinds))] if kinds else [])
        with self.session() as s:
            lo, hi, count = s.execute(select(func.min(Segment.id), func.max(Segment.id), func.count(Segment.id))
                                      .where(*where)).one()
            if not count:
                return np.zeros((0, dim), np.float32)
            if count <= n:
                return decode_vectors(list(s.scalars(select(Segment.vector).where(*where))), dim)
            rng = random.Random(space_id)  # the same sample for the same library state
            blobs: list[bytes] = []
            for _ in range(4):
                ids = sorted({rng.randint(lo, hi) for _ in range(n)})
                for chunk in _chunks(ids, 900):
                    blobs += [b for b in s.scalars(select(Segment.vector).where(*where, Segment.id.in_(chunk))) if b]
                if len(blobs) >= n // 2:
                    break
            if len(blobs) < n // 2:
                blobs = list(s.scalars(select(Segment.vector).where(*where).limit(n)))
            return decode_vectors(blobs[:n], dim)

    def vector_ids(self, space_id: int) -> np.ndarray:
        with self.session() as s:
            ids = s.scalars(select(Segment.id).where(Segment.space_id == space_id).order_by(Segment.id)).all()
            return np.asarray(ids, dtype=np.int64)

    def duplicate_candidates(self, segment_kind: str, space: str) -> tuple[list[dict], np.ndarray, np.ndarray]:
        """Every segment of ``segment_kind`` (image, scene) with its media's facts and its ``detail`` (for
        mmsearch.query.duplicates.report), its vector in ``space`` (zeros where it has none) and which rows have one."""
        names = ("segment_id", "media_id", "path", "kind", "start", "end", "keyframe", "width", "height",
                 "duration", "size", "detail")
        with self.session() as s:
            sp = s.scalar(select(Space).where(Space.name == space))
            rows = s.execute(
                select(Segment.id, Segment.media_id, Media.path, Segment.kind, Segment.start, Segment.end,
                       Segment.keyframe, Media.width, Media.height, Media.duration, Media.size, Segment.detail,
                       Segment.space_id, Segment.vector)
                .join(Media, Media.id == Segment.media_id)
                .where(Segment.kind == segment_kind)
                .order_by(Segment.id)
            ).all()
        dim = sp.dim if sp is not None else 1
        has = np.array([sp is not None and r.space_id == sp.id and r.vector is not None for r in rows], bool)
        vectors = np.zeros((len(rows), dim), np.float32)
        if has.any():
            vectors[has] = decode_vectors([r.vector for r, h in zip(rows, has) if h], dim)
        return [dict(zip(names, r[:12])) for r in rows], vectors, has

    # -- errors ---------------------------------------------------------------------------------
    def record_error(self, path: str, stage: str, message: str, size: int | None = None,
                     mtime: float | None = None) -> None:
        with self._writing() as s:
            s.execute(delete(IngestError).where(IngestError.path == path))
            s.add(IngestError(path=path, stage=stage, message=message[:2000], size=size, mtime=mtime))

    def errors(self) -> list[IngestError]:
        with self.session() as s:
            return list(s.scalars(select(IngestError).order_by(IngestError.created, IngestError.id)))

    def error_states(self) -> dict[str, tuple[int | None, float | None]]:
        """path -> (size, mtime) of every file that failed."""
        with self.session() as s:
            rows = s.execute(select(IngestError.path, IngestError.size, IngestError.mtime))
            return {p: (size, mtime) for p, size, mtime in rows}

    def space_epochs(self) -> dict[str, int]:
        with self.session() as s:
            return dict(s.execute(select(Space.name, Space.epoch)).all())

    # -- generations: what exactly a snapshot reflects ----------------------------------------------
    def space_generations(self) -> dict[str, Generation]:
        """name -> (epoch, token) of every space. The token is a random value written in the same transaction
        as every change of the space's vectors (:func:`_bump`), so no two catalog states share one: a catalog
        rolled back by a power cut, then written again, gets new tokens where an epoch counter repeats.
        ``None``: a space no writer of this version has changed yet (a library from before tokens)."""
        with self.session() as s:
            epochs = dict(s.execute(select(Space.name, Space.epoch)).all())
            tokens = dict(s.execute(select(Meta.key, Meta.value).where(Meta.key.startswith(GENERATION))).all())
        return {name: (int(epoch), tokens.get(GENERATION + name)) for name, epoch in epochs.items()}

    def ensure_generations(self) -> int:
        """Give every space without a token one (a writer's first open of an older library, so its snapshots,
        which hold no token, are replayed once). Returns how many were written."""
        with self._writing() as s:
            have = set(s.scalars(select(Meta.key).where(Meta.key.startswith(GENERATION))))
            missing = [sid for sid, name in s.execute(select(Space.id, Space.name).where(
                ~Space.name.endswith(STAGING, autoescape=True))) if GENERATION + name not in have]
            _bump(s, set(missing))
            return len(missing)

    # -- the writer lock of a shared catalog (catalog_lock.py) -------------------------------------
    def take_writer_lock(self, holder: dict[str, Any]) -> None:
        """On a database server, take the catalog's writer lock for this process, or raise LibraryLockedError
        naming the holder (host, pid, library, since: the ``writer`` meta row its holder wrote). ``holder``:
        this process's row. Nothing to do for SQLite (the library folder's flock is the lock)."""
        kind = LOCKS.get(self.sql.dialect.name)
        if kind is None or self._server_lock is not None:
            return
        lock = kind(self.sql)
        try:
            got = lock.acquire()
        except SQLAlchemyError as exc:
            raise write_failure(self.url, exc) from None
        if not got:
            raise LibraryLockedError(f"another mmsearch process is writing into the catalog {shown_url(self.url)} "
                                     f"({_holder_text(self.writer_holder())}); wait for it to finish")
        self._server_lock = lock
        try:
            with self._writing() as s:
                s.merge(Meta(key=WRITER, value=json.dumps(holder)))
        except BaseException:
            self.release_writer_lock()
            raise

    def release_writer_lock(self) -> None:
        """Give the writer lock of a server catalog back (its ``writer`` row goes first)."""
        lock, self._server_lock = self._server_lock, None
        if lock is None:
            return
        try:
            with self._writing() as s:
                s.execute(delete(Meta).where(Meta.key == WRITER))
        except LibraryError:
            pass  # the server is gone: so is the lock
        finally:
            lock.release()

    def writer_holder(self) -> dict[str, Any] | None:
        """The ``writer`` row of the process holding a server catalog's lock (None: none recorded)."""
        with self.session() as s:
            row = s.get(Meta, WRITER)
        try:
            return json.loads(row.value) if row is not None else None
        except ValueError:
            return None

    # -- stats ----------------------------------------------------------------------------------
    def counts(self) -> dict:
        with self.session() as s:
            media = dict(s.execute(select(Media.kind, func.count()).group_by(Media.kind)).all())
            segments = dict(s.execute(select(Segment.kind, func.count()).group_by(Segment.kind)).all())
            per_space = dict(
                s.execute(
                    select(Space.name, func.count(Segment.id))
                    .join(Segment, Segment.space_id == Space.id, isouter=True)
                    .group_by(Space.name)
                ).all()
            )
            total_bytes = s.scalar(select(func.coalesce(func.sum(Media.size), 0)))
            errors = s.scalar(select(func.count()).select_from(IngestError))
        return {"media": media, "segments": segments, "vectors": per_space, "bytes": int(total_bytes or 0),
                "errors": int(errors or 0)}

    # -- lookups for many hits at once ------------------------------------------------------------
    def media_by_paths(self, paths: Sequence[str]) -> dict[str, Media]:
        """Media rows by path for every indexed one of ``paths``, in one query per 900 paths."""
        out: dict[str, Media] = {}
        wanted = list(dict.fromkeys(paths))
        with self.session() as s:
            for chunk in _chunks(wanted, 900):
                out.update((m.path, m) for m in s.scalars(select(Media).where(Media.path.in_(list(chunk)))))
        return out

    # -- re-embedding a space (indexers/reembed.py) ----------------------------------------------
    # A re-embed writes each file's new segments as *staged* rows: kind ``~SPACE``, no space, no text and no
    # full-text row (their kind, text and detail wait in ``detail`` as JSON), so no query, listing or check sees
    # them; a staging space row records the new model and a job row under the staging name marks each file
    # done. ``swap_space`` turns them into the space's segments in one transaction.
    def staging_space(self, space: str, model_id: str, dim: int, spec: str) -> Space:
        """The staging row of a re-embed of ``space`` to ``model_id``: a resumed re-embed to the same model
        keeps the files already staged; one to another model first discards them."""
        name = staging_name(space)
        with self._writing() as s:
            row = s.scalar(select(Space).where(Space.name == name))
            if row is not None and (row.model_id != model_id or row.dim != dim):
                _discard_staged(s, space)
                s.delete(row)
                s.flush()
                row = None
            if row is None:
                row = Space(name=name, model_id=model_id, dim=dim, epoch=0, spec=spec)
                s.add(row)
                s.flush()
            return row

    def reembed_targets(self, space: str) -> list[int]:
        """Media ids whose work in ``space`` a re-embed redoes: those with segments in it or marked done in it."""
        with self.session() as s:
            row = s.scalar(select(Space).where(Space.name == space))
            if row is None:
                return []
            with_segments = set(s.scalars(select(Segment.media_id).where(Segment.space_id == row.id).distinct()))
            done = set(s.scalars(select(FileJob.media_id).where(FileJob.name == space,
                                                                 FileJob.state == JobState.DONE)))
            return sorted(int(m) for m in with_segments | done)

    def staged_media(self, space: str) -> set[int]:
        """Media ids a re-embed of ``space`` has staged (done); a file that failed is tried again by the next run."""
        with self.session() as s:
            return {int(m) for m in s.scalars(select(FileJob.media_id).where(
                FileJob.name == staging_name(space), FileJob.state == JobState.DONE))}

    def unstaged(self, space: str) -> dict[int, str]:
        """media id -> why, for every file a re-embed of ``space`` must redo and has not staged: the reason its
        last try recorded, or "not re-embedded yet". Empty: the re-embed is complete and may swap."""
        with self.session() as s:
            return _unstaged(s, space)

    def stored_texts(self, media_id: int, space: str) -> list[Segment]:
        """One file's segments in ``space`` that carry a text, in id order (re-embedded from the text alone)."""
        with self.session() as s:
            row = s.scalar(select(Space).where(Space.name == space))
            if row is None:
                return []
            return list(s.scalars(select(Segment).where(Segment.media_id == media_id, Segment.space_id == row.id,
                                                        Segment.text.is_not(None)).order_by(Segment.id)))

    def stage_segments(self, media_id: int, space: str, segments: Sequence[NewSegment], mark: JobMark,
                       parent_ids: Sequence[int | None] | None = None) -> int:
        """Stage one file's re-embedded segments of ``space`` with its staging job mark, in ONE transaction
        (a file staged before is replaced). ``parent_ids``: absolute parents of segments whose parent is not
        in the write. Returns the number of vectors staged."""
        kind = staged_kind(space)
        with self._writing() as s:
            if s.get(Media, media_id) is None:
                raise LibraryError(f"media {media_id} is gone from the catalog")
            s.execute(delete(Segment).where(Segment.media_id == media_id, Segment.kind == kind))
            rows: list[Segment] = []
            for n, seg in enumerate(segments):
                parent = rows[seg.parent].id if seg.parent is not None else (parent_ids[n] if parent_ids else None)
                facts = {"kind": str(seg.kind), "text": _db_text(seg.text), "detail": seg.detail}
                row = Segment(media_id=media_id, kind=kind, start=seg.start, end=seg.end, keyframe=seg.keyframe,
                              parent_id=parent, space_id=None, detail=json.dumps(facts),
                              vector=encode_vector(seg.vector) if seg.vector is not None else None)
                s.add(row)
                s.flush()
                rows.append(row)
            _mark_jobs(s, media_id, {staging_name(space): mark})
            faults.point("commit")
            return sum(1 for seg in segments if seg.vector is not None)

    def swap_space(self, space: str, *, force: bool = False) -> Space:
        """Make a finished re-embed the space, in ONE transaction: the space's old segments go (with their
        full-text rows), the staged ones become its segments, the space row takes the new model (epoch bumped),
        the staging job marks become the space's, the affected files' words are indexed again, and the staging
        row goes. Returns the space row.

        The rule: it swaps only when every file of the space is staged (checked inside the transaction);
        otherwise it raises :class:`ReembedIncompleteError` and changes nothing. ``force`` swaps anyway: the
        files not staged lose their vectors in the space and their work there is pending again."""
        kind = staged_kind(space)
        with self._writing() as s:
            row = s.scalar(select(Space).where(Space.name == space))
            staging = s.scalar(select(Space).where(Space.name == staging_name(space)))
            if row is None or staging is None:
                raise LibraryError(f"no re-embed of space {space!r} is under way")
            missing = _unstaged(s, space)
            if missing and not force:
                raise ReembedIncompleteError(space, missing)
            for media_id in missing:  # --force: their old vectors go below, their work is to be done again
                s.merge(FileJob(media_id=media_id, name=staging_name(space), state=JobState.FAILED,
                                model_id=None, error=missing[media_id], updated=utcnow()))
            s.flush()
            conn = s.connection()
            old = list(s.scalars(select(Segment.id).where(Segment.space_id == row.id)))
            touched = set(s.scalars(select(Segment.media_id).where(Segment.space_id == row.id).distinct()))
            for chunk in _chunks(old, 900):
                s.execute(update(Segment).where(Segment.parent_id.in_(chunk)).values(parent_id=None))
                fulltext.backend(conn).delete(conn, list(chunk))
                s.execute(delete(Segment).where(Segment.id.in_(chunk)))
            promoted = []
            for seg_id, media_id, detail, vector in s.execute(
                    select(Segment.id, Segment.media_id, Segment.detail, Segment.vector).where(Segment.kind == kind)):
                facts = json.loads(detail or "{}")
                touched.add(int(media_id))
                promoted.append({"sid": seg_id, "new_kind": facts.get("kind"), "new_text": facts.get("text"),
                                 "new_detail": facts.get("detail"),
                                 "new_space": row.id if vector is not None else None})
            if promoted:
                table = Segment.__table__
                conn.execute(update(table).where(table.c.id == bindparam("sid")).values(  # type: ignore[arg-type]
                    kind=bindparam("new_kind"), text=bindparam("new_text"), detail=bindparam("new_detail"),
                    space_id=bindparam("new_space")), promoted)
            kinds = {int(m): k for m, k in s.execute(select(Media.id, Media.kind))}
            for job in list(s.scalars(select(FileJob).where(FileJob.name == staging_name(space)))):
                if space in WORK_BY_KIND.get(MediaKind(kinds[job.media_id]), ()):
                    state = job.state if job.state == JobState.DONE else JobState.PENDING
                    s.merge(FileJob(media_id=job.media_id, name=space, state=state, model_id=job.model_id,
                                    error=job.error, updated=utcnow()))
                s.delete(job)
            s.execute(update(Space).where(Space.id == row.id).values(
                model_id=staging.model_id, spec=staging.spec, dim=staging.dim))
            _bump(s, {row.id})
            s.delete(staging)
            _reword(s, sorted(touched))
            s.flush()
            s.refresh(row)
            return row

    def discard_staging(self, space: str) -> bool:
        """Drop an unfinished re-embed of ``space`` (its staged segments, marks and staging row); False: none."""
        with self._writing() as s:
            staging = s.scalar(select(Space).where(Space.name == staging_name(space)))
            if staging is None:
                return False
            _discard_staged(s, space)
            s.delete(staging)
            return True


@functools.lru_cache(maxsize=16)
def _segments_by_id(where: WhenWhere | None = None):
    """The per-query join as one statement built once (per filter): building it costs more than running it
    (~3 ms of a 1,000-image library's ~6 ms search), and a fixed statement hits SQLAlchemy's cache."""
    return _segment_columns(where).where(Segment.id.in_(bindparam("ids", expanding=True)))


@functools.lru_cache(maxsize=16)
def _word_rows_by_id(dialect: str, where: WhenWhere | None = None):
    """The word match's join: SegmentRow's columns, the stored vector, the phonetic keys (built once per
    dialect and filter, like :func:`_segments_by_id`)."""
    fts, segment_id, keys = fulltext.BACKENDS[dialect].keys_join()
    return (_segment_columns(where).add_columns(Segment.vector, keys).outerjoin(fts, segment_id == Segment.id)
            .where(Segment.id.in_(bindparam("ids", expanding=True))))


def _segment_columns(where: WhenWhere | None = None):
    """SELECT of SegmentRow's columns: a segment, its media, and the media that one links to; the when and
    where columns are those of the linked media for a caption or subtitle file. ``where``: only matches."""
    linked = aliased(Media)

    def fact(column: str) -> Any:
        return case((linked.id.is_not(None), getattr(linked, column)), else_=getattr(Media, column))

    media_time = case((linked.id.is_not(None), func.coalesce(linked.taken_at, linked.mtime)),
                      else_=func.coalesce(Media.taken_at, Media.mtime))
    facts = [fact(c) for c in ("time_offset", "time_source", "camera_make", "camera_model", "lat", "lon")]
    q = (
        select(Segment.id, Segment.media_id, Segment.kind, Segment.start, Segment.end, Segment.keyframe,
               Segment.parent_id, Segment.text, Media.path, Media.kind, Media.link_id, linked.path, linked.kind,
               Segment.space_id, media_time, *facts)
        .join(Media, Media.id == Segment.media_id)
        .outerjoin(linked, linked.id == Media.link_id)
    )
    if where is not None:
        q = q.where(*where.clauses(media_time, facts[2], facts[3], facts[4], facts[5]))
    return q


def _delete_media(s: Session, media_ids: list[int]) -> list[tuple[int, int]]:
    removed: list[tuple[int, int]] = []
    for chunk in _chunks(media_ids, 900):
        removed += [
            (int(sid), int(seg))
            for seg, sid in s.execute(
                select(Segment.id, Segment.space_id).where(Segment.media_id.in_(chunk), Segment.space_id.is_not(None))
            )
            if sid is not None
        ]
        s.execute(update(Media).where(Media.link_id.in_(chunk)).values(link_id=None))
        fts = fulltext.backend(s.connection())
        fts.delete(s.connection(), list(s.scalars(select(Segment.id).where(Segment.media_id.in_(chunk)))))
        s.execute(delete(Segment).where(Segment.media_id.in_(chunk)))
        s.execute(delete(Media).where(Media.id.in_(chunk)))
    return removed


def _add_segments(s: Session, media: Media, segments: Sequence[NewSegment], spaces: dict[str, Space],
                  default_space: str | None, added: dict[str, list[tuple[int, np.ndarray]]], *, named: bool) -> None:
    """Insert one file's segments (parents before children), collect vectors to index, index their words.
    ``named``: the file is new, so its name enters the full-text index (on its first text segment, or its
    first segment when it has no text)."""
    rows: list[Segment] = []
    fts_rows: list[fulltext.FtsRow] = []
    worded: set[tuple[str, float | None, float | None]] = set()  # one full-text row per passage, whatever its spaces
    name = fulltext.name_words(media.path) if named else ""
    for seg in segments:
        space = spaces.get(seg.space or default_space or "") if seg.vector is not None else None
        if seg.vector is not None and space is None:
            raise ValueError(f"segment of unknown space {seg.space or default_space!r}")
        row = Segment(
            media_id=media.id,
            kind=seg.kind,
            start=seg.start,
            end=seg.end,
            keyframe=seg.keyframe,
            text=_db_text(seg.text),
            parent_id=rows[seg.parent].id if seg.parent is not None else None,
            space_id=space.id if space is not None else None,
            vector=encode_vector(seg.vector) if space is not None and seg.vector is not None else None,
            detail=seg.detail,
        )
        s.add(row)
        s.flush()
        rows.append(row)
        if space is not None and seg.vector is not None:
            added.setdefault(space.name, []).append((row.id, _as_stored(seg.vector)))
        if row.text and (row.text, row.start, row.end) not in worded:
            worded.add((row.text, row.start, row.end))
            fts_rows.append(fulltext.FtsRow(row.id, row.text, phonetic_column(row.text, row.detail), name))
            name = ""  # once per file
    if name and rows:
        fts_rows.append(fulltext.FtsRow(rows[0].id, "", "", name))
    fulltext.backend(s.connection()).insert(s.connection(), fts_rows)


def _mark_jobs(s: Session, media_id: int, marks: dict[str, JobMark]) -> None:
    for name, mark in marks.items():
        s.merge(FileJob(media_id=media_id, name=str(name), state=str(mark.state), model_id=mark.model_id,
                        error=mark.error, updated=utcnow()))


def _chunks(seq: Sequence, n: int) -> Iterator[Sequence]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets searches read while an ingest writes; NORMAL sync is durable at checkpoints and
    # never corrupts on a crash; the busy timeout makes a second writer wait instead of failing.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


# -- re-embedding: the staging names, and the helpers of its transactions ----------------------------------
STAGING = "~next"  # staging space and job names: SPACE~next (no real space or job name holds a "~")


def staging_name(space: str) -> str:
    """The name a re-embed of ``space`` stages under (space row and job rows)."""
    return f"{space}{STAGING}"


def staged_kind(space: str) -> str:
    """The ``segment.kind`` of a re-embed's staged rows for ``space``: no query asks for it."""
    return f"~{space}"


# -- generations and the writer row -----------------------------------------------------------------------
GENERATION = "generation:"  # meta key prefix: GENERATION + space name -> the token of its current vectors
WRITER = "writer"  # meta key: JSON of the process holding a server catalog's writer lock
Generation = tuple[int, "str | None"]  # (epoch, token) of a space


def _bump(s: Session, space_ids: set[int]) -> None:
    """A new epoch and a new random token for each space, in the transaction that changes its vectors."""
    if not space_ids:
        return
    s.execute(update(Space).where(Space.id.in_(sorted(space_ids))).values(epoch=Space.epoch + 1))
    for name in s.scalars(select(Space.name).where(Space.id.in_(sorted(space_ids)))):
        s.merge(Meta(key=GENERATION + name, value=uuid.uuid4().hex))


def _holder_text(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "its host and process are not recorded yet"
    return (f"host {holder.get('host')}, pid {holder.get('pid')}, library {holder.get('library')}, "
            f"since {holder.get('since')} UTC")


def _unstaged(s: Session, space: str) -> dict[int, str]:
    row = s.scalar(select(Space).where(Space.name == space))
    if row is None:
        return {}
    targets = set(s.scalars(select(Segment.media_id).where(Segment.space_id == row.id).distinct()))
    targets |= set(s.scalars(select(FileJob.media_id).where(FileJob.name == space, FileJob.state == JobState.DONE)))
    marks = {int(m): (st, err) for m, st, err in s.execute(
        select(FileJob.media_id, FileJob.state, FileJob.error).where(FileJob.name == staging_name(space)))}
    out: dict[int, str] = {}
    for media_id in sorted(int(m) for m in targets):
        state, error = marks.get(media_id, (None, None))
        if state != JobState.DONE:
            out[media_id] = error or "not re-embedded yet"
    return out


def _discard_staged(s: Session, space: str) -> None:
    s.execute(delete(Segment).where(Segment.kind == staged_kind(space)))
    s.execute(delete(FileJob).where(FileJob.name == staging_name(space)))


def _reword(s: Session, media_ids: list[int]) -> None:
    """Write the full-text rows of these files again, by the rule of ``_add_segments``: one row per passage,
    the file name on its first text segment (or its first segment when it has no text)."""
    conn = s.connection()
    fts = fulltext.backend(conn)
    for chunk in _chunks(media_ids, 900):
        rows = s.execute(
            select(Segment.id, Segment.media_id, Segment.text, Segment.start, Segment.end, Segment.kind, Media.path,
                   Segment.detail)
            .join(Media, Media.id == Segment.media_id).where(Segment.media_id.in_(list(chunk)))
            .order_by(Segment.media_id, Segment.id)).all()
        fts.delete(conn, [int(r.id) for r in rows])
        out: list[fulltext.FtsRow] = []
        by_media: dict[int, list[Any]] = {}
        for r in rows:
            if not str(r.kind).startswith("~"):  # another space's staged rows are not words yet
                by_media.setdefault(int(r.media_id), []).append(r)
        for segs in by_media.values():
            name = fulltext.name_words(segs[0].path)
            worded: set[tuple[str, float | None, float | None]] = set()
            for r in segs:
                if r.text and (r.text, r.start, r.end) not in worded:
                    worded.add((r.text, r.start, r.end))
                    out.append(fulltext.FtsRow(int(r.id), r.text, phonetic_column(r.text, r.detail), name))
                    name = ""
            if name:
                out.append(fulltext.FtsRow(int(segs[0].id), "", "", name))
        fts.insert(conn, out)
