"""Nothing lost (issue 24, points 4-7): a re-embed that could not redo every file does not swap, one writer
across machines on a shared PostgreSQL catalog, a snapshot names the exact catalog state it reflects, a
read-only library sees what a killed writer committed, and ``check --repair`` / ``--thumbs`` / ``--export``
touch nothing they do not own. Every fault is real: a folder moved away mid-run, two processes, SIGKILL, a
read-only mount, a catalog copied back from before (a power cut). See docs/reliability.md, "Guarantees"."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from test_crash import consistent, make_corpus, queries_work, raw_committed, run_killed

from mmsearch import Engine
from mmsearch.kinds import Space

from conftest import solid

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
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


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
