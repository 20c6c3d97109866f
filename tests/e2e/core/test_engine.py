"""End-to-end behaviour of Engine with the deterministic toy encoder (known semantics)."""
from __future__ import annotations

import os
import shutil
import stat

import numpy as np
import pytest

from mmsearch import Engine, LibraryError, MmsearchError, ModelMismatchError
from mmsearch.catalog import decode_vectors

from conftest import COLOURS, solid


@pytest.fixture
def engine(tmp_path):
    with Engine(tmp_path / "lib", model="toy") as e:
        yield e


def test_text_query_ranks_the_right_image_first(engine, colour_folder):
    report = engine.index([colour_folder])
    assert report.added == len(COLOURS) + 1 + 2  # images, nested image, caption, note
    assert report.failed == 0
    for colour in ("red", "green", "purple", "yellow"):
        hits = engine.search(f"a {colour} picture", k=3, kinds=["image"])
        assert hits[0].path == str(colour_folder / f"{colour}.png"), colour
        assert hits[0].extra["cosine"] > 0.9 and hits[1].extra["cosine"] < 0.5
        assert hits[0].score > hits[1].score
        assert (hits[0].start, hits[0].end, hits[0].space, hits[0].kind) == (None, None, "clip", "image")
    blue = engine.search("blue", k=2, kinds=["image"])
    assert {h.path for h in blue} == {str(colour_folder / "blue.png"), str(colour_folder / "nested/deeper/blue_2.jpg")}


def test_image_to_text_finds_the_caption_and_links_it(engine, colour_folder):
    engine.index([colour_folder])
    hits = engine.similar(colour_folder / "red.png", k=2, kinds=["text"])
    assert hits[0].path == str(colour_folder / "red.txt")
    assert hits[0].text == "a red square"
    assert hits[0].linked == str(colour_folder / "red.png")
    # An image not in the library works too (encoded on the fly), and texts describe it.
    outside = solid(colour_folder.parent / "elsewhere" / "sun.png", "yellow")
    assert engine.similar(outside, k=1, kinds=["text"])[0].path == str(colour_folder / "notes.md")


def test_similar_images_excludes_the_query_itself(engine, colour_folder):
    engine.index([colour_folder])
    hits = engine.similar(colour_folder / "blue.png", k=3, kinds=["image"])
    assert hits[0].path == str(colour_folder / "nested/deeper/blue_2.jpg")
    assert str(colour_folder / "blue.png") not in {h.path for h in hits}


def test_results_equal_brute_force_ranking_of_stored_vectors(engine, colour_folder, tmp_path):
    rng = np.random.default_rng(0)
    for i in range(40):  # random mixed-colour images so scores are all distinct
        arr = rng.integers(0, 255, size=(16, 16, 3), dtype=np.uint8)
        from PIL import Image

        Image.fromarray(arr).resize((64, 64), Image.NEAREST).save(colour_folder / f"noise_{i}.png")
    engine.index([colour_folder])
    space = engine.catalog.space("clip")
    ids, vectors = next(engine.catalog.iter_vectors(space.id, space.dim))
    rows = engine.catalog.segments(ids)
    images = np.array([rows[int(i)].media_kind == "image" for i in ids])
    ids, vectors = ids[images], vectors[images]
    for query in ("red and green", "a purple and blue thing", "yellow"):
        q = engine.encoder().encode_text([query])[0]
        scores = vectors @ q
        best: dict[str, float] = {}
        for sid, s in zip(ids, scores):
            p = rows[int(sid)].path
            best[p] = max(best.get(p, -2.0), float(s))
        ranked = sorted(best.items(), key=lambda kv: -kv[1])
        # The meaning-only path over one stored modality (words add their own signal in `search`).
        hits = engine.search_vectors({"clip": q}, k=10, kinds=["image"])
        # Same cosines in the same order, and each hit carries its file's exact best cosine
        # (files with equal scores may come in either order); the calibrated score keeps that order.
        np.testing.assert_allclose([h.extra["cosine"] for h in hits], [s for _, s in ranked[:10]], atol=1e-5)
        for h in hits:
            assert abs(h.extra["cosine"] - best[h.path]) < 1e-5
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        cutoff = ranked[9][1]
        assert {p for p, s in ranked if s > cutoff + 1e-5} <= {h.path for h in hits}


def test_incremental_reindex_unchanged_changed_moved_deleted(engine, colour_folder):
    first = engine.index([colour_folder])
    assert first.added == 8
    again = engine.index([colour_folder])
    assert (again.added, again.updated, again.unchanged, again.moved, again.removed) == (0, 0, 8, 0, 0)

    # changed content: green.png becomes purple; it is re-embedded
    solid(colour_folder / "green.png", "purple")
    os.utime(colour_folder / "green.png", (1e9, 1e9))
    # moved: red.png renamed; its vectors are kept (same media row, new path)
    red_id = engine.catalog.media_by_path(str(colour_folder / "red.png")).id
    shutil.move(colour_folder / "red.png", colour_folder / "nested" / "crimson.png")
    # deleted
    (colour_folder / "yellow.png").unlink()
    # touched but identical content: only mtime changes, no re-embedding
    os.utime(colour_folder / "blue.png", (2e9, 2e9))

    report = engine.index([colour_folder])
    # the deleted file is kept as missing for the grace runs (mmsearch/presence.py), marked so in its hits
    assert report.updated == 1 and report.moved == 1 and report.missing == 1 and report.removed == 0
    assert report.added == 0
    assert report.unchanged == 5  # 4 untouched + blue.png with the same hash
    moved = engine.catalog.media_by_path(str(colour_folder / "nested" / "crimson.png"))
    assert moved is not None and moved.id == red_id
    assert engine.search("red", k=1, kinds=["image"])[0].path.endswith("crimson.png")
    purple = engine.search("purple", k=2, kinds=["image"])
    assert {h.path for h in purple} == {str(colour_folder / "purple.png"), str(colour_folder / "green.png")}
    assert all(h.missing for h in engine.search("yellow", k=20) if "yellow.png" in h.path)
    assert engine.index([colour_folder], prune=True).removed == 1  # --prune forgets it now
    yellow = engine.search("yellow", k=20)
    assert yellow and all("yellow.png" not in h.path for h in yellow)
    # catalog and index agree: one vector per embedded segment, no orphans
    space = engine.catalog.space("clip")
    assert set(engine.library.index(space).ids()) == set(engine.catalog.vector_ids(space.id))
    # the caption still points at its (moved) image? red.txt's sibling is gone, so the link is cleared
    assert engine.catalog.media_by_path(str(colour_folder / "red.txt")).link_id is None


def test_corrupt_files_are_recorded_and_skipped(engine, colour_folder):
    (colour_folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (colour_folder / "empty.png").write_bytes(b"")
    good = (colour_folder / "red.png").read_bytes()
    (colour_folder / "truncated.png").write_bytes(good[: len(good) // 2])
    (colour_folder / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    report = engine.index([colour_folder])
    assert report.added == 8 and report.failed == 4
    errors = {os.path.basename(e["path"]): e for e in engine.errors()}
    assert set(errors) == {"broken.jpg", "empty.png", "truncated.png", "binary.txt"}
    assert "image" in errors["broken.jpg"]["message"] and "truncated" in errors["truncated.png"]["message"]
    assert "binary" in errors["binary.txt"]["message"]
    assert all(e["stage"] == "decode" for e in errors.values())
    # unchanged bad files are not retried; fixing one clears its error
    again = engine.index([colour_folder])
    assert again.skipped_bad == 4 and again.failed == 0
    solid(colour_folder / "broken.jpg", "green")
    fixed = engine.index([colour_folder])
    assert fixed.added == 1
    assert "broken.jpg" not in {os.path.basename(e["path"]) for e in engine.errors()}


def test_kind_and_path_filters(engine, colour_folder):
    engine.index([colour_folder])
    assert {h.kind for h in engine.search("red", k=20, kinds=["text"])} == {"text"}
    nested = engine.search("blue", k=20, path="nested")
    assert [h.path for h in nested] == [str(colour_folder / "nested/deeper/blue_2.jpg")]
    pngs = engine.search("blue", k=20, path="*.png")
    assert pngs and all(h.path.endswith(".png") for h in pngs)
    with pytest.raises(MmsearchError, match="unknown kind"):
        engine.search("red", kinds=["hologram"])
    with pytest.raises(MmsearchError, match="empty query"):
        engine.search("  ")


def test_k_larger_than_library_and_empty_library(engine, colour_folder):
    assert engine.search("red") == []
    engine.index([colour_folder])
    hits = engine.search("red", k=100)
    assert len(hits) == 8 and len({h.path for h in hits}) == 8


def test_model_mismatch_is_refused(tmp_path, colour_folder, tiny_clip):
    with Engine(tmp_path / "lib", model="toy") as e:
        e.index([colour_folder])
    with pytest.raises(ModelMismatchError, match="open it with --model toy"):
        with Engine(tmp_path / "lib", model=tiny_clip) as e:
            e.search("red")
    # Without an explicit model the library's own model is used.
    with Engine(tmp_path / "lib") as e:
        assert e.search("red", k=1, kinds=["image"])[0].path.endswith("red.png")


def test_stale_or_damaged_index_snapshot_is_replayed_from_catalog(tmp_path, colour_folder):
    lib = tmp_path / "lib"
    with Engine(lib, model="toy") as e:
        e.index([colour_folder])
        expected = [h.path for h in e.search("green", k=5)]
    snapshot = lib / "index" / "clip.index"
    snapshot.write_bytes(snapshot.read_bytes()[:100])  # torn file
    with Engine(lib) as e:
        assert [h.path for h in e.search("green", k=5)] == expected
    snapshot.unlink()
    with Engine(lib) as e:
        assert [h.path for h in e.search("green", k=5)] == expected
        assert e.reindex() == {"clip": 8, "text": 2}  # notes are in the sentence space too
    assert snapshot.exists()


def test_remove_forgets_files_and_their_vectors(engine, colour_folder):
    engine.index([colour_folder])
    assert engine.remove([colour_folder / "nested"]) == 1
    blue = engine.search("blue", k=20)
    assert blue and all("nested" not in h.path for h in blue)
    space = engine.catalog.space("clip")
    assert engine.library.index(space).ntotal == 7 == len(engine.catalog.vector_ids(space.id))


def test_stored_vectors_are_float16_copies_of_the_index(engine, colour_folder):
    engine.index([colour_folder])
    space = engine.catalog.space("clip")
    ids, stored = next(engine.catalog.iter_vectors(space.id, space.dim))
    index = engine.library.index(space)
    for sid, v in zip(ids, stored):
        np.testing.assert_allclose(index.index.reconstruct(int(sid)), v, atol=2e-3)
    assert decode_vectors([stored[0].astype(np.float16).tobytes()], space.dim).shape == (1, space.dim)


def test_library_folder_is_private_and_newer_schema_is_refused(tmp_path, colour_folder):
    lib = tmp_path / "lib"
    with Engine(lib, model="toy") as e:
        e.index([colour_folder])
    assert stat.S_IMODE(os.stat(lib).st_mode) == 0o700
    import sqlite3

    with sqlite3.connect(lib / "catalog.sqlite3") as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(LibraryError, match="newer mmsearch"):
        Engine(lib)


def test_second_writer_is_refused_with_a_clear_message(tmp_path, colour_folder):
    from mmsearch import LibraryLockedError

    with Engine(tmp_path / "lib", model="toy") as a, Engine(tmp_path / "lib", model="toy") as b:
        a.library.acquire_writer()
        with pytest.raises(LibraryLockedError, match="another mmsearch process is indexing"):
            b.index([colour_folder])
        # reads still work while a writer holds the lock
        assert b.search("red") == []


def test_an_older_catalog_is_migrated_on_open(tmp_path, colour_folder, monkeypatch):
    """The migration path: a library written at the current schema opens under a version one newer."""
    import sqlite3

    import mmsearch.catalog.migrations as catalog

    lib = tmp_path / "lib"
    with Engine(lib, model="toy") as e:
        e.index([colour_folder])
    now = catalog.SCHEMA_VERSION
    monkeypatch.setattr(catalog, "SCHEMA_VERSION", now + 1)
    monkeypatch.setitem(catalog.MIGRATIONS, now, ["ALTER TABLE media ADD COLUMN rating INTEGER"])
    with Engine(lib) as e:
        assert e.catalog.schema_version() == now + 1
        assert e.search("red", k=1, kinds=["image"])[0].path.endswith("red.png")
    with sqlite3.connect(lib / "catalog.sqlite3") as db:
        assert "rating" in {row[1] for row in db.execute("PRAGMA table_info(media)")}


def test_recent_text_queries_are_encoded_once(tmp_path, colour_folder, monkeypatch):
    from mmsearch import models as models_module

    monkeypatch.setattr(models_module, "QUERY_CACHE", 2)
    with Engine(tmp_path / "lib", model="toy") as e:
        e.index([colour_folder])
        enc = e.encoder("clip")
        calls: list[str] = []
        real = enc.encode_text
        monkeypatch.setattr(enc, "encode_text", lambda texts: calls.extend(texts) or real(texts))
        first = e.search("red", k=3)
        again = e.search("red", k=3)
        e.search("red", k=2, kinds=["image"])  # another filter, same text: no encode either
        assert calls == ["red"] and [(h.path, h.score) for h in first] == [(h.path, h.score) for h in again]
        e.search("blue", k=3)
        e.search("green", k=3)  # the cache holds 2: "red" is the oldest and goes
        e.search("red", k=3)
        assert calls == ["red", "blue", "green", "red"]
