"""``mmsearch check [--repair]`` (mmsearch/integrity.py), damaged libraries through the CLI, file
permissions of a library, and the security properties of the code (no shell; parameterised SQL: tests/test_architecture.py)."""
from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mmsearch import Engine
from mmsearch.vectors import VectorIndex

from conftest import COLOURS, solid

PY = sys.executable
REPO = Path(__file__).resolve().parents[3]


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMSEARCH_")}
    env.update(MMSEARCH_DEVICE="cpu", COLUMNS="400")
    return subprocess.run([PY, "-m", "mmsearch.cli", *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def lib(tmp_path, colour_folder) -> Path:
    lib = tmp_path / "lib"
    with Engine(lib, model="toy") as e:
        e.index([colour_folder])
    return lib


def codes(report) -> set[str]:
    return {p.code for p in report.problems}


def warnings(report) -> set[str]:
    return {w.code for w in report.warnings}


def edit_snapshot(lib: Path, change) -> None:
    """Load the clip snapshot, let ``change(index)`` alter it, save it back under the same epoch."""
    path = lib / "index" / "clip.index"
    idx, meta = VectorIndex.load(path)
    change(idx)
    idx.save(path, {k: v for k, v in meta.items() if k not in ("dim", "epoch", "ntotal")})


def answers_right(lib: Path, colour_folder: Path) -> None:
    with Engine(lib) as e:
        for colour in ("red", "green", "purple"):
            assert e.search(colour, k=1, kinds=["image"])[0].path == str(colour_folder / f"{colour}.png")


def test_a_clean_library_checks_ok(lib, colour_folder):
    with Engine(lib) as e:
        report = e.check()
    assert report.ok and report.problems == [] and report.warnings == []
    assert (report.media, report.segments) == (8, 10)  # 6 images, 2 texts in clip and in the sentence space
    assert report.spaces["clip"]["catalog_vectors"] == 8 == report.spaces["clip"]["index_vectors"]
    assert report.spaces["clip"]["snapshot"]["epoch"] == report.spaces["clip"]["epoch"]
    r = cli("check", "--library", str(lib))
    assert r.returncode == 0 and r.stdout.startswith("ok: 8 files, 10 segments; clip: 8 vectors, text: 2 vectors"), r.stdout + r.stderr
    data = json.loads(cli("check", "--json", "--library", str(lib)).stdout)
    assert data["ok"] is True and data["problems"] == [] and data["spaces"]["clip"]["dim"] > 0


def _extra(idx):  # a vector the catalog does not have
    idx.add([999_999], np.ones((1, idx.dim), np.float32) / np.sqrt(idx.dim))


def _missing(idx):
    idx.remove([int(idx.ids()[0])])


def _duplicate(idx):
    i = int(idx.ids()[0])
    idx.add([i], idx.reconstruct(i)[None, :])


def _wrong_values(idx):  # every vector replaced by the first one's: ids agree, answers do not
    ids = idx.ids()
    first = idx.reconstruct(int(ids[0]))
    idx.remove(ids)
    idx.add(ids, np.repeat(first[None, :], len(ids), axis=0))


@pytest.mark.parametrize("damage, code", [(_extra, "index-extra"), (_missing, "index-missing"),
                                          (_duplicate, "index-duplicates"), (_wrong_values, "index-values")])
def test_index_that_disagrees_with_the_catalog_is_found_and_rebuilt(lib, colour_folder, damage, code):
    edit_snapshot(lib, damage)
    with Engine(lib) as e:
        report = e.check()
        assert code in codes(report) and not report.ok
    if damage is _extra:  # the same through the CLI: exit 1 while problems remain, 0 once repaired
        r = cli("check", "--library", str(lib))
        assert r.returncode == 1 and "problem:" in r.stderr and "check --repair" in r.stdout, r.stdout + r.stderr
        r = cli("check", "--repair", "--library", str(lib))
        assert r.returncode == 0, r.stdout + r.stderr
        assert "repaired: rebuilt index 'clip' from 8 stored vectors" in r.stdout
    else:
        with Engine(lib) as e:
            assert e.check(repair=True).repaired[0] == "rebuilt index 'clip' from 8 stored vectors"
    with Engine(lib) as e:
        assert e.check().ok
    answers_right(lib, colour_folder)


def test_orphans_and_damaged_vectors_are_removed_from_the_catalog(lib, colour_folder):
    with sqlite3.connect(lib / "catalog.sqlite3") as db:
        db.execute("PRAGMA foreign_keys=OFF")
        db.execute("DELETE FROM media WHERE path = ?", (str(colour_folder / "yellow.png"),))  # its segment stays
        green = db.execute("SELECT s.id FROM segment s JOIN media m ON m.id = s.media_id WHERE m.path = ?",
                           (str(colour_folder / "green.png"),)).fetchone()[0]
        dim = db.execute("SELECT dim FROM space").fetchone()[0]
        db.execute("UPDATE segment SET vector = ? WHERE id = ?", (np.full(dim, np.nan, np.float16).tobytes(), green))
        db.execute("INSERT INTO segment (media_id, kind, space_id, vector, parent_id) SELECT media_id, 'frame', NULL, "
                   "NULL, 987654 FROM segment WHERE id = ?", (green,))  # a child of a parent that is not there
    with Engine(lib) as e:
        report = e.check()
        assert codes(report) >= {"orphan-segments", "vector-values", "segments-without-parent"}
        fixed = e.check(repair=True)
        assert fixed.ok, [p.message for p in fixed.problems]
        assert fixed.media == 6  # yellow's row was already gone; green (NaN vector) is forgotten
        assert any("deleted 2 segments" in line for line in fixed.repaired)
        report = e.index([colour_folder])  # ... and both come back with the next index run
        assert report.added == 2 and e.check().ok
    answers_right(lib, colour_folder)


def test_what_the_engine_heals_itself_is_a_warning(lib, colour_folder):
    index_dir = lib / "index"
    (index_dir / ".clip.index.4242.tmp").write_bytes(b"half a snapshot")  # a run killed inside save
    (index_dir / "audio.index").write_bytes(b"left over")
    os.rename(colour_folder / "blue.png", colour_folder.parent / "blue.png")  # gone from disk
    with sqlite3.connect(lib / "catalog.sqlite3") as db:
        db.execute("UPDATE space SET epoch = epoch + 1")  # a commit after the last snapshot
    with Engine(lib) as e:
        report = e.check()
        assert report.ok
        assert warnings(report) == {"stray-temp-file", "unknown-index-file", "missing-files", "snapshot-stale"}
        missing = next(w for w in report.warnings if w.code == "missing-files")
        assert missing.examples == [str(colour_folder / "blue.png")]
        fixed = e.check(repair=True)
        assert warnings(fixed) == {"missing-files"}  # files on disk are the user's business
        assert sorted(p.name for p in index_dir.iterdir()) == ["clip.index", "text.index"]
    (index_dir / "clip.index").write_bytes(b"garbage")
    with Engine(lib) as e:
        assert warnings(e.check()) == {"missing-files", "snapshot-damaged"}
    answers_right(lib, colour_folder)  # replayed transparently


def test_repair_refuses_while_an_index_run_writes(lib):
    from mmsearch import LibraryLockedError

    with Engine(lib) as writer, Engine(lib) as other:
        writer.library.acquire_writer()
        assert other.check().ok  # checking only reads
        with pytest.raises(LibraryLockedError, match="another mmsearch process is indexing"):
            other.check(repair=True)


# -- damaged libraries through the CLI: exit code 2 and one line, never a traceback ----------------------------
def _newer_schema(lib: Path) -> None:
    with sqlite3.connect(lib / "catalog.sqlite3") as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")


def _garbage_catalog(lib: Path) -> None:
    (lib / "catalog.sqlite3").write_bytes(os.urandom(8192))


def _truncated_catalog(lib: Path) -> None:
    path = lib / "catalog.sqlite3"
    path.write_bytes(path.read_bytes()[:5000])


def _index_folder_is_a_file(lib: Path) -> None:
    for p in (lib / "index").iterdir():
        p.unlink()
    (lib / "index").rmdir()
    (lib / "index").write_text("not a folder")


@pytest.mark.parametrize("damage, message", [
    (_newer_schema, "written by a newer mmsearch"),
    (_garbage_catalog, "cannot read catalog"),
    (_truncated_catalog, "cannot read catalog"),
    (_index_folder_is_a_file, "cannot use index folder"),
])
def test_damaged_library_gives_one_clear_line(lib, damage, message):
    damage(lib)
    for args in (["search", "red"], ["check"], ["index", str(lib.parent / "photos")]):
        r = cli(*args, "--library", str(lib))
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert message in r.stderr, r.stderr


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "other-dim"])
def test_corrupt_index_file_is_rebuilt_transparently(lib, colour_folder, damage):
    path = lib / "index" / "clip.index"
    if damage == "garbage":
        path.write_bytes(os.urandom(3000))
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:-100])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        VectorIndex(7).save(path, {"space": "clip", "model_id": "toy:colors-v1"})
    r = cli("search", "red", "--library", str(lib), "--json", "--kind", "image", "--top", "1")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert json.loads(r.stdout)[0]["path"] == str(colour_folder / "red.png")
    with Engine(lib) as e:
        assert e.check(repair=True).warnings == []
        report = e.check()
        assert report.ok and report.warnings == []


# -- permissions ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_library_files_are_private_to_the_user(tmp_path, colour_folder, umask):
    old = os.umask(umask)
    try:
        lib = tmp_path / "lib"
        with Engine(lib, model="toy") as e:
            e.index([colour_folder])
            live = {p.name: stat.S_IMODE(p.stat().st_mode) for p in lib.iterdir()}  # -wal, -shm while open
        files = {p.relative_to(lib).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in lib.rglob("*")}
    finally:
        os.umask(old)
    assert stat.S_IMODE(lib.stat().st_mode) == 0o700
    assert files["index"] == 0o700
    assert {name for name in live if name.startswith("catalog.sqlite3")} >= {"catalog.sqlite3", "catalog.sqlite3-wal",
                                                                            "catalog.sqlite3-shm"}
    for name, mode in list(files.items()) + list(live.items()):
        if name != "index":
            assert mode == 0o600, (name, oct(mode))


# -- security -------------------------------------------------------------------------------------------------------
def _sources() -> list[Path]:
    return [p for folder in ("mmsearch", "indexers", "cli") for p in sorted((REPO / folder).rglob("*.py"))]


# The one module that starts a program: the user's media player (``search --open``), from an argv list.
LAUNCHERS = {"mmsearch/playback.py", "cli/query_client.py"}  # the player; the background query process


def test_no_file_path_is_ever_run_by_a_shell_or_interpreted():
    pattern = re.compile(r"\bsubprocess\b|os\.system|os\.popen|shell\s*=\s*True|(?<![.\w])(eval|exec)\("
                         r"|os\.exec|os\.spawn|pty\.spawn")
    hits = [f"{p.relative_to(REPO)}:{n}: {line.strip()}" for p in _sources()
            if str(p.relative_to(REPO)) not in LAUNCHERS
            for n, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert hits == []
    for name in LAUNCHERS:  # an argv list through Popen/run, never a shell, never os.system & co.
        source = (REPO / name).read_text()
        assert "shell=True" not in source.replace(" ", "") and not re.search(r"os\.(system|popen|exec|spawn)", source)
        assert re.findall(r"subprocess\.(\w+)\(", source) == ["Popen"]


def test_a_hostile_file_name_is_just_a_name(tmp_path):
    root = tmp_path / "photos"
    names = ["'; DROP TABLE media; --.png", 'x"); DELETE FROM segment; --.png', "$(touch pwned).png", "`id`.png",
             "%s %d {0} \\x00.png"]
    for name, colour in zip(names, COLOURS):
        solid(root / name, colour)
    with Engine(tmp_path / "lib", model="toy") as e:
        report = e.index([root])
        assert report.added == len(names) and report.failed == 0
        assert sorted(os.path.basename(m.path) for m in e.catalog.all_media()) == sorted(names)
        assert e.check().ok
        assert len(e.search("red", k=10)) == len(names)
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()
