"""Faults while writing: a full disk, a read-only library folder, a library folder removed mid-run.

Each gives one clear line (no traceback) and loses nothing that was committed. The disk faults use a
real, small tmpfs the test mounts (root only; skipped with the reason elsewhere).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mmsearch import Engine
from mmsearch.errors import LibraryError

from conftest import COLOURS, mounted_tmpfs, solid


def _cli(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, MMSEARCH_AUDIO_MODEL="off", MMSEARCH_SPEECH_MODEL="off", **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "mmsearch.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.fixture
def small_disk(tmp_path):
    """A 16 MB tmpfs mounted for the test."""
    yield from mounted_tmpfs(tmp_path / "disk", "16m")


def _many_images(root: Path, n: int) -> Path:
    names = sorted(COLOURS)
    for i in range(n):
        solid(root / f"img_{i:04d}.png", names[i % len(names)], (4 + i % 61, 4 + i // 61))
    return root


def _fill(mount: Path, leave: int) -> Path:
    """Fill the disk up to ``leave`` free bytes with one file; returns it (delete it to free the space)."""
    filler = mount / "filler"
    st = os.statvfs(mount)
    free = st.f_bavail * st.f_frsize
    with open(filler, "wb") as fh:
        fh.write(b"\0" * max(0, free - leave))
    return filler


def test_a_full_disk_gives_one_line_and_the_next_run_finishes(small_disk, tmp_path):
    photos = _many_images(tmp_path / "photos", 400)
    lib = small_disk / "lib"
    first = _cli("index", str(photos), "--library", str(lib), "--model", "toy")
    assert first.returncode == 0, first.stderr
    more = _many_images(tmp_path / "more", 3000)
    filler = _fill(small_disk, leave=96 * 1024)
    full = _cli("index", str(photos), str(more), "--library", str(lib), "--model", "toy")
    assert full.returncode == 2
    lines = [ln for ln in full.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "full" in lines[0] and "Traceback" not in full.stderr, full.stderr
    filler.unlink()
    check = _cli("check", "--library", str(lib))
    assert check.returncode == 0, check.stdout + check.stderr
    done = _cli("index", str(photos), str(more), "--library", str(lib), "--model", "toy", "--json")
    assert done.returncode == 0, done.stderr
    with Engine(lib) as e:
        assert e.stats()["files"] == 3400
        assert e.check().ok


def test_a_read_only_library_folder_gives_one_line_and_stays_searchable(small_disk, tmp_path):
    photos = _many_images(tmp_path / "photos", 20)
    lib = small_disk / "lib"
    assert _cli("index", str(photos), "--library", str(lib), "--model", "toy").returncode == 0
    (photos / "new.png").write_bytes((photos / "img_0000.png").read_bytes())
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    refused = _cli("index", str(photos), "--library", str(lib), "--model", "toy")
    assert refused.returncode == 2
    lines = [ln for ln in refused.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and ("read-only" in lines[0] or "cannot write" in lines[0]), refused.stderr
    assert "Traceback" not in refused.stderr
    try:  # still read-only: the library answers searches and passes its check
        found = _cli("search", "red", "--library", str(lib), "--model", "toy", "--json", "-k", "20")
        assert found.returncode == 0, found.stderr
        hits = json.loads(found.stdout)
        assert hits and all(Path(h["path"]).parent == photos for h in hits), hits
        red = {f"img_{i:04d}.png" for i in range(20) if sorted(COLOURS)[i % len(COLOURS)] == "red"}
        assert Path(hits[0]["path"]).name in red, hits  # the search ranks, not just lists
        assert not any(Path(h["path"]).name == "new.png" for h in hits)  # refused: not indexed
        checked = _cli("check", "--library", str(lib))
        assert checked.returncode == 0, checked.stdout + checked.stderr
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    with Engine(lib) as e:
        assert e.stats()["files"] == 20 and e.check().ok


def test_the_library_folder_removed_mid_run_is_one_error_not_a_traceback(tmp_path):
    photos = _many_images(tmp_path / "photos", 120)
    lib = tmp_path / "lib"

    class RemoveMidway:
        seen = 0

        def start(self, total: int) -> None: ...
        def stop(self) -> None: ...

        def advance(self, n: int = 1, path: str | None = None) -> None:
            self.seen += n
            if self.seen == 40:
                shutil.rmtree(lib)

    with pytest.raises(LibraryError) as info:
        with Engine(lib, model="toy", audio_model="off", speech_model="off", batch_size=8) as e:
            e.index([photos], progress=RemoveMidway())
    message = str(info.value)
    assert "\n" not in message and ("disappeared" in message or "removed" in message), message
