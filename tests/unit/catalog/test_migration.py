"""Schema migration, from a real schema-1 library (tests/data/library-v1, written by the code before schema 2)."""
from __future__ import annotations

import sqlite3

import pytest

from mmsearch import Engine
from mmsearch.catalog import SCHEMA_VERSION
from mmsearch.query.words import analyse


def test_a_schema_1_library_migrates_on_open_and_keeps_answering(v1_library):
    lib, media = v1_library
    with Engine(lib, model="toy") as e:
        assert e.catalog.schema_version() == SCHEMA_VERSION
        assert e.search("red", k=1, kinds=["image"])[0].path == str(media / "photos" / "red.png")
        assert e.check().ok
        counts = e.catalog.job_counts()
    # clip vectors existed for all four files; the sentence-space embedding of the two texts is new work
    assert counts["clip"] == {"done": 4, "pending": 0, "failed": 0}
    assert counts["text"] == {"done": 0, "pending": 2, "failed": 0}
    assert counts["ocr"] == {"done": 0, "pending": 2, "failed": 0}  # text in the two images: new work too
    assert counts["metadata"] == {"done": 0, "pending": 2, "failed": 0}  # schema 3: when and where, too
    assert set(counts) == {"clip", "text", "ocr", "metadata"}


def test_the_migration_fills_the_full_text_index_with_texts_and_file_names(v1_library):
    lib, media = v1_library
    with Engine(lib, model="toy") as e:
        rows = e.catalog.segments([i for i, _ in e.catalog.fulltext(analyse("flowers"))])
        assert {r.path for r in rows.values()} == {str(media / "notes" / "garden.txt")}
        by_name = e.catalog.segments([i for i, _ in e.catalog.fulltext(analyse("blue"))])
        # "blue" is in the note's text and in blue.png's file name (one row per file for a name)
        assert {r.path for r in by_name.values()} == {str(media / "notes" / "garden.txt"),
                                                      str(media / "photos" / "blue.png")}


def test_a_crash_inside_the_migration_leaves_schema_1_and_the_next_open_migrates(v1_library, monkeypatch):
    import mmsearch.catalog.migrations as catalog

    lib, _ = v1_library

    def boom(conn):
        raise RuntimeError("killed mid-migration")

    monkeypatch.setitem(catalog.MIGRATIONS, 1, [*catalog.MIGRATIONS[1], boom])
    with pytest.raises(RuntimeError):
        Engine(lib, model="toy")
    with sqlite3.connect(lib / "catalog.sqlite3") as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)
    monkeypatch.undo()
    with Engine(lib, model="toy") as e:
        assert e.catalog.schema_version() == SCHEMA_VERSION
        assert e.catalog.job_counts()["clip"]["done"] == 4  # the step ran again from the start, once
        assert len(e.catalog.fulltext(analyse("flowers"))) == 1
