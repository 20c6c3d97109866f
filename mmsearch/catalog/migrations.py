"""The catalog's schema versions: a new catalog is created at :data:`SCHEMA_VERSION`; an older one is upgraded on
open, one step at a time, each step committed with its version bump (a crash mid-migration leaves the previous
version, and the next open runs the step again); a newer one is refused with one line.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import delete, inspect, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from mmsearch.analysis.tokens import name_words, phonetic_column
from mmsearch.catalog import fulltext
from mmsearch.catalog.connection import CatalogConnection, shown_url
from mmsearch.catalog.records import FtsRow
from mmsearch.catalog.schema import Base, FileJob, Media, Meta, Segment, Space, utcnow
from mmsearch.errors import LibraryError
from mmsearch.kinds import WORK_BY_KIND, Job, JobState, MediaKind
from mmsearch.media.metadata import FACT_COLUMNS, TimeSource

SCHEMA_VERSION = 4

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
    batch: list[FtsRow] = []
    named: set[int] = set()
    order = select(Segment.id, Segment.media_id, Segment.text, Media.path).join(Media, Media.id == Segment.media_id)
    for seg_id, media_id, text, path in conn.execute(order.order_by(Segment.media_id, Segment.id)):
        if not text and media_id in named:
            continue
        name = "" if media_id in named else name_words(path)
        named.add(media_id)
        batch.append(FtsRow(int(seg_id), text or "", phonetic_column(text or ""), name))
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


def open_schema(db: CatalogConnection, create: bool) -> None:
    """Create the catalog's tables (``create``; else LibraryError when there is none), or upgrade an older one;
    a catalog written by a newer version, or one that is not a catalog, is one LibraryError line."""
    try:
        with db.sql.begin() as conn:
            has_meta = db.sql.dialect.has_table(conn, "meta")
        # Tables without a version row: a creation still running in another process, or killed
        # half-way (create_all is not one transaction on SQLite): finish it, or say there is none yet.
        if not has_meta or db.schema_version() == 0:
            if not create:
                raise LibraryError(f"no mmsearch catalog at {shown_url(db.url)}")
            Base.metadata.create_all(db.sql)
            with db.sql.begin() as conn:
                fulltext.create(conn)
            with db.session.begin() as s:
                s.merge(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
            return
        version = db.schema_version()
    except SQLAlchemyError as exc:  # not a database, damaged, unreachable: one clear line, no traceback
        why = " ".join(str(getattr(exc, "orig", exc)).split())
        raise LibraryError(f"cannot read catalog {shown_url(db.url)}: {why}") from None
    if version > SCHEMA_VERSION:
        raise LibraryError(
            f"this library was written by a newer mmsearch (catalog schema {version}, this version "
            f"reads up to {SCHEMA_VERSION}); upgrade mmsearch to open it"
        )
    while version < SCHEMA_VERSION:
        # Each step and its version bump commit together: a crash mid-migration leaves the
        # previous version, and the next open runs the step again.
        with db._writing() as s:
            for step in MIGRATIONS[version]:
                if isinstance(step, str):
                    s.connection().exec_driver_sql(step)
                else:
                    step(s.connection())
            version += 1
            s.merge(Meta(key="schema_version", value=str(version)))
