"""Nothing lost (issue 24, points 4-7): a re-embed that could not redo every file does not swap, one writer
across machines on a shared PostgreSQL catalog, a snapshot names the exact catalog state it reflects, a
read-only library sees what a killed writer committed, and ``check --repair`` / ``--thumbs`` / ``--export``
touch nothing they do not own. Every fault is real: a folder moved away mid-run, two processes, SIGKILL, a
read-only mount, a catalog copied back from before (a power cut). See docs/reliability.md, "Guarantees"."""
from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_crash import consistent, make_corpus, queries_work, raw_committed, run_killed

from mmsearch import Engine
from mmsearch.kinds import Space
from mmsearch.vectors import VectorIndex

from conftest import mounted_tmpfs, solid

OFF = dict(audio_model="off", speech_model="off")
CLI = [sys.executable, "-m", "mmsearch.cli"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMSEARCH_")}
    env.update(MMSEARCH_DEVICE="cpu", MMSEARCH_AUDIO_MODEL="off", MMSEARCH_SPEECH_MODEL="off", **extra)
    return env


def _two_folders(root: Path) -> tuple[Path, Path]:
    """root/a and root/b, four solid images each (one clip vector per image)."""
    colours = ["red", "green", "blue", "yellow"]
    for folder in ("a", "b"):
        for i, colour in enumerate(colours):
            solid(root / folder / f"{colour}_{i}.png", colour, (40 + 8 * i, 32))
    return root / "a", root / "b"


def _counts(e: Engine) -> tuple[int, int, int]:
    """(files, segments, clip vectors in the catalog); a re-embed's staged rows are not segments yet."""
    c = e.catalog.counts()
    segments = sum(n for kind, n in c["segments"].items() if not kind.startswith("~"))
    return sum(c["media"].values()), segments, c["vectors"].get("clip", 0)


# -- 4. a re-embed never discards what it could not redo ----------------------------------------------------
def test_a_folder_removed_during_a_reembed_keeps_the_old_space_and_resumes(tmp_path, tiny_clip):
    root, lib = tmp_path / "drive", tmp_path / "lib"
    a, b = _two_folders(root)
    with Engine(lib, model="toy", batch_size=2, **OFF) as e:
        e.index([root])
        assert _counts(e) == (8, 8, 8)
        old = e.catalog.space(Space.CLIP)
        before = [(h.path, round(h.score, 4)) for h in e.search("red", k=8)]
        away = tmp_path / "unplugged"

        class Unplug:  # the drive holding b goes away once the first files are re-embedded
            def start(self, total):
                pass

            def advance(self, n=1, path=None):
                if b.exists():
                    shutil.move(b, away)

            def stop(self):
                pass

        report = e.reembed("clip", tiny_clip, progress=Unplug())
        assert not report.swapped and report.reembedded == 4
        assert sorted(p for p, _ in report.failures) == sorted(str(b / f.name) for f in away.iterdir())
        row = e.catalog.space(Space.CLIP)
        assert (row.model_id, row.dim, row.epoch) == (old.model_id, old.dim, old.epoch)  # not swapped
        assert _counts(e) == (8, 8, 8)
        assert e.library.index(row).ntotal == 8
        assert [(h.path, round(h.score, 4)) for h in e.search("red", k=8)] == before
        assert e.check().ok

    with Engine(lib, **OFF) as e:  # reopened: still the old model, every file found
        assert e.catalog.space(Space.CLIP).model_id == old.model_id
        assert len(e.search("red", k=20)) == 8
        shutil.move(away, b)  # the drive is back: the next reembed resumes
        report = e.reembed("clip", tiny_clip)
        assert report.swapped and (report.resumed, report.reembedded, report.failures) == (4, 4, [])
        row = e.catalog.space(Space.CLIP)
        assert row.dim == 32 and row.model_id == report.model
        assert _counts(e) == (8, 8, 8) and report.vectors == 8
        assert e.check().ok


def test_reembed_cli_exits_1_naming_the_failed_files_and_force_says_what_is_lost(tmp_path, tiny_clip):
    root, lib = tmp_path / "drive", tmp_path / "lib"
    a, b = _two_folders(root)
    with Engine(lib, model="toy", **OFF) as e:
        e.index([root])
    shutil.rmtree(b)  # the files of b cannot be read again
    r = subprocess.run([*CLI, "reembed", "clip", "--model", tiny_clip, "--library", str(lib)], env=_env(),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr
    lines = [line for line in r.stderr.splitlines() if "not re-embedded" in line]
    assert len(lines) == 4 and all(str(b) in line for line in lines)
    assert "not switched" in r.stderr and "--force" in r.stderr
    with Engine(lib, **OFF) as e:
        assert _counts(e) == (8, 8, 8) and e.catalog.space(Space.CLIP).dim != 32

    r = subprocess.run([*CLI, "reembed", "clip", "--model", tiny_clip, "--force", "--library", str(lib)],
                       env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "4 files lose their vectors in space clip" in r.stdout + r.stderr
    with Engine(lib, **OFF) as e:
        assert e.catalog.space(Space.CLIP).dim == 32
        assert _counts(e) == (8, 4, 4)  # b's files keep their rows, their clip work is pending
        assert e.stats()["jobs"]["clip"]["pending"] == 4
        assert e.check().ok


# -- 6. a read-only library answers with every committed row ----------------------------------------------
@pytest.fixture
def disk(tmp_path):
    """A 64 MB tmpfs mounted for the test (root only; skipped with the reason elsewhere)."""
    yield from mounted_tmpfs(tmp_path / "disk", "64m")


@pytest.mark.parametrize("shm", ["kept", "gone"])
def test_a_killed_writers_wal_is_read_from_a_read_only_mount(tmp_path, disk, shm):
    """A writer SIGKILLed leaves its last transactions in ``catalog.sqlite3-wal``; the disk is then mounted
    read-only. Every committed file is found, ``check`` works, and nothing is written to the disk. ``gone``:
    the ``-shm`` is missing too (copied without it), so SQLite cannot read the WAL in place."""
    root, lib = tmp_path / "corpus", disk / "lib"
    make_corpus(root)
    run_killed(lib, root, "commit:5")  # four batches of two files committed, then SIGKILL
    wal = lib / "catalog.sqlite3-wal"
    assert wal.stat().st_size > 0
    if shm == "gone":
        (lib / "catalog.sqlite3-shm").unlink()
    copy = tmp_path / "copy"
    shutil.copytree(lib, copy)
    with sqlite3.connect(f"file:{copy / 'catalog.sqlite3'}?immutable=1", uri=True) as db:
        in_main_file = db.execute("SELECT COUNT(*) FROM sqlite_master WHERE name='media'").fetchone()[0]
        in_main_file = db.execute("SELECT COUNT(*) FROM media").fetchone()[0] if in_main_file else 0
    committed = raw_committed(copy, root)  # plain sqlite3 on a copy: the WAL on the disk stays as it is
    with sqlite3.connect(copy / "catalog.sqlite3") as db:
        raw = db.execute("SELECT (SELECT COUNT(*) FROM media), (SELECT COUNT(*) FROM segment), (SELECT COUNT(*) "
                         "FROM segment s JOIN space p ON p.id = s.space_id WHERE p.name = 'clip')").fetchone()
    assert raw[0] == len(committed) >= 6 and in_main_file < raw[0]  # committed rows live in the WAL only
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    files_before = sorted(os.listdir(lib))

    with Engine(lib) as e:
        assert e.library.read_only
        assert ("mode=ro" in e.catalog.url) == (shm == "kept")  # gone: read from a private copy
        assert (str(lib) in e.catalog.url) == (shm == "kept")
        assert {os.path.relpath(m.path, root) for m in e.catalog.all_media()} == set(committed)
        c = e.catalog.counts()
        assert (sum(c["media"].values()), sum(c["segments"].values()), c["vectors"]["clip"]) == raw
        assert e.library.index(e.catalog.space("clip")).ntotal == raw[2]
        queries_work(e, root, set(committed))
        consistent(e)
    for command in (["search", "red", "--top", "50", "--json"], ["check"]):
        r = subprocess.run([*CLI, *command, "--library", str(lib)], env=_env(), capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"ok: {raw[0]} files, {raw[1]} segments")
    assert sorted(os.listdir(lib)) == files_before and wal.stat().st_size > 0


# -- 5. a snapshot is used only for the exact catalog state it reflects ------------------------------------
def _index_cli(lib: Path, root: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen([*CLI, "index", str(root), "--model", "toy", "--library", str(lib)],
                            env=_env(MMSEARCH_BATCH_SIZE="2", MMSEARCH_WORKERS="1", **env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _picture(path: Path, rgb: tuple[int, int, int]) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), rgb).save(path)


def test_a_catalog_rolled_back_by_a_power_cut_never_uses_the_newer_snapshot(tmp_path):
    """Power cut: the catalog loses its last transactions (here: the files copied mid-run are put back), the
    newer snapshot survives. The next run commits other files under the very same epoch and row ids; open must
    replay, not trust the snapshot whose epoch now matches."""
    root, lib, saved = tmp_path / "photos", tmp_path / "lib", tmp_path / "cut"
    for i, colour in enumerate(["red", "green"]):
        solid(root / f"{i}_{colour}.png", colour)
    with Engine(lib, model="toy", batch_size=2, **OFF) as e:
        e.index([root])
    for i, rgb in enumerate([(30, 60, 220), (240, 230, 40), (130, 40, 170), (250, 250, 250)]):  # 2 batches of 2
        _picture(root / f"b{i}.png", rgb)
    go = tmp_path / "go"
    proc = _index_cli(lib, root, MMSEARCH_TEST_HOLD_AT=f"apply:{go}")
    with Engine(lib, **OFF) as e:  # the first batch of the run commits, then the writer waits at `apply`
        deadline = time.monotonic() + 120
        while e.catalog.counts()["vectors"].get("clip", 0) < 4:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-2000:]
            time.sleep(0.05)
    saved.mkdir()
    for name in ("catalog.sqlite3", "catalog.sqlite3-wal"):  # what the disk held when the power went
        shutil.copyfile(lib / name, saved / name)
    go.touch()
    assert proc.wait(timeout=180) == 0, proc.communicate()[1][-2000:]
    snap_path = lib / "index" / "clip.index"
    _, newer = VectorIndex.load(snap_path)
    assert newer["ntotal"] == 6

    for name in ("catalog.sqlite3", "catalog.sqlite3-wal", "catalog.sqlite3-shm"):  # the rolled-back catalog
        (lib / name).unlink(missing_ok=True)
    for name in ("catalog.sqlite3", "catalog.sqlite3-wal"):
        shutil.copyfile(saved / name, lib / name)
    lost = sorted(root.glob("b[23].png"))
    for path in lost:  # the user's next files differ from the lost ones: new content under reused row ids
        path.unlink()
    _picture(root / "c0_black.png", (5, 5, 5))
    _picture(root / "c1_teal.png", (20, 160, 160))
    killed = run_killed(lib, root, "save:1")  # commits one batch, killed before its snapshot
    assert killed.returncode < 0
    _, meta = VectorIndex.load(snap_path)
    assert meta == newer  # the newer snapshot is still there, untouched

    with Engine(lib, **OFF) as e:
        space = e.catalog.space("clip")
        ids = sorted(e.catalog.vector_ids(space.id).tolist())
        assert (space.epoch, len(ids)) == (newer["epoch"], newer["ntotal"])  # an epoch counter cannot tell
        c = e.catalog.counts()
        assert (sum(c["media"].values()), sum(c["segments"].values()), c["vectors"]["clip"]) == (6, 6, 6)
        assert e.catalog.space_generations()["clip"][1] != newer["generation"]
        idx = e.library.index(space)
        assert sorted(idx.ids().tolist()) == ids
        consistent(e)  # the index holds the catalog's very vectors (sampled), not the snapshot's
        paths = {os.path.relpath(h.path, root) for h in e.search("red", k=20)}
        assert paths == {p.name for p in root.glob("*.png")}
        stored = dict(zip(*e.catalog.iter_vectors(space.id, space.dim).__next__()))
        for seg_id in ids:  # every vector the index holds is the catalog's, not the lost files' (float16 stored)
            assert np.allclose(idx.reconstruct(seg_id), stored[seg_id], atol=1e-3), seg_id
        snap, _ = VectorIndex.load(snap_path)
        assert any(not np.allclose(snap.reconstruct(i), stored[i], atol=1e-3) for i in ids)  # it would have lied


def test_a_library_from_before_generations_is_trusted_until_a_writer_opens_it_then_replayed_once(tmp_path):
    """A catalog and snapshot written before tokens (epoch only) keep loading as they are; the first writable
    run gives every space a token, so that old snapshot is replayed once and saved with the token."""
    root, lib = tmp_path / "photos", tmp_path / "lib"
    for i, rgb in enumerate([(220, 30, 30), (30, 180, 40), (30, 60, 220)]):
        _picture(root / f"{i}.png", rgb)
    with Engine(lib, model="toy", **OFF) as e:
        e.index([root])
    snap_path = lib / "index" / "clip.index"
    idx, meta = VectorIndex.load(snap_path)
    idx.save(snap_path, {k: meta[k] for k in ("space", "model_id")})  # the header an older version wrote
    with sqlite3.connect(lib / "catalog.sqlite3") as db:
        db.execute("DELETE FROM meta WHERE key LIKE 'generation:%'")

    def stale(e: Engine) -> bool:
        return any(w.code == "snapshot-stale" and w.space == "clip" for w in e.check().warnings)

    with Engine(lib, **OFF) as e:  # a reader: epochs agree, neither side has a token: trusted
        assert e.catalog.space_generations()["clip"][1] is None and not stale(e)
        assert e.library.index(e.catalog.space("clip")).ntotal == 3
    with Engine(lib, model="toy", **OFF) as e:  # a writer: tokens are written, the old snapshot is replayed
        report = e.index([root])
        assert (report.added, report.unchanged) == (0, 3)
        assert e.catalog.space_generations()["clip"][1] is not None
    _, meta = VectorIndex.load(snap_path)
    with Engine(lib, **OFF) as e:
        assert (meta["epoch"], meta["generation"]) == e.catalog.space_generations()["clip"] and not stale(e)
        assert e.library.index(e.catalog.space("clip")).ntotal == 3 and e.check().ok


@pytest.fixture
def pg_url(postgres_url):
    """A fresh database on the session's real PostgreSQL server."""
    from conftest import fresh_database

    yield from fresh_database(postgres_url, "w")


def _pg_counts(url: str) -> tuple[int, int, int, int]:
    """(files, distinct paths, segments, clip vectors) read with plain psycopg2."""
    import psycopg2
    from sqlalchemy.engine import make_url

    u = make_url(url)
    with psycopg2.connect(host=u.host, port=u.port, user=u.username, dbname=u.database) as db, db.cursor() as cur:
        cur.execute("SELECT to_regclass('media') IS NOT NULL")
        if not cur.fetchone()[0]:
            return (0, 0, 0, 0)
        cur.execute("SELECT (SELECT COUNT(*) FROM media), (SELECT COUNT(DISTINCT path) FROM media), "
                    "(SELECT COUNT(*) FROM segment), (SELECT COUNT(*) FROM segment s JOIN space p ON "
                    "p.id = s.space_id WHERE p.name = 'clip')")
        return tuple(cur.fetchone())


@pytest.mark.postgres
def test_two_writers_on_one_postgresql_catalog_one_waits_its_turn(tmp_path, pg_url):
    """Two library folders (two machines) index the same folder into one PostgreSQL catalog at once: the
    second is refused with one line naming the first (host, pid, since); after both, every file is in the
    catalog exactly once and each folder's snapshot names the catalog's current generation."""
    root = tmp_path / "photos"
    for i, rgb in enumerate([(220, 30, 30), (30, 180, 40), (30, 60, 220), (240, 230, 40), (130, 40, 170),
                             (5, 5, 5), (20, 160, 160), (250, 250, 250)]):
        _picture(root / f"{i}.png", rgb)
    lib1, lib2, go = tmp_path / "machine1", tmp_path / "machine2", tmp_path / "go"
    first = _index_cli(lib1, root, MMSEARCH_DATABASE_URL=pg_url, MMSEARCH_TEST_HOLD_AT=f"apply:{go}")
    deadline = time.monotonic() + 120
    while _pg_counts(pg_url)[0] < 2:  # its first batch is committed; it waits at `apply`, holding the lock
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()[1][-2000:]
        time.sleep(0.1)
    second = subprocess.run([*CLI, "index", str(root), "--model", "toy", "--library", str(lib2), "--json"],
                            env=_env(MMSEARCH_DATABASE_URL=pg_url, MMSEARCH_BATCH_SIZE="2"), capture_output=True,
                            text=True, timeout=180)
    assert second.returncode == 2, second.stdout + second.stderr
    said = [line for line in second.stderr.splitlines() if line.strip()]
    assert len(said) == 1 and "another mmsearch process is writing into the catalog" in said[0]
    assert f"pid {first.pid}" in said[0] and f"host {socket.gethostname()}" in said[0] and str(lib1) in said[0]
    assert "since 20" in said[0] and "wait for it to finish" in said[0]
    assert _pg_counts(pg_url)[0] == 2  # the refused writer wrote nothing

    go.touch()
    out, err = first.communicate(timeout=180)
    assert first.returncode == 0, err[-2000:]
    assert _pg_counts(pg_url) == (8, 8, 8, 8)
    again = subprocess.run([*CLI, "index", str(root), "--model", "toy", "--library", str(lib2), "--json"],
                           env=_env(MMSEARCH_DATABASE_URL=pg_url), capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr[-2000:]
    report = json.loads(again.stdout)
    assert (report["added"], report["unchanged"], report["removed"]) == (0, 8, 0)
    assert _pg_counts(pg_url) == (8, 8, 8, 8)  # every file exactly once
    with Engine(lib1, database_url=pg_url, **OFF) as e:
        _, meta = VectorIndex.load(lib1 / "index" / "clip.index")
        assert (meta["epoch"], meta["generation"]) == e.catalog.space_generations()["clip"]  # trusted as is
        assert meta["ntotal"] == e.library.index(e.catalog.space("clip")).ntotal == 8
        assert e.check().ok

    _picture(root / "8.png", (90, 90, 10))  # the other machine writes: machine1's snapshot is behind now
    more = subprocess.run([*CLI, "index", str(root), "--model", "toy", "--library", str(lib2), "--json"],
                          env=_env(MMSEARCH_DATABASE_URL=pg_url), capture_output=True, text=True, timeout=180)
    assert more.returncode == 0 and json.loads(more.stdout)["added"] == 1, more.stderr[-2000:]
    assert _pg_counts(pg_url) == (9, 9, 9, 9)
    for lib, current in ((lib1, False), (lib2, True)):
        with Engine(lib, database_url=pg_url, **OFF) as e:
            _, meta = VectorIndex.load(lib / "index" / "clip.index")
            assert ((meta["epoch"], meta["generation"]) == e.catalog.space_generations()["clip"]) == current
            assert e.library.index(e.catalog.space("clip")).ntotal == 9
            assert len(e.search("red", k=20)) == 9
            assert e.check().ok


# -- 7. nothing outside what mmsearch owns is deleted or overwritten ----------------------------------------
def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>" for p in folder.rglob("*")}


def _foreign_folder(tmp_path: Path) -> Path:
    """A folder of the user's that is not a library, holding names ``check --repair`` would treat as its own."""
    folder = tmp_path / "Documents"
    (folder / "index").mkdir(parents=True)
    (folder / "index" / "clip.index").write_bytes(b"my own clip index, not mmsearch's")
    (folder / "index" / "thesis.index").write_text("the index of my thesis")
    (folder / "index" / ".draft.123.tmp").write_text("an editor's temporary file")
    (folder / "letter.txt").write_text("dear ...")
    return folder


def test_check_repair_refuses_a_folder_that_is_not_a_library(tmp_path):
    folder = _foreign_folder(tmp_path)
    before = _tree(folder)
    r = subprocess.run([*CLI, "check", "--repair", "--library", str(folder)], env=_env(), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert f"no mmsearch library at {folder}" in r.stderr
    assert _tree(folder) == before  # nothing deleted, nothing created (no empty catalog either)


@pytest.mark.postgres
def test_check_repair_with_a_shared_catalog_refuses_a_folder_that_is_not_a_library(tmp_path, pg_url):
    """With a PostgreSQL catalog the catalog opens whatever folder is given: the marker is what tells."""
    root = tmp_path / "photos"
    _picture(root / "a.png", (220, 30, 30))
    with Engine(tmp_path / "lib", model="toy", database_url=pg_url, **OFF) as e:
        e.index([root])
    assert (tmp_path / "lib" / ".mmsearch-library").read_text() == "mmsearch library\nformat 1\n"
    folder = _foreign_folder(tmp_path)
    before = _tree(folder)
    r = subprocess.run([*CLI, "check", "--repair", "--library", str(folder)],
                       env=_env(MMSEARCH_DATABASE_URL=pg_url), capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "is not an mmsearch library (it holds no .mmsearch-library file)" in r.stderr
    assert _tree(folder) == before
    assert _pg_counts(pg_url) == (1, 1, 1, 1)


def test_a_library_from_before_markers_gets_one_and_repairs(tmp_path, colour_folder):
    lib = tmp_path / "lib"
    with Engine(lib, model="toy", **OFF) as e:
        e.index([colour_folder])
        files, segments = e.catalog.counts()["media"], e.catalog.counts()["segments"]
    (lib / ".mmsearch-library").unlink()  # as a library written before markers
    (lib / "index" / ".clip.index.999.tmp").write_bytes(b"left by a killed run")
    r = subprocess.run([*CLI, "check", "--repair", "--library", str(lib)], env=_env(), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "deleted stray file .clip.index.999.tmp" in r.stdout
    assert (lib / ".mmsearch-library").read_text() == "mmsearch library\nformat 1\n"
    with Engine(lib, **OFF) as e:
        assert (e.catalog.counts()["media"], e.catalog.counts()["segments"]) == (files, segments)


def test_export_and_thumbs_never_overwrite_without_force(tmp_path, colour_folder):
    lib, playlist, thumbs = tmp_path / "lib", tmp_path / "mine.m3u", tmp_path / "thumbs"
    with Engine(lib, model="toy", **OFF) as e:
        e.index([colour_folder])
    playlist.write_text("my own playlist")
    base = [*CLI, "search", "red", "--top", "3", "--library", str(lib)]
    r = subprocess.run([*base, "--export", "m3u", str(playlist)], env=_env(), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "exists already: nothing written (add --force to overwrite)" in r.stderr
    assert playlist.read_text() == "my own playlist"
    r = subprocess.run([*base, "--export", "m3u", str(playlist), "--force"], env=_env(), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and playlist.read_text().startswith("#EXTM3U"), r.stderr

    r = subprocess.run([*base, "--thumbs", str(thumbs)], env=_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    made = sorted(thumbs.iterdir())
    assert len(made) >= 2  # a preview per picture hit (a note has none)
    made[1].write_bytes(b"edited by hand")
    before = _tree(thumbs)
    r = subprocess.run([*base, "--thumbs", str(thumbs)], env=_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and f"and {len(made) - 1} more exists already" in r.stderr, r.stderr
    assert _tree(thumbs) == before  # not one of them rewritten
    r = subprocess.run([*base, "--thumbs", str(thumbs), "--force"], env=_env(), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and made[1].read_bytes() != b"edited by hand", r.stderr
