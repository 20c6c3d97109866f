"""A segment's columns are declared once (``mmsearch.catalog.records.NewSegment``): the schema, the write path, a
re-embed's read of stored texts, its staging and its swap all derive from that declaration, so no column is lost on the way — checked
field by field for every declared column on SQLite and PostgreSQL, and for a column added to the declaration
alone (in a fresh interpreter)."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from sqlalchemy import select

from mmsearch.catalog import Catalog, JobMark, NewSegment, Segment
from mmsearch.catalog.records import CARRIED, HELD, PLACED, SEGMENT_COLUMNS, encode_vector
from mmsearch.catalog.schema import segment_table, staged_kind
from mmsearch.kinds import JobState, MediaKind, SegmentKind

ROOT = Path(__file__).resolve().parents[3]
DIM = 4


def _url(tmp_path: Path, db_url: str) -> str:
    return db_url or f"sqlite:///{tmp_path / 'catalog.sqlite3'}"


def _values(seed: int) -> dict:
    """A distinct, non-default value for every declared column (``seed`` tells two writes apart)."""
    by_type = {"str": lambda n: (SegmentKind.SCENE, SegmentKind.FRAME)[seed % 2],
               "float | None": lambda n: 10.0 * seed + n + 0.25,
               "str | None": lambda n: f"{n}-{seed} ünïcode"}
    types = {f.name: str(f.type) for f in dataclasses.fields(NewSegment)}
    return {name: by_type[types[name]](n) for n, name in enumerate(SEGMENT_COLUMNS)}


def _segments(seed: int) -> list[NewSegment]:
    vector = np.arange(DIM, dtype=np.float32) + seed
    parent = NewSegment(**_values(seed), vector=vector / np.linalg.norm(vector))
    child = NewSegment(**{**_values(seed + 2), "kind": SegmentKind.FRAME}, vector=-vector / np.linalg.norm(vector),
                       parent=0)
    return [parent, child]


def _rows(catalog: Catalog, media_id: int) -> list[Segment]:
    with catalog.session() as s:
        return list(s.scalars(select(Segment).where(Segment.media_id == media_id).order_by(Segment.id)))


def test_the_schema_and_the_derived_tuples_follow_the_declaration():
    placed_columns = {"id", "media_id", "parent_id", "space_id", "vector"}
    assert {c.name for c in segment_table.columns} == placed_columns | set(SEGMENT_COLUMNS)
    assert set(SEGMENT_COLUMNS) == {f.name for f in dataclasses.fields(NewSegment)} - PLACED
    assert set(HELD) | set(CARRIED) == set(SEGMENT_COLUMNS) and not set(HELD) & set(CARRIED)
    assert {"kind", "text"} <= set(HELD)  # a staged row must not be found as a passage or listed as its kind


def test_staging_and_swap_carry_every_declared_column(tmp_path, db_url):
    """Write a file, stage its re-embedded segments (every column changed), swap: the live rows hold exactly the
    staged values of every declared column, their new vectors in the space and their parent link; the staged row
    showed none of its held columns before the swap."""
    catalog = Catalog(_url(tmp_path, db_url))
    try:
        space = catalog.ensure_space("clip", "old-model", DIM)
        fields = {"path": str(tmp_path / "clip.mp4"), "content_hash": "0" * 64, "size": 1, "mtime": 0.0,
                  "kind": MediaKind.VIDEO}
        media_id = catalog.write_media([(fields, _segments(1))], "clip",
                                       jobs=[{"clip": JobMark(JobState.DONE, "old-model")}]).media_ids[0]
        for row, seg in zip(_rows(catalog, media_id), _segments(1)):  # the write path, and a text re-embed's read
            assert {c: getattr(row, c) for c in SEGMENT_COLUMNS} == {c: getattr(seg, c) for c in SEGMENT_COLUMNS}
            again = NewSegment.again(row, None)
            assert {c: getattr(again, c) for c in SEGMENT_COLUMNS} == {c: getattr(seg, c) for c in SEGMENT_COLUMNS}

        catalog.staging_space("clip", "new-model", DIM, "new-spec")
        staged = _segments(5)
        assert catalog.stage_segments(media_id, "clip", staged, JobMark(JobState.DONE, "new-model")) == 2
        waiting = [r for r in _rows(catalog, media_id) if r.kind == staged_kind("clip")]
        assert len(waiting) == 2 and all(r.text is None and r.space_id is None for r in waiting)
        for row, seg in zip(waiting, staged):
            assert {c: getattr(row, c) for c in CARRIED} == {c: getattr(seg, c) for c in CARRIED}

        catalog.swap_space("clip")
        rows = _rows(catalog, media_id)
        assert len(rows) == 2
        for row, seg in zip(rows, staged):
            assert {c: getattr(row, c) for c in SEGMENT_COLUMNS} == {c: getattr(seg, c) for c in SEGMENT_COLUMNS}
            assert row.space_id == space.id and row.vector == encode_vector(seg.vector)
        assert rows[1].parent_id == rows[0].id
        assert catalog.space("clip").model_id == "new-model"
        assert catalog.jobs_of(media_id)["clip"] == JobMark(JobState.DONE, "new-model")
    finally:
        catalog.close()


NEW_COLUMN = textwrap.dedent('''
    """Declare one more segment column in NewSegment (and nowhere else), then write, stage and swap with it."""
    import importlib.util
    import sys

    import numpy as np

    path = sys.argv[1]
    source = open(path, encoding="utf-8").read()
    anchor = "    detail: str | None = None"
    assert anchor in source
    source = source.replace(anchor, "    mood: str | None = None  # the new column\\n" + anchor, 1)
    spec = importlib.util.spec_from_file_location("mmsearch.catalog.records", path)
    records = importlib.util.module_from_spec(spec)
    sys.modules["mmsearch.catalog.records"] = records
    exec(compile(source, path, "exec"), records.__dict__)

    from sqlalchemy import select

    from mmsearch.catalog import Catalog, JobMark, NewSegment, Segment
    from mmsearch.catalog.schema import segment_table

    assert "mood" in segment_table.columns
    catalog = Catalog(sys.argv[2])
    catalog.ensure_space("clip", "old", 2)
    fields = {"path": "/x/a.jpg", "content_hash": "0" * 64, "size": 1, "mtime": 0.0, "kind": "image"}
    one = np.array([1.0, 0.0], np.float32)
    media_id = catalog.write_media([(fields, [NewSegment("image", one, mood="calm", text="a cat")])],
                                   "clip").media_ids[0]
    print(NewSegment.again(catalog.stored_texts(media_id, "clip")[0], one).mood)  # a text re-embed reads it
    catalog.staging_space("clip", "new", 2, "")
    catalog.stage_segments(media_id, "clip", [NewSegment("image", one, mood="stormy", text="a dog")],
                           JobMark("done", "new"))
    catalog.swap_space("clip")
    with catalog.session() as s:
        table = segment_table
        print(sorted((r.mood, r.text) for r in s.execute(select(table.c.mood, table.c.text))))
    catalog.close()
''')


def test_a_column_added_to_the_declaration_alone_travels_through_write_stage_and_swap(tmp_path, db_url):
    script = tmp_path / "new_column.py"
    script.write_text(NEW_COLUMN)
    done = subprocess.run([sys.executable, str(script), str(ROOT / "mmsearch" / "catalog" / "records.py"),
                           _url(tmp_path, db_url)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split("\n")[:2] == ["calm", "[('stormy', 'a dog')]"]


def test_staged_rows_are_no_passages_before_the_swap(tmp_path):
    """The full text and the segment listing see a staged text only once it is swapped in."""
    from mmsearch.query.words import analyse

    catalog = Catalog(_url(tmp_path, ""))
    try:
        catalog.ensure_space("text", "old", DIM)
        fields = {"path": str(tmp_path / "n.txt"), "content_hash": "1" * 64, "size": 1, "mtime": 0.0,
                  "kind": MediaKind.TEXT}
        v = np.ones(DIM, np.float32) / 2
        media_id = catalog.write_media([(fields, [NewSegment("text", v, text="an otter swam")])], "text").media_ids[0]
        catalog.staging_space("text", "new", DIM, "")
        catalog.stage_segments(media_id, "text", [NewSegment("text", v, text="a heron waited")],
                               JobMark(JobState.DONE, "new"))
        assert catalog.fulltext(analyse("heron")) == [] and catalog.fulltext(analyse("otter"))
        catalog.swap_space("text")
        assert catalog.fulltext(analyse("otter")) == [] and catalog.fulltext(analyse("heron"))
        assert catalog.space("text").model_id == "new"
    finally:
        catalog.close()
