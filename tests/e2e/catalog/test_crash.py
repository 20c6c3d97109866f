"""Crash safety: an index run SIGKILLed at named points leaves a library that opens, answers every query with
exactly the committed items, keeps catalog and index in agreement, and finishes the work when run again
without redoing what was committed.

The kill comes from ``mmsearch._faults`` (``MMSEARCH_TEST_KILL_AT="commit:3"``: the third time the process
reaches that point). Points: decode (worker thread, file decoded), encode (batch encoded, nothing written),
commit (inside the batch's transaction), apply (committed, not yet in the index), remove (deleted files gone
from the catalog, not from the index), save (an index snapshot is about to be written).
See docs/reliability.md.
"""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmsearch import Engine

from conftest import COLOURS

PALETTE = list(COLOURS.items())
NOTES = {
    "garden.md": "The garden is green after the rain.\n\nA yellow sun rose over the red roofs. " * 3,
    "sea.txt": "Blue waves and a purple sky over the harbour, and the boats came home late. " * 6,
    "list.md": "- red apples\n- green pears\n- yellow lemons\n",
}


def _image(path: Path, a: str, b: str, split: int) -> None:
    """Two colours side by side, ``split`` of 8 columns the first: distinct vectors for the toy encoder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.zeros((24, 32, 3), np.uint8)
    arr[:, :] = COLOURS[b]
    arr[:, : split * 4] = COLOURS[a]
    Image.fromarray(arr).save(path)


def make_corpus(root: Path) -> dict[str, int]:
    """12 images (one with a caption), 3 notes, 2 bad files. Returns {'good': n, 'bad': n}."""
    n = 0
    for i, (a, _) in enumerate(PALETTE):
        for j, split in enumerate((2, 5)):
            b = PALETTE[(i + 1 + j) % len(PALETTE)][0]
            _image(root / ("sub" if j else "") / f"{a}_{b}_{split}.png", a, b, split)
            n += 1
    _image(root / "deep" / "er" / "mix.jpg", "red", "blue", 3)
    _image(root / "deep" / "mix2.png", "green", "yellow", 6)
    n += 2
    (root / "deep" / "er" / "mix.txt").write_text("a red and blue photo")
    for name, text in NOTES.items():
        (root / name).write_text(text)
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "empty.jpg").write_bytes(b"")
    return {"good": n + 1 + len(NOTES), "bad": 2}


def modify(root: Path) -> dict[str, set[str]]:
    """The changes an incremental run has to apply (relative paths)."""
    changed = {"red_green_2.png", "sub/blue_purple_5.png"}
    for rel in changed:
        _image(root / rel, "yellow", "purple", 7)
        os.utime(root / rel, (1.5e9, 1.5e9))
    shutil.move(root / "green_blue_2.png", root / "sub" / "moved_green.png")
    (root / "purple_red_2.png").unlink()
    (root / "list.md").unlink()
    added = {"new/a.png", "new/b.png", "new/c.jpg", "new/note.md"}
    _image(root / "new/a.png", "purple", "purple", 8)
    _image(root / "new/b.png", "red", "yellow", 1)
    _image(root / "new/c.jpg", "blue", "green", 4)
    (root / "new/note.md").write_text("A new note about a purple boat.")
    os.utime(root / "yellow_purple_2.png", (2e9, 2e9))  # touched, same content
    return {"changed": changed, "added": added, "moved": {"sub/moved_green.png"},
            "moved_from": {"green_blue_2.png"}, "deleted": {"purple_red_2.png", "list.md"}}


def state(engine: Engine, root: Path) -> dict[str, tuple]:
    """relative path -> (hash, kind, ((segment kind, text, rounded vector), ...), linked relative path)."""
    out = {}
    by_id = {m.id: m for m in engine.catalog.all_media()}
    for m in by_id.values():
        vecs = engine.catalog.vectors_of_media(m.id).get("clip", np.zeros((0, 1)))
        segs = engine.catalog.segments_of_media(m.id)
        link = by_id[m.link_id].path if m.link_id in by_id else None
        out[os.path.relpath(m.path, root)] = (
            m.content_hash, m.kind,
            tuple((s.kind, s.text, tuple(np.round(v, 3))) for s, v in zip(segs, vecs)),
            os.path.relpath(link, root) if link else None,
        )
    return out


def raw_committed(lib: Path, root: Path) -> dict[str, tuple[str, float, int]]:
    """What the catalog file holds right after the kill, read with plain sqlite3 (no mmsearch code)."""
    with sqlite3.connect(lib / "catalog.sqlite3") as db:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name='media'").fetchone():
            return {}
        rows = db.execute(
            "SELECT m.path, m.content_hash, m.mtime, COUNT(s.id) FROM media m LEFT JOIN segment s "
            "ON s.media_id = m.id GROUP BY m.id"
        ).fetchall()
    return {os.path.relpath(p, root): (h, t, n) for p, h, t, n in rows}


def consistent(engine: Engine) -> None:
    for space in engine.catalog.spaces():
        idx = engine.library.index(space)
        ids = idx.ids()
        assert len(ids) == len(set(ids.tolist())) == idx.ntotal
        assert set(ids.tolist()) == set(engine.catalog.vector_ids(space.id).tolist())
    report = engine.check()
    assert report.ok, [p.message for p in report.problems]


def queries_work(engine: Engine, root: Path, committed: set[str]) -> None:
    hits = engine.search("red", k=100)
    assert {os.path.relpath(h.path, root) for h in hits} == committed  # only and all committed files
    for colour in ("green", "purple"):
        for h in engine.search(f"a {colour} photo", k=5, kinds=["image"]):
            assert os.path.relpath(h.path, root) in committed and np.isfinite(h.score)
    images = sorted(p for p in committed if p.endswith((".png", ".jpg")))
    if images:
        similar = engine.similar(root / images[0], k=3)
        assert similar and all(os.path.relpath(h.path, root) in committed for h in similar)


def run_killed(lib: Path, root: Path, at: str, *command: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMSEARCH_")}
    env.update(MMSEARCH_TEST_KILL_AT=at, MMSEARCH_BATCH_SIZE="2", MMSEARCH_WORKERS="2", MMSEARCH_DEVICE="cpu",
               MMSEARCH_MISSING_GRACE_RUNS="0")  # deleted files forgotten in the run: the `remove` point is reached
    args = command or ("index", str(root), "--model", "toy")
    r = subprocess.run([sys.executable, "-m", "mmsearch.cli", *args, "--library", str(lib)],
                       env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == -signal.SIGKILL, f"not killed at {at}: rc={r.returncode} {r.stderr[-2000:]}"
    return r


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The library state a run without a kill produces: fresh corpus, and the modified corpus."""
    out = {}
    for name in ("fresh", "modified"):
        base = tmp_path_factory.mktemp(f"ref_{name}")
        root = base / "corpus"
        make_corpus(root)
        with Engine(base / "lib", model="toy", batch_size=2, missing_grace_runs=0) as e:
            e.index([root])
            if name == "modified":
                modify(root)
                e.index([root])
            out[name] = state(e, root)
    return out


FRESH_POINTS = [
    "decode:1", "decode:6", "decode:15",
    "encode:1", "encode:4", "encode:8",
    "commit:1", "commit:3", "commit:5", "commit:9",
    "apply:1", "apply:4", "apply:9",
    "save:1",
]


@pytest.mark.parametrize("at", FRESH_POINTS)
def test_kill_during_first_index_run(tmp_path, reference, at):
    root, lib = tmp_path / "corpus", tmp_path / "lib"
    counts = make_corpus(root)
    run_killed(lib, root, at)
    raw = raw_committed(lib, root)
    with Engine(lib, model="toy") as e:
        now = state(e, root)
        assert set(now) == set(raw)  # the library opens with exactly what was committed
        for rel, entry in now.items():  # whole files only: every committed file has all its segments
            assert entry[:3] == reference["fresh"][rel][:3], rel
        consistent(e)
        queries_work(e, root, set(now))
        errors_before = {os.path.relpath(x["path"], root) for x in e.errors()}
        assert errors_before <= {"broken.png", "empty.jpg"}

        report = e.index([root])  # finishes the work without redoing the committed part
        expected = (counts["good"] - len(now), len(now), 0, 0)
        assert (report.added, report.unchanged, report.updated, report.moved) == expected
        assert report.failed == counts["bad"] - len(errors_before) and report.skipped_bad == len(errors_before)
        assert state(e, root) == reference["fresh"]
        consistent(e)
        assert {os.path.relpath(x["path"], root) for x in e.errors()} == {"broken.png", "empty.jpg"}
        again = e.index([root])
        assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, counts["good"])


INCREMENTAL_POINTS = [
    "decode:1", "decode:5",
    "encode:1", "encode:2",
    "commit:1", "commit:3",
    "apply:2", "apply:3",
    "remove:1", "save:1",
]


@pytest.mark.parametrize("at", INCREMENTAL_POINTS)
def test_kill_during_incremental_run(tmp_path, reference, at):
    root, lib = tmp_path / "corpus", tmp_path / "lib"
    counts = make_corpus(root)
    with Engine(lib, model="toy", batch_size=2, missing_grace_runs=0) as e:
        e.index([root])
        before = state(e, root)
    todo = modify(root)
    run_killed(lib, root, at)
    raw = raw_committed(lib, root)
    done = {
        "changed": {p for p in todo["changed"] if p in raw and raw[p][0] != before[p][0]},
        "added": {p for p in todo["added"] if p in raw},
        "moved": {p for p in todo["moved"] if p in raw},
        "deleted": {p for p in todo["deleted"] if p not in raw},
    }
    with Engine(lib, missing_grace_runs=0) as e:  # the library's own model (toy), as a user would reopen it
        now = state(e, root)
        assert set(now) == set(raw)
        for rel, entry in now.items():  # each file is either its old or its new self, whole
            assert entry[:3] in (before.get(rel, (None,) * 3)[:3], reference["modified"].get(rel, (None,) * 3)[:3]), rel
        consistent(e)
        queries_work(e, root, set(now))

        report = e.index([root])
        good_on_disk = counts["good"] - 2 + len(todo["added"])
        assert report.added == len(todo["added"] - done["added"])
        assert report.updated == len(todo["changed"] - done["changed"])
        assert report.moved == len(todo["moved"] - done["moved"])
        assert report.removed == len(todo["deleted"] - done["deleted"])
        assert report.unchanged == good_on_disk - report.added - report.updated - report.moved
        assert report.failed == 0 and report.skipped_bad == counts["bad"]
        assert state(e, root) == reference["modified"]
        consistent(e)


@pytest.mark.parametrize("command", ["reindex", "remove"])
def test_kill_while_saving_after_reindex_or_remove(tmp_path, reference, command):
    root, lib = tmp_path / "corpus", tmp_path / "lib"
    make_corpus(root)
    with Engine(lib, model="toy") as e:
        e.index([root])
    args = ("reindex",) if command == "reindex" else ("remove", str(root / "sub"))
    run_killed(lib, root, "save:1", *args)
    expected = {k: v for k, v in reference["fresh"].items() if command == "reindex" or not k.startswith("sub/")}
    with Engine(lib) as e:
        assert state(e, root) == expected
        consistent(e)
        queries_work(e, root, set(expected))


def test_fault_hook_is_inert_without_the_variable():
    from mmsearch import _faults

    assert not _faults.armed and _faults.point is _faults._noop
    _faults.point("commit")  # nothing happens
    code = "from mmsearch import _faults; print(_faults.armed, _faults._KILL, _faults._SLEEP)"
    env = dict(os.environ, MMSEARCH_TEST_KILL_AT="commit:3,save:1", MMSEARCH_TEST_SLEEP_AT="apply:0.5")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60).stdout
    assert out.split(None, 1) == ["True", "{'commit': 3.0, 'save': 1.0} {'apply': 0.5}\n"]


def _clip_vectors(engine: Engine, root: Path) -> dict[str, tuple]:
    out = {}
    for m in engine.catalog.all_media():
        vecs = engine.catalog.vectors_of_media(m.id).get("clip", np.zeros((0, 1)))
        out[os.path.relpath(m.path, root)] = tuple(sorted(tuple(np.round(v, 3)) for v in vecs))
    return out


@pytest.mark.parametrize("at", ["decode:2", "encode:3", "commit:2", "apply:4", "save:1"])
def test_kill_during_a_backfill(tmp_path, reference, at):
    """Files catalogued while the clip model was missing; the run that backfills them is killed: the library
    keeps every committed backfill, answers, and the next run does exactly the rest."""
    root, lib = tmp_path / "corpus", tmp_path / "lib"
    make_corpus(root)
    with Engine(lib, model="ViT-B-32:/nonexistent/model.bin", audio_model="off", speech_model="off") as e:
        first = e.index([root])
        pending = first.jobs["clip"]["pending"]
        assert pending == len(reference["fresh"]) and first.jobs["clip"]["done"] == 0
    run_killed(lib, root, at, "index", "--model", "toy")  # no paths: the library's roots
    with Engine(lib, model="toy") as e:
        consistent(e)
        left = e.catalog.job_counts()["clip"]
        assert left["pending"] + left["done"] == pending and left["failed"] == 0
        waiting = {e.catalog.media_by_id(m).path for m in e.catalog.pending(["clip"])}
        images = e.search("red", k=100, kinds=["image"])
        assert all(np.isfinite(h.score) and h.path not in waiting for h in images)  # only committed backfills
        report = e.index()
        assert report.backfilled == left["pending"] and report.added == 0
        assert e.catalog.job_counts()["clip"] == {"done": pending, "pending": 0, "failed": 0}
        with Engine(tmp_path / "ref", model="toy", batch_size=2, missing_grace_runs=0) as ref:
            ref.index([root])
            assert _clip_vectors(e, root) == _clip_vectors(ref, root)
        consistent(e)
