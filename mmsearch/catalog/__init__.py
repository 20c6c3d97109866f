"""The catalog: SQL schema and queries for media files, segments, vectors, jobs and ingest errors — the only
package that imports SQLAlchemy. One module per job: ``schema`` (tables), ``migrations``, ``records`` (the plain
values callers get and give, no SQLAlchemy), ``connection`` (engine, sessions, failures, the writer lock),
``readonly``, ``reads``, ``places``, ``writes``, ``bulk``, ``staging`` (re-embeds), ``filters`` (the query join),
``fulltext/`` (one module per database); ``facade.Catalog`` puts the parts together.
"""
from __future__ import annotations

from mmsearch.catalog.connection import shown_url, write_failure
from mmsearch.catalog.facade import Catalog
from mmsearch.catalog.migrations import MIGRATIONS, SCHEMA_VERSION
from mmsearch.catalog.records import (
    FtsHit,
    Generation,
    IntegrityFacts,
    JobMark,
    NewSegment,
    QueryWords,
    SegmentRow,
    SimilaritySource,
    WordRow,
    WriteResult,
    decode_vectors,
    encode_vector,
)
from mmsearch.catalog.schema import (
    FileJob,
    IngestError,
    Media,
    Meta,
    Place,
    Segment,
    Space,
    staged_kind,
    staging_name,
    utcnow,
)

__all__ = [
    "MIGRATIONS", "SCHEMA_VERSION", "Catalog", "FileJob", "FtsHit", "Generation", "IngestError", "IntegrityFacts",
    "JobMark", "Media", "Meta", "NewSegment", "Place", "QueryWords", "Segment", "SegmentRow", "SimilaritySource",
    "Space", "WordRow", "WriteResult", "decode_vectors", "encode_vector", "shown_url", "staged_kind", "staging_name",
    "utcnow", "write_failure",
]
