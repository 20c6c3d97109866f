"""``Catalog``: one object over the catalog's parts (lookups, query reads, places, writes, bulk reads, re-embed
staging), each a class of its own module built on the same connection; opening it creates or upgrades the
schema (mmsearch/catalog/migrations.py)."""
from __future__ import annotations

from mmsearch.catalog.bulk import Bulk
from mmsearch.catalog.migrations import open_schema
from mmsearch.catalog.places import Places
from mmsearch.catalog.reads import Lookups, QueryReads
from mmsearch.catalog.staging import Staging


class Catalog(Lookups, QueryReads, Places, Bulk, Staging):
    """SQLAlchemy-backed catalog. Thread-safe for the engine's use: each call opens its own session."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        super().__init__(url)
        open_schema(self, create)
