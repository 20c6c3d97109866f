"""A watched folder (indexers/watch.py, `mmsearch watch`): a file dropped in is searchable soon after it stops
changing, one still being written is waited for, moves keep their vectors, deletions drop the file, temporary
and hidden files are left alone, and a watcher SIGKILLed and started again catches up.

The watcher runs as a real `mmsearch watch` process (toy encoder, quiet time below a second); the tests read
its library's catalog (SQLite, read-only) while it runs.
"""
from __future__ import annotations

import io
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
from PIL import Image

from mmsearch import Engine

from conftest import COLOURS, solid

QUIET = 0.8  # the watcher's quiet time in these tests (default 2 s)
SEARCHABLE_WITHIN = 10.0  # seconds after a file's last write (the bound)


class WatchProcess:
    """`mmsearch watch ROOT` in a subprocess; its stdout lines are collected as they come."""

    def __init__(self, lib: Path, root: Path, *, command: tuple[str, ...] = (), **env_extra: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MMSEARCH_")}
        env.update(MMSEARCH_OCR_MODEL="off", MMSEARCH_DEVICE="cpu", MMSEARCH_WORKERS="2", **env_extra)
        command = command or ("watch", str(root), "--model", "toy")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mmsearch.cli", *command, "--library", str(lib), "--quiet-time", str(QUIET)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.errors: list[str] = []
        threading.Thread(target=self._read, args=(self.proc.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, self.errors), daemon=True).start()

    @staticmethod
    def _read(stream, into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    def wait_ready(self, timeout: float = 120) -> None:
        """Until the catch-up run has reported (its line names the watched folder)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.lines) >= 2:  # "watching ..." and the catch-up's report
                return
            assert self.proc.poll() is None, f"watcher exited: {self.errors}"
            time.sleep(0.1)
        raise AssertionError(f"watcher not ready: {self.lines} {self.errors}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)


def _media(lib: Path) -> dict[str, tuple[int, int]]:
    """path -> (media id, segment count) of what the library holds now (nothing while it is being created)."""
    try:
        with closing(sqlite3.connect(f"file:{lib / 'catalog.sqlite3'}?mode=ro", uri=True, timeout=10)) as db:
            rows = db.execute("SELECT m.id, m.path, COUNT(s.id) FROM media m LEFT JOIN segment s "
                              "ON s.media_id = m.id GROUP BY m.id").fetchall()
    except sqlite3.OperationalError:
        return {}
    return {path: (mid, n) for mid, path, n in rows}


def _missing(lib: Path) -> set[str]:
    """Paths the library keeps as missing (gone from disk, not forgotten yet: mmsearch/presence.py)."""
    with closing(sqlite3.connect(f"file:{lib / 'catalog.sqlite3'}?mode=ro", uri=True, timeout=10)) as db:
        return {p for (p,) in db.execute("SELECT path FROM media WHERE missing_since IS NOT NULL")}


def _until(predicate, timeout: float, what: str) -> float:
    """Poll ``predicate`` until true; the monotonic time it became true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout:.0f}s: {what}")


def _png(colour: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), COLOURS[colour]).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def watched(tmp_path):
    root = tmp_path / "photos"
    solid(root / "red.png", "red")
    solid(root / "green.png", "green")
    lib = tmp_path / "lib"
    proc = WatchProcess(lib, root)
    yield proc, root, lib
    if proc.proc.poll() is None:
        proc.kill()


@pytest.mark.slow
def test_a_dropped_file_is_searchable_soon_after_its_last_write(watched):
    proc, root, lib = watched
    proc.wait_ready()
    assert {Path(p).name for p in _media(lib)} == {"red.png", "green.png"}  # the catch-up run

    data = _png("blue")
    step = max(1, len(data) // 5)
    target = root / "drop" / "blue.png"
    target.parent.mkdir()
    with open(target, "wb") as fh:  # a slow copy: pauses shorter than the quiet time
        for i in range(0, len(data), step):
            fh.write(data[i:i + step])
            fh.flush()
            time.sleep(QUIET / 4)
    last_write = time.monotonic()
    (root / "drop" / "half.png.part").write_bytes(data[:20])  # a download in flight: never looked at
    (root / ".hidden.png").write_bytes(data)

    seen = _until(lambda: _media(lib).get(str(target), (0, 0))[1] > 0, 30, "blue.png indexed")
    print(f"searchable {seen - last_write:.2f}s after the last write (quiet time {QUIET}s)")
    assert seen - last_write < SEARCHABLE_WITHIN
    _until(lambda: any("blue.png" in line for line in proc.lines), 10, "the run's report line")
    runs = [line for line in proc.lines if "blue.png" in line]
    assert len(runs) == 1 and "added 1" in runs[0] and "failed" not in runs[0], proc.lines  # not half-written
    with Engine(lib, create=False) as engine:
        assert engine.search("blue", k=1)[0].path == str(target)
        assert engine.errors() == []

    (root / "drop" / "done.png.crdownload").write_bytes(_png("yellow"))  # a download that finishes:
    (root / "drop" / "done.png.crdownload").rename(root / "drop" / "done.png")  # renamed to its real name
    _until(lambda: str(root / "drop" / "done.png") in _media(lib), 30, "the finished download indexed")

    red_id = _media(lib)[str(root / "red.png")][0]
    (root / "sub").mkdir()
    shutil.move(root / "red.png", root / "sub" / "moved_red.png")
    (root / "green.png").unlink()
    _until(lambda: str(root / "sub" / "moved_red.png") in _media(lib) and str(root / "green.png") in _missing(lib),
           30, "move and delete seen")
    held = _media(lib)
    assert held[str(root / "sub" / "moved_red.png")][0] == red_id, proc.lines + proc.errors  # moved: vectors kept
    # the deleted file is kept as missing for the grace runs, as an index run keeps it
    assert set(held) == {str(target), str(root / "drop" / "done.png"), str(root / "sub" / "moved_red.png"),
                         str(root / "green.png")}
    assert _missing(lib) == {str(root / "green.png")}
    assert proc.stop() == 0
    assert proc.lines[-1] == "stopped"


@pytest.mark.slow
def test_a_killed_watcher_catches_up_when_started_again(watched, tmp_path):
    proc, root, lib = watched
    proc.wait_ready()
    proc.kill()  # SIGKILL: no goodbye
    solid(root / "new" / "yellow.png", "yellow")
    (root / "red.png").unlink()
    solid(root / "green.png", "purple")  # changed in place
    os.utime(root / "green.png", (2e9, 2e9))

    again = WatchProcess(lib, root)
    try:
        again.wait_ready()
        held = _media(lib)
        assert set(held) == {str(root / "green.png"), str(root / "new" / "yellow.png"), str(root / "red.png")}
        assert _missing(lib) == {str(root / "red.png")}  # deleted while down: kept as missing, like `index`
        with Engine(lib, create=False) as engine:
            assert engine.search("purple", k=1)[0].path == str(root / "green.png")
        solid(root / "blue.png", "blue")  # and it keeps watching
        _until(lambda: str(root / "blue.png") in _media(lib), 30, "blue.png indexed after the restart")
        assert again.stop() == 0
    finally:
        if again.proc.poll() is None:
            again.kill()


@pytest.mark.slow
def test_sigterm_finishes_the_file_in_hand_and_exits_0(tmp_path):
    root = tmp_path / "photos"
    names = [f"{c}_{i}.png" for c in COLOURS for i in range(3)]
    for i, name in enumerate(names):
        solid(root / name, name.split("_")[0], (40 + i, 30))
    lib = tmp_path / "lib"
    # one file a batch, half a second each: the catch-up run is still going when the signal comes
    proc = WatchProcess(lib, root, MMSEARCH_BATCH_SIZE="1", MMSEARCH_TEST_SLEEP_AT="apply:0.5")
    try:
        _until(lambda: len(_media(lib)) >= 2, 120, "the first files indexed")
        proc.proc.send_signal(signal.SIGTERM)
        assert proc.proc.wait(timeout=30) == 0, proc.errors
    finally:
        if proc.proc.poll() is None:
            proc.kill()
    held = _media(lib)
    assert 2 <= len(held) < len(names) and all(n > 0 for _, n in held.values())
    _until(lambda: proc.lines and proc.lines[-1] == "stopped", 5, "the goodbye line")
    with Engine(lib, create=False) as engine:
        assert engine.check().ok  # what was committed is whole: catalog and index agree


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_watch_answers_searches_and_indexes_new_files(tmp_path):
    pytest.importorskip("uvicorn", reason="the web extra (uvicorn) is not installed")
    import httpx

    root = tmp_path / "photos"
    solid(root / "red.png", "red")
    lib = tmp_path / "lib"
    with Engine(lib, model="toy") as engine:
        engine.index([root])
    port = _free_port()
    proc = WatchProcess(lib, root, command=("serve", "--watch", "--port", str(port)))
    base = f"http://127.0.0.1:{port}"

    def paths(query: str) -> list[str]:
        try:
            r = httpx.get(f"{base}/api/search", params={"q": query, "k": 5}, timeout=5)
        except httpx.HTTPError:
            return []
        return [h["path"] for h in r.json()["hits"]] if r.status_code == 200 else []

    try:
        _until(lambda: str(root / "red.png") in paths("red"), 120, "the server answers")
        solid(root / "new" / "blue.png", "blue")
        _until(lambda: str(root / "new" / "blue.png") in paths("blue"), 30, "blue.png found through the server")
        proc.proc.send_signal(signal.SIGTERM)
        assert proc.proc.wait(timeout=30) == 0, proc.errors
    finally:
        if proc.proc.poll() is None:
            proc.kill()


def test_watcher_polls_when_the_inotify_watch_limit_is_reached(tmp_path, monkeypatch):
    """In-process: inotify refuses (its watch limit), the watcher says so in one line and polls instead."""
    import errno

    import watchdog.observers

    from mmsearch.indexers.watch import Watcher

    class Exhausted(watchdog.observers.Observer):  # type: ignore[misc,valid-type]
        def start(self):
            raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(watchdog.observers, "Observer", Exhausted)
    root = tmp_path / "photos"
    solid(root / "red.png", "red")
    lib = tmp_path / "lib"
    reports: list[list[str]] = []
    messages: list[str] = []
    with Engine(lib, model="toy") as engine:
        watcher = Watcher(engine.context, [root], quiet_time=0.3, on_message=messages.append,
                          on_report=lambda report, paths: reports.append(paths))
        stop = threading.Event()
        thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
        thread.start()
        try:
            _until(lambda: reports, 60, "catch-up run")
            solid(root / "blue.png", "blue")
            (root / "copy.jpg.crdownload").write_bytes(b"partial")
            (root / "notes~").write_text("editor backup")
            _until(lambda: any(str(root / "blue.png") in paths for paths in reports), 30, "blue.png indexed")
            assert {m.path for m in engine.catalog.all_media()} == {str(root / "red.png"), str(root / "blue.png")}
            assert not any("crdownload" in p or p.endswith("~") for paths in reports for p in paths)
        finally:
            stop.set()
            thread.join(30)
        assert not thread.is_alive()
    assert len(messages) == 1 and "watch limit" in messages[0] and "polling" in messages[0], messages


def test_watcher_leaves_the_library_hidden_and_temporary_files_alone(tmp_path):
    from mmsearch.indexers.watch import Watcher

    root = tmp_path / "photos"
    root.mkdir()
    with Engine(root / "lib", model="toy") as engine:  # a library inside the watched folder
        watcher = Watcher(engine.context, [root])
        for name in ("lib/catalog.sqlite3", ".cache/x.png", "a.png.part", "b.jpg.crdownload", "c.png~", ".d.png"):
            watcher.notice(str(root / name))
        watcher.notice(str(tmp_path / "elsewhere.png"))
        assert watcher.dirty == []
        watcher.notice(str(root / "sub" / "gone.png"))  # a deletion (the file does not exist): kept
        assert watcher.dirty == [str(root / "sub" / "gone.png")]
