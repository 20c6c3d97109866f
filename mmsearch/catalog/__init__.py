"""The catalog: SQL schema and queries for media files, segments, vectors, jobs and ingest errors — the only
package that imports SQLAlchemy. One module per job: ``schema`` (tables), ``migrations``, ``records`` (the plain
values callers get and give, no SQLAlchemy), ``connection`` (engine, sessions, failures, the writer lock),
``readonly``, ``reads``, ``places``, ``writes``, ``bulk``, ``staging`` (re-embeds), ``filters`` (the query join),
``fulltext/`` (one module per database); ``facade.Catalog`` puts the parts together.

The package's names are loaded on first use (PEP 562): importing ``mmsearch.catalog.records`` — what ranking and
query code import — loads no SQLAlchemy.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# name -> the module of this package that defines it
_HOMES = {
    **dict.fromkeys(("shown_url", "write_failure"), "connection"),
    "Catalog": "facade",
    **dict.fromkeys(("MIGRATIONS", "SCHEMA_VERSION"), "migrations"),
    **dict.fromkeys(("FtsHit", "Generation", "IntegrityFacts", "JobMark", "NewSegment", "QueryWords", "SegmentRow",
                     "SimilaritySource", "WordRow", "WriteResult", "decode_vectors", "encode_vector"), "records"),
    **dict.fromkeys(("FileJob", "IngestError", "Media", "Meta", "Place", "Segment", "Space", "staged_kind",
                     "staging_name", "utcnow"), "schema"),
}
__all__ = [
    "MIGRATIONS", "SCHEMA_VERSION", "Catalog", "FileJob", "FtsHit", "Generation", "IngestError", "IntegrityFacts",
    "JobMark", "Media", "Meta", "NewSegment", "Place", "QueryWords", "Segment", "SegmentRow", "SimilaritySource",
    "Space", "WordRow", "WriteResult", "decode_vectors", "encode_vector", "shown_url", "staged_kind", "staging_name",
    "utcnow", "write_failure",
]  # the names of _HOMES (tests/unit/catalog/test_catalog_package.py)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # once: later reads are plain attribute reads
    return value


if TYPE_CHECKING:
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
