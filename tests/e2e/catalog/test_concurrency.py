"""Concurrency: queries from another process while an index run writes see only committed items and never
fail; a second writer (index, reindex, remove, check --repair) is refused with a clear message and corrupts
nothing. The writer is slowed with ``MMSEARCH_TEST_SLEEP_AT`` (mmsearch/_faults.py) so that the windows
between a batch's transaction and the index update are wide.
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmsearch import Engine

from conftest import COLOURS

PY = sys.executable
N_IMAGES = 48


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMSEARCH_")}
    env.update(MMSEARCH_DEVICE="cpu", MMSEARCH_WORKERS="2", MMSEARCH_BATCH_SIZE="2", **extra)
    return env


def make_corpus(root: Path) -> None:
    names = list(COLOURS)
    rng = np.random.default_rng(0)
    for i in range(N_IMAGES):
        arr = np.zeros((24, 32, 3), np.uint8)
        arr[:, :] = COLOURS[names[i % len(names)]]
        arr[:4, : 1 + i % 32] = rng.integers(0, 255, 3)  # every image a little different
        root.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(root / f"{i:03d}_{names[i % len(names)]}.png")
    (root / "note.txt").write_text("a note about a red roof and a green door")


def start_writer(root: Path, lib: Path, *extra: str, sleep: str = "commit:0.03,apply:0.04", **env: str
                 ) -> subprocess.Popen:
    return subprocess.Popen([PY, "-m", "mmsearch.cli", "index", str(root), "--library", str(lib), "--model", "toy",
                             "--json", *extra], env=_env(MMSEARCH_TEST_SLEEP_AT=sleep, **env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def committed_count(lib: Path) -> int:
    try:
        with sqlite3.connect(f"file:{lib / 'catalog.sqlite3'}?mode=ro", uri=True, timeout=30) as db:
            return db.execute("SELECT COUNT(*) FROM media").fetchone()[0]
    except sqlite3.Error:
        return 0


def wait_for_commits(lib: Path, writer: subprocess.Popen, n: int = 2, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while committed_count(lib) < n:
        assert writer.poll() is None, f"writer ended early: {writer.communicate()}"
        assert time.monotonic() < deadline, "writer made no progress"
        time.sleep(0.05)


_READER = textwrap.dedent("""
    import json, math, os, sys, time
    from mmsearch import Engine
    from mmsearch.errors import MmsearchError

    lib, stop_file = sys.argv[1], sys.argv[2]
    ready_file = sys.argv[3] if len(sys.argv) > 3 else None  # created after the first query
    out = {"iterations": 0, "errors": [], "violations": [], "counts": []}
    engine = None
    deadline = time.monotonic() + 240
    while engine is None:
        try:
            engine = Engine(lib, model="toy", create=False)
        except MmsearchError:
            time.sleep(0.02)  # the writer has not created the catalog yet
    last = 0
    while time.monotonic() < deadline:
        done = os.path.exists(stop_file)
        try:
            hits = engine.search("red", k=1000)
            images = engine.search("a green picture", k=5, kinds=["image"], path="*green*")
            committed = {m.path for m in engine.catalog.all_media()}  # read after the search: a superset
            paths = [h.path for h in hits]
            if len(set(paths)) != len(paths):
                out["violations"].append("duplicate hits")
            if not set(paths) <= committed:
                out["violations"].append(f"uncommitted hits: {sorted(set(paths) - committed)[:3]}")
            if any(not math.isfinite(h.score) for h in hits + images):
                out["violations"].append("non-finite score")
            if any("green" not in h.path for h in images):
                out["violations"].append("path filter broken")
            if len(paths) < last:
                out["violations"].append(f"hits went from {last} to {len(paths)} in a run that only adds")
            last = len(paths)
            out["counts"].append(len(paths))
        except Exception as exc:  # noqa: BLE001 - every error counts
            out["errors"].append(f"{type(exc).__name__}: {exc}")
        out["iterations"] += 1
        if ready_file and out["iterations"] == 1:
            open(ready_file, "w").close()
        if done:
            break
    engine.close()
    print(json.dumps(out))
""")


def test_queries_during_an_index_run_see_only_committed_items(tmp_path):
    root, lib, stop, ready = tmp_path / "corpus", tmp_path / "lib", tmp_path / "stop", tmp_path / "ready"
    make_corpus(root)
    # The writer holds after its first commit until the reader has queried once, so the reader runs
    # during the commits however slowly its process starts.
    writer = start_writer(root, lib, MMSEARCH_TEST_HOLD_AT=f"apply:{ready}")
    reader = subprocess.Popen([PY, "-c", _READER, str(lib), str(stop), str(ready)], env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        w_out, w_err = writer.communicate(timeout=240)
    finally:
        stop.touch()
    r_out, r_err = reader.communicate(timeout=240)
    assert writer.returncode == 0, w_err[-3000:]
    assert reader.returncode == 0, r_err[-3000:]
    report = json.loads(w_out)
    assert report["added"] == N_IMAGES + 1
    seen = json.loads(r_out)
    assert seen["errors"] == [] and seen["violations"] == []
    growing = sorted(set(seen["counts"]))
    print(f"\n{seen['iterations']} queries during the run; hit counts seen: {growing[:5]}...{growing[-3:]}")
    assert seen["iterations"] >= 5 and seen["counts"][-1] == N_IMAGES + 1
    assert len(growing) >= 3  # the reader really ran while the writer was committing
    with Engine(lib) as e:
        assert e.check().ok


def test_second_writer_is_refused_and_nothing_is_corrupted(tmp_path):
    root, lib = tmp_path / "corpus", tmp_path / "lib"
    make_corpus(root)
    go = tmp_path / "go"
    # The writer commits its first batch and then waits, holding the lock, until the test lets it go.
    writer = start_writer(root, lib, sleep="", MMSEARCH_TEST_HOLD_AT=f"apply:{go}")
    try:
        wait_for_commits(lib, writer, n=1)
        tries = [["index", str(root), "--model", "toy"], ["reindex"], ["remove", str(root / "000_red.png")],
                 ["check", "--repair"], ["check", "--json"]]
        procs = [subprocess.Popen([PY, "-m", "mmsearch.cli", *args, "--library", str(lib)], env=_env(COLUMNS="300"),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for args in tries]
        results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
        for args, (out, err, rc) in zip(tries[:-1], results[:-1]):
            assert rc == 2, (args, out, err)
            assert "another mmsearch process is indexing" in err and "Traceback" not in err, err
            assert len(err.strip().splitlines()) == 1, err
        # reading is fine meanwhile, and the library checks out (the snapshot may only lag the catalog)
        out, err, rc = results[-1]
        assert rc == 0 and json.loads(out)["problems"] == [], out + err
        assert writer.poll() is None
        go.touch()
        out, err = writer.communicate(timeout=240)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == 0, err[-3000:]
    assert json.loads(out)["added"] == N_IMAGES + 1
    with Engine(lib) as e:
        assert e.check().ok
        assert sum(e.catalog.counts()["media"].values()) == N_IMAGES + 1
        again = e.index([root])
        assert (again.added, again.unchanged) == (0, N_IMAGES + 1)


def test_two_index_runs_started_together(tmp_path):
    """Whichever takes the lock first indexes everything; the other is refused or finds nothing to do."""
    root, lib = tmp_path / "corpus", tmp_path / "lib"
    make_corpus(root)
    Engine(lib, model="toy").close()  # both find an existing library (creating one is not the race here)
    a = start_writer(root, lib, sleep="apply:0.02")
    b = start_writer(root, lib, sleep="apply:0.02")
    results = [p.communicate(timeout=240) + (p.returncode,) for p in (a, b)]
    codes = sorted(rc for _, _, rc in results)
    assert codes in ([0, 2], [0, 0]), results
    added = 0
    for out, err, rc in results:
        if rc == 2:
            assert "another mmsearch process is indexing" in err and "Traceback" not in err
        else:
            added += json.loads(out)["added"]
    assert added == N_IMAGES + 1  # nothing indexed twice
    with Engine(lib) as e:
        assert e.check().ok
        assert sum(e.catalog.counts()["media"].values()) == N_IMAGES + 1


@pytest.mark.parametrize("n", [3])
def test_many_readers_open_a_library_being_written(tmp_path, n):
    """Several reader processes opening the library while it is written: each replays or loads a snapshot
    consistent with the catalog, never a torn one."""
    root, lib = tmp_path / "corpus", tmp_path / "lib"
    make_corpus(root)
    writer = start_writer(root, lib, sleep="apply:0.03")
    code = ("import sys, json; from mmsearch import Engine\n"
            "out = []\n"
            "for _ in range(8):\n"
            "    with Engine(sys.argv[1], model='toy', create=False) as e:\n"
            "        r = e.check()\n"
            "        out.append([p.message for p in r.problems])\n"
            "print(json.dumps(out))\n")
    try:
        wait_for_commits(lib, writer)
        readers = [subprocess.Popen([PY, "-c", code, str(lib)], env=_env(), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True) for _ in range(n)]
        for r in readers:
            out, err = r.communicate(timeout=240)
            assert r.returncode == 0, err[-3000:]
            assert json.loads(out) and all(problems == [] for problems in json.loads(out)), out
    finally:
        writer.communicate(timeout=240)
    assert writer.returncode == 0
