"""The same engine on SQLite and on a real PostgreSQL server (``db_url`` fixture in conftest.py).

Index, search, incremental re-index (changed, moved, deleted, touched), errors, check/repair, and the values
SQLite forgives but PostgreSQL does not (sizes past 2 GiB, NUL characters, exact float mtimes).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import numpy as np

from mmsearch import Engine
from mmsearch.analysis import tokens
from mmsearch.query.words import analyse

from conftest import COLOURS, solid


def _engine(tmp_path, db_url, **kw) -> Engine:
    return Engine(tmp_path / "lib", model="toy", database_url=db_url, **kw)


def _agree(engine: Engine) -> None:
    space = engine.catalog.space("clip")
    ids = engine.library.index(space).ids()
    assert sorted(ids.tolist()) == engine.catalog.vector_ids(space.id).tolist()
    report = engine.check()
    assert report.ok, [p.message for p in report.problems]


def test_index_search_and_filters(tmp_path, db_url, colour_folder):
    with _engine(tmp_path, db_url) as e:
        assert e.catalog.sql.dialect.name == ("postgresql" if db_url else "sqlite")
        report = e.index([colour_folder])
        assert (report.added, report.failed) == (8, 0)
        for colour in ("red", "green", "purple", "yellow"):
            hits = e.search(f"a {colour} picture", k=3, kinds=["image"])
            assert hits[0].path == str(colour_folder / f"{colour}.png")
        caption = e.similar(colour_folder / "red.png", k=1, kinds=["text"])[0]
        assert caption.path.endswith("red.txt") and caption.linked == str(colour_folder / "red.png")
        nested = [h.path for h in e.search("blue", k=20, path="nested")]
        assert nested == [str(colour_folder / "nested/deeper/blue_2.jpg")]
        stats = e.stats()
        assert stats["files"] == 8 and stats["spaces"][0]["vectors"] == 8
        _agree(e)
    # Reopened (a new process would do the same): the snapshot and the catalog still agree.
    with Engine(tmp_path / "lib", database_url=db_url) as e:
        assert e.search("green", k=1, kinds=["image"])[0].path.endswith("green.png")
        _agree(e)


def test_incremental_changed_moved_deleted_touched(tmp_path, db_url, colour_folder):
    with _engine(tmp_path, db_url) as e:
        e.index([colour_folder])
        solid(colour_folder / "green.png", "purple")
        os.utime(colour_folder / "green.png", (1e9, 1e9))
        red_id = e.catalog.media_by_path(str(colour_folder / "red.png")).id
        shutil.move(colour_folder / "red.png", colour_folder / "nested" / "crimson.png")
        (colour_folder / "yellow.png").unlink()
        # nanosecond mtime: stored as a float and compared exactly on the next run
        os.utime(colour_folder / "blue.png", ns=(1_700_000_000_123_456_789, 1_700_000_000_123_456_789))
        report = e.index([colour_folder])
        # the deleted file is kept as missing for missing_grace_runs = 2 runs, then forgotten (mmsearch/presence.py)
        assert (report.updated, report.moved, report.missing, report.added, report.unchanged) == (1, 1, 1, 0, 5)
        assert report.removed == 0
        assert e.catalog.media_by_path(str(colour_folder / "nested" / "crimson.png")).id == red_id
        again = e.index([colour_folder])
        assert (again.added, again.updated, again.moved, again.missing, again.unchanged) == (0, 0, 0, 1, 7)
        assert [h.missing for h in e.search("yellow", k=20) if "yellow.png" in h.path] == [True]
        purple = {h.path for h in e.search("purple", k=2, kinds=["image"])}
        assert purple == {str(colour_folder / "purple.png"), str(colour_folder / "green.png")}
        assert (e.index([colour_folder]).removed, e.stats()["places"][0]["missing"]) == (1, 0)
        after_move = e.search("yellow", k=20)
        assert after_move and all("yellow.png" not in h.path for h in after_move)
        assert e.remove([colour_folder / "nested"]) == 2
        _agree(e)


def test_errors_big_sizes_nul_text_and_hostile_names(tmp_path, db_url, colour_folder):
    (colour_folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (colour_folder / "empty.png").write_bytes(b"")
    with open(colour_folder / "huge.jpg", "wb") as fh:  # sparse: 3 GiB on paper, no disk used
        fh.truncate(3 * 2**30)
    # A NUL past the binary sniffing window: SQLite stores it, PostgreSQL text cannot.
    (colour_folder / "nul.txt").write_bytes(b"a purple note. " * 700 + b"\x00 and more purple words")
    hostile = colour_folder / "'; DROP TABLE media; --.png"
    solid(hostile, "cyan" if "cyan" in COLOURS else "green")
    (colour_folder / 'quote" and \\ backslash %_ like.png').write_bytes((colour_folder / "red.png").read_bytes())
    with _engine(tmp_path, db_url) as e:
        report = e.index([colour_folder])
        assert report.failed == 3 and report.added == 11
        errors = {os.path.basename(x["path"]): x for x in e.errors()}
        assert set(errors) == {"broken.jpg", "empty.png", "huge.jpg"}
        assert "too large" in errors["huge.jpg"]["message"]
        assert e.catalog.media_by_path(str(hostile)) is not None
        assert e.catalog.media_by_path(str(colour_folder / 'quote" and \\ backslash %_ like.png')) is not None
        # the size past 2**31 is stored and read back exactly, so the bad file is not retried
        again = e.index([colour_folder])
        assert (again.failed, again.skipped_bad, again.unchanged) == (0, 3, 11)
        assert any("purple" in (h.text or "") for h in e.search("purple note", k=3, kinds=["text"]))
        # path filters are values, never SQL or glob injection into the catalog
        odd = [h.path for h in e.search("red", k=20, path="%_")]
        assert odd == [str(colour_folder / 'quote" and \\ backslash %_ like.png')]
        _agree(e)
        assert e.catalog.counts()["media"]  # the media table is still there


def test_check_and_repair(tmp_path, db_url, colour_folder):
    from sqlalchemy import update

    from mmsearch.catalog import Segment

    with _engine(tmp_path, db_url) as e:
        e.index([colour_folder])
        assert e.check().ok
        space = e.catalog.space("clip")
        victim = int(e.catalog.vector_ids(space.id)[0])
        with e.catalog.session.begin() as s:  # damage one stored vector
            s.execute(update(Segment).where(Segment.id == victim).values(vector=b"\x00\x01"))
        report = e.check()
        assert not report.ok and {p.code for p in report.problems} >= {"vector-size"}
        fixed = e.check(repair=True)
        assert fixed.ok, [p.message for p in fixed.problems]
        assert fixed.media == 7 and any("forgot 1 files" in line for line in fixed.repaired)
        # the next index run embeds the forgotten file again
        assert e.index([colour_folder]).added == 1
        _agree(e)


def test_killed_run_on_this_backend_finishes_when_run_again(tmp_path, db_url):
    corpus = tmp_path / "corpus"
    for i, colour in enumerate(list(COLOURS) * 3):
        solid(corpus / f"{i:02d}_{colour}.png", colour, size=(40 + i, 30))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMSEARCH_")}
    env.update(MMSEARCH_TEST_KILL_AT="apply:3", MMSEARCH_BATCH_SIZE="2", MMSEARCH_WORKERS="2", MMSEARCH_DEVICE="cpu")
    if db_url:
        env["MMSEARCH_DATABASE_URL"] = db_url
    r = subprocess.run([sys.executable, "-m", "mmsearch.cli", "index", str(corpus), "--library", str(tmp_path / "lib"),
                        "--model", "toy"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == -signal.SIGKILL, r.stderr
    with _engine(tmp_path, db_url) as e:
        committed = sum(e.catalog.counts()["media"].values())
        assert committed == 6  # three batches of two committed, the kill came before the third reached the index
        _agree(e)
        report = e.index([corpus])
        assert (report.added, report.unchanged) == (15 - committed, committed)
        _agree(e)
        vectors = {h.path for h in e.search("red", k=3, kinds=["image"])}
        assert vectors and all("red" in p for p in vectors)
        assert np.isfinite([h.score for h in e.search("blue", k=15)]).all()


def test_full_text_index_follows_the_catalog_on_both_backends(tmp_path, db_url, colour_folder):
    """Same contract on FTS5 and tsvector: any query word matches, best first, text and file names, kept in
    step with writes (a changed file's old words go, a removed file's words go)."""
    (colour_folder / "meeting_budget.txt").write_text("We talked about the marketing budget for spring.")
    (colour_folder / "garden.md").write_text("Tulips in the garden.\n\nThe budget for seeds is small.")
    (colour_folder / "birds.txt").write_text("We saw a two can in the tree")  # a misheard "toucan"
    with _engine(tmp_path, db_url) as e:
        e.index([colour_folder])

        def paths(query: str) -> list[str]:
            rows = e.catalog.segments([i for i, _ in e.catalog.fulltext(analyse(query))])
            return [rows[i].path.rsplit("/", 1)[1] for i, _ in e.catalog.fulltext(analyse(query))]

        found = paths("marketing budget")
        assert found[0] == "meeting_budget.txt"  # both words (and its name) beat one word
        assert "garden.md" in found
        assert set(paths("yellow")) >= {"yellow.png", "notes.md"}  # a file name; a note's text ("yellow sun")
        assert paths("Tulips") == ["garden.md"]  # case folded
        assert paths("toucan") == ["birds.txt"]  # by its sound: Double Metaphone keys of adjacent words
        bird = e.search("toucan", k=1)[0]
        assert bird.path.endswith("birds.txt") and "phonetic" in bird.extra["signals"]
        budget = e.catalog.fulltext(analyse("budget"))
        assert budget and all(score > 0 for _, score in budget)
        assert paths("'); DROP TABLE segment; --") == []  # words only, never SQL
        hits = e.search("marketing budget", k=3)
        assert hits[0].path.endswith("meeting_budget.txt") and "fulltext" in hits[0].extra["signals"]
        (colour_folder / "garden.md").write_text("Roses now.")
        e.index([colour_folder])
        assert paths("tulips") == [] and paths("roses") == ["garden.md"]
        e.remove([colour_folder / "meeting_budget.txt"])
        assert paths("marketing") == []


def test_full_text_asks_specific_words_first_and_common_ones_only_to_fill_up(tmp_path, db_url, colour_folder,
                                                                            monkeypatch):
    """Document frequencies are counted up to COMMON; a word that common picks no ranked candidates, the
    unranked step still hands on its segments (scored below the ranked ones) up to ``fill``; the word rows
    carry their stored phonetic keys."""
    from mmsearch.catalog.fulltext import base as fulltext

    (colour_folder / "a.txt").write_text("The budget is here.")
    (colour_folder / "b.txt").write_text("The tulips are here.")
    (colour_folder / "c.txt").write_text("The cat is here.")
    monkeypatch.setattr(fulltext, "COMMON", 3)
    monkeypatch.setattr(fulltext, "FREQUENCIES", fulltext.Frequencies())
    with _engine(tmp_path, db_url) as e:
        e.index([colour_folder])
        hits, df = e.catalog.fulltext_hits(analyse("the tulips"), limit=10)
        assert df["the"] == 3 and df["tulips"] == 1  # "the": counted up to COMMON, no further
        rows = e.catalog.segments([h.segment_id for h in hits])
        names = [rows[h.segment_id].path.rsplit("/", 1)[1] for h in hits]
        assert names[0] == "b.txt" and set(names) >= {"a.txt", "b.txt", "c.txt"}
        assert hits[0].score > max(h.score for h in hits[1:]) > 0
        word_rows = e.catalog.word_rows([h.segment_id for h in hits])
        assert set(tokens.phonetic_keys("The tulips are here.")) <= set(word_rows[hits[0].segment_id].keys.split())
        assert word_rows[hits[0].segment_id].row == rows[hits[0].segment_id]
        assert fulltext.plan(analyse("the tulips"), df).words == ("tulips",)
        topped, _ = e.catalog.fulltext_hits(analyse("the tulips"), limit=10, fill=2)
        assert [h.segment_id for h in topped][:1] == [hits[0].segment_id] and len(topped) == 2  # one ranked + one
        assert len(e.catalog.fulltext_hits(analyse("tulips"), limit=10, fill=1)[0]) == 1


def test_full_text_ranks_by_the_summed_specificity_of_the_tokens_a_segment_holds(tmp_path, db_url, colour_folder):
    """Same ranking on both backends: a segment holding a rarer word beats one holding a commoner one, two
    words beat one, equal scores go to the older segment; scores are the summed token weights."""
    from mmsearch.catalog.fulltext import base as fulltext

    for name, words in {"a": "otter", "b": "otter heron", "c": "heron", "d": "heron", "e": "heron"}.items():
        (colour_folder / f"{name}.txt").write_text(f"The {words} swam.")
    with _engine(tmp_path, db_url) as e:
        e.index([colour_folder])
        hits, df = e.catalog.fulltext_hits(analyse("otter heron"), limit=10)
        rows = e.catalog.segments([h.segment_id for h in hits])
        names = [rows[h.segment_id].path.rsplit("/", 1)[1] for h in hits]
        assert names[:2] == ["b.txt", "a.txt"]  # both words; then the rarer "otter" (df 2) over "heron" (df 4)
        assert set(names[2:]) == {"c.txt", "d.txt", "e.txt"}
        tied = [h for h in hits if rows[h.segment_id].path.endswith(("c.txt", "d.txt", "e.txt"))]
        assert [h.segment_id for h in tied] == sorted(h.segment_id for h in tied)
        plan = fulltext.plan(analyse("otter heron"), df)
        weight = dict(zip(plan.words + plan.keys, plan.weights))
        by_name = dict(zip(names, hits))
        assert by_name["b.txt"].score > by_name["a.txt"].score > by_name["c.txt"].score > 0
        assert by_name["c.txt"].score >= weight["heron"]


def test_other_readings_of_speech_match_by_sound_only_on_both_backends(tmp_path, db_url):
    """A transcript passage's alternatives (the recogniser's next-best hypotheses, in ``detail``) enter its
    phonetic column: a word only they hold finds the passage by sound, never as an exact word."""
    from mmsearch.catalog import NewSegment
    from mmsearch.indexers.kinds.soundtrack import alternatives_detail
    from mmsearch.kinds import MediaKind, SegmentKind
    from mmsearch.query.ranking import FULLTEXT, PHONETIC

    clip = tmp_path / "clip_019.wav"
    with _engine(tmp_path, db_url) as e:
        fields = {"path": str(clip), "content_hash": "0" * 64, "size": 1, "mtime": 0.0, "kind": MediaKind.AUDIO}
        said = NewSegment(kind=SegmentKind.SPEECH, start=1.6, end=2.8, text="Hold the sparrows.",
                          detail=alternatives_detail(("Hold the spokes.", "All disposed.")))
        e.library.apply(e.catalog.write_media([(fields, [said])], None))
        (seg_id, _), = e.catalog.fulltext(analyse("disposed"))
        assert e.catalog.fulltext(analyse("sparrows"))[0][0] == seg_id
        assert e.catalog.segments([seg_id])[seg_id].text == "Hold the sparrows."  # shown: the first reading
        hit = e.search("disposed", k=1)[0]
        assert hit.path == str(clip) and PHONETIC in hit.extra["signals"] and FULLTEXT not in hit.extra["signals"]
        assert FULLTEXT in e.search("sparrows", k=1)[0].extra["signals"]


def test_a_word_no_segment_held_is_found_as_soon_as_a_write_brings_it(tmp_path, db_url, colour_folder):
    """Counted frequencies are kept until the full text changes (its generation, bumped in the writing
    transaction), so a word counted 0 — and so left out of the query — is asked again after any write."""
    from mmsearch.catalog.fulltext import base as fulltext

    (colour_folder / "a.txt").write_text("The otter swam.")
    with _engine(tmp_path, db_url) as e:
        e.index([colour_folder])
        with e.catalog.sql.connect() as conn:
            before = fulltext.generation(conn)
        assert e.catalog.fulltext(analyse("heron otter"))  # "heron": counted 0 and remembered
        assert fulltext.plan(analyse("heron otter"), e.catalog.fulltext_hits(analyse("heron otter"))[1]).broad_words == ("otter",)
        (colour_folder / "b.txt").write_text("A heron waited.")
        e.index([colour_folder])
        with e.catalog.sql.connect() as conn:
            assert fulltext.generation(conn) > before
        rows = e.catalog.segments([i for i, _ in e.catalog.fulltext(analyse("heron"))])
        assert [r.path.rsplit("/", 1)[1] for r in rows.values()] == ["b.txt"]
        e.remove([colour_folder / "b.txt"])
        assert e.catalog.fulltext(analyse("heron")) == []


def test_text_read_with_its_words_run_together_is_found_by_them_on_both_backends(tmp_path, db_url):
    """An OCR line read without spaces ("Saladsolarresearch"): its words are indexed read apart beside the
    token as read, on both databases, and match as words; the text shown is what was read. The same token in
    a text file's passage (typed, not read from pixels) is left as it is."""
    from mmsearch.catalog import NewSegment
    from mmsearch.kinds import MediaKind, SegmentKind
    from mmsearch.query.ranking import FULLTEXT, OCR

    picture, note = tmp_path / "photo_0215.jpg", tmp_path / "note.txt"
    with _engine(tmp_path, db_url) as e:
        def fields(path, kind):
            return {"path": str(path), "content_hash": path.name.ljust(64, "0"), "size": 1, "mtime": 0.0,
                    "kind": kind}

        read = NewSegment(kind=SegmentKind.OCR, text="Saladsolarresearch")
        typed = NewSegment(kind=SegmentKind.TEXT, text="Saladsolarresearch")
        e.library.apply(e.catalog.write_media([(fields(picture, MediaKind.IMAGE), [read]),
                                               (fields(note, MediaKind.TEXT), [typed])], None))
        ids = {h[0] for h in e.catalog.fulltext(analyse("solar"))}
        assert len(ids) == 1
        [seg_id] = ids
        assert e.catalog.segments([seg_id])[seg_id].text == "Saladsolarresearch"  # shown as read
        assert {h[0] for h in e.catalog.fulltext(analyse("saladsolarresearch"))} > ids  # as read: both files
        hit = e.search("Salad solar research", k=2)[0]
        assert hit.path == str(picture) and {FULLTEXT, OCR} <= set(hit.extra["signals"])
        assert hit.text == "Saladsolarresearch"
