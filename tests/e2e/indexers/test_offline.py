"""Nothing lost (issue 24, points 1-3): real faults — a loop-mounted ext4 drive unmounted and mounted back,
another drive mounted in its place, a folder unreadable for an unprivileged user, files deleted from an online
root — each asserting exact counts of files, segments and vectors (catalog and index) before and after."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mmsearch import Engine
from mmsearch.cli.web import create_app
from mmsearch.encoders.toy import ToyColorEncoder

from conftest import COLOURS, solid

CLI = [sys.executable, "-m", "cli"]


def _why_no_mount() -> str | None:
    """Why this machine cannot mount a loop ext4 image (None: it can)."""
    if os.geteuid() != 0:
        return "mounting needs root (os.geteuid() != 0)"
    if not shutil.which("mkfs.ext4") or not shutil.which("mount"):
        return "mkfs.ext4 or mount is not installed (Debian: e2fsprogs, mount)"
    with tempfile.TemporaryDirectory() as d:
        img, mnt = Path(d) / "probe.img", Path(d) / "mnt"
        mnt.mkdir()
        done = subprocess.run(f"truncate -s 4M {img} && mkfs.ext4 -q {img} && mount -o loop {img} {mnt} && "
                              f"umount {mnt}", shell=True, capture_output=True, text=True)
        if done.returncode:
            return f"cannot mount a loop ext4 image here: {done.stderr.strip()[:200]}"
    return None


NO_MOUNT = _why_no_mount()
needs_mount = pytest.mark.skipif(NO_MOUNT is not None, reason=NO_MOUNT or "")


def _sh(cmd: str) -> None:
    subprocess.run(cmd, shell=True, check=True, capture_output=True)


class Drive:
    """A loop-mounted ext4 image: a removable drive that can be unplugged and plugged back."""

    mounted: list[Path] = []  # every mount point used, unmounted after each test (the `_unmount_all` fixture)

    def __init__(self, base: Path, name: str) -> None:
        self.image = base / f"{name}.img"
        _sh(f"truncate -s 8M {self.image} && mkfs.ext4 -q {self.image}")

    def mount(self, at: Path) -> None:
        _sh(f"mount -o loop {self.image} {at}")
        Drive.mounted.append(at)

    @staticmethod
    def unmount(at: Path) -> None:
        _sh(f"umount {at}")


@pytest.fixture(autouse=True)
def _unmount_all():
    yield
    while Drive.mounted:
        at = Drive.mounted.pop()
        for _ in range(3):  # mounted twice at one place: unmount both
            if os.path.ismount(at):
                subprocess.run(["umount", str(at)], check=False)


@pytest.fixture
def mount_point(tmp_path):
    at = tmp_path / "drive"
    at.mkdir()
    return at


def _counts(e: Engine) -> tuple[int, int, int, int]:
    """(files, segments, vectors in the catalog, vectors in the index) of the clip space."""
    s = e.stats()
    clip = next(sp for sp in s["spaces"] if sp["name"] == "clip")
    return s["files"], sum(s["segments"].values()), clip["vectors"], clip["indexed"]


@pytest.fixture
def encoded(monkeypatch) -> list[int]:
    """How many pictures the toy encoder embedded (one entry per batch: its size)."""
    calls: list[int] = []
    real = ToyColorEncoder.encode_prepared

    def counting(self, prepared):
        calls.append(len(prepared))
        return real(self, prepared)

    monkeypatch.setattr(ToyColorEncoder, "encode_prepared", counting)
    return calls


def _hit(e: Engine, colour: str, root: Path):
    hits = [h for h in e.search(colour, k=20) if h.path.startswith(str(root))]
    return next(h for h in hits if Path(h.path).stem == colour)


@needs_mount
def test_an_unmounted_drive_is_offline_and_nothing_is_re_embedded_when_it_is_back(tmp_path, mount_point, encoded):
    lib = tmp_path / "lib"
    drive = Drive(tmp_path, "photos")
    drive.mount(mount_point)
    for name in COLOURS:
        solid(mount_point / f"{name}.png", name)
    with Engine(lib, model="toy") as e:
        first = e.index([mount_point])
        assert (first.added, first.removed) == (5, 0)
        assert _counts(e) == (5, 5, 5, 5)
    assert sum(encoded) == 5
    Drive.unmount(mount_point)
    assert os.listdir(mount_point) == []

    # The drive is gone: the plain CLI run (no paths: the recorded roots) keeps everything, says offline.
    env = {**os.environ, "MMSEARCH_MODEL": "toy"}
    run = subprocess.run([*CLI, "index", "--library", str(lib), "--json"], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert (report["removed"], report["missing"], report["added"]) == (0, 0, 0)
    assert [(o["path"], o["files"]) for o in report["offline"]] == [(str(mount_point), 5)]
    assert "empty" in report["offline"][0]["why"]
    stats = subprocess.run([*CLI, "stats", "--library", str(lib), "--json"], capture_output=True, text=True, env=env)
    place = json.loads(stats.stdout)["places"]
    assert [(p["path"], p["state"], p["files"], p["missing"]) for p in place] == [(str(mount_point), "offline", 5, 0)]
    with Engine(lib, model="toy") as e:
        assert _counts(e) == (5, 5, 5, 5)
        hit = _hit(e, "red", mount_point)
        assert hit.offline and not hit.missing and hit.to_dict()["offline"] is True
        with TestClient(create_app(e.context), base_url="http://127.0.0.1") as client:  # the HTTP API says so too
            found = client.get("/api/search", params={"q": "red", "k": 20}).json()["hits"]
            assert {h["name"]: h["offline"] for h in found} == {f"{n}.png": True for n in COLOURS}
        again = e.index()  # and again: still nothing forgotten, however many runs
        assert (again.removed, _counts(e)) == (0, (5, 5, 5, 5))

    drive.mount(mount_point)
    with Engine(lib, model="toy") as e:
        back = e.index()
        assert (back.unchanged, back.added, back.updated, back.removed, back.offline) == (5, 0, 0, 0, [])
        assert _counts(e) == (5, 5, 5, 5)
        assert not _hit(e, "red", mount_point).offline
        assert e.stats()["places"][0]["state"] == "online"
    assert sum(encoded) == 5  # the first run's five pictures: nothing embedded again


@needs_mount
def test_another_drive_mounted_in_its_place_is_offline(tmp_path, mount_point):
    lib = tmp_path / "lib"
    Drive(tmp_path, "photos").mount(mount_point)
    for name in COLOURS:
        solid(mount_point / f"{name}.png", name)
    with Engine(lib, model="toy") as e:
        e.index([mount_point])
        assert _counts(e) == (5, 5, 5, 5)
    Drive.unmount(mount_point)
    Drive(tmp_path, "other").mount(mount_point)  # another drive, other files (one of the same name)
    solid(mount_point / "red.png", "blue", (40, 40))
    solid(mount_point / "holiday.png", "green")
    assert os.stat(mount_point).st_dev != os.stat(tmp_path).st_dev
    with Engine(lib, model="toy") as e:
        report = e.index()
        assert (report.removed, report.missing, report.added, report.updated) == (0, 0, 0, 0)
        assert [(o["files"], "another device" in o["why"]) for o in report.offline] == [(5, True)]
        assert _counts(e) == (5, 5, 5, 5)
        assert _hit(e, "green", mount_point).offline


def _as_nobody(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *CLI, *args],
                          capture_output=True, text=True, env=env, cwd=str(Path(__file__).parents[3]))


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root and setpriv to run the index as the unprivileged user nobody")
def test_an_unreadable_folder_keeps_its_files_and_the_error_is_retried(tmp_path):
    base = Path(tempfile.mkdtemp(prefix="mmsearch-nobody-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        root, lib, home = base / "photos", base / "lib", base / "home"
        for name in ("red", "green"):
            solid(root / "open" / f"{name}.png", name)
        for name in ("blue", "yellow", "purple"):
            solid(root / "locked" / f"{name}.png", name)
        for folder in (lib, home):
            folder.mkdir()
            shutil.chown(folder, "nobody", "nogroup")
        env = {"PATH": os.environ["PATH"], "HOME": str(home), "MMSEARCH_MODEL": "toy", "MMSEARCH_OCR_MODEL": "off",
               "XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data"), "HF_HUB_OFFLINE": "1"}

        def index() -> dict:
            done = _as_nobody("index", "--library", str(lib), "--json", env=env)
            assert done.returncode == 0, done.stderr
            return json.loads(done.stdout)

        def counts() -> tuple[int, int, int]:
            s = json.loads(_as_nobody("stats", "--library", str(lib), "--json", env=env).stdout)
            return s["files"], sum(s["segments"].values()), s["spaces"][0]["vectors"]

        first = _as_nobody("index", str(root), "--library", str(lib), "--json", env=env)
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout)["added"] == 5 and counts() == (5, 5, 5)

        os.chmod(root / "locked", 0)
        os.chmod(root / "open" / "green.png", 0)  # and one file that cannot be opened
        locked = index()
        assert (locked["removed"], locked["missing"], locked["failed"]) == (0, 0, 2)
        assert [(o["path"], o["files"]) for o in locked["offline"]] == [(str(root / "locked"), 3)]
        assert counts() == (5, 5, 5)
        errors = json.loads(_as_nobody("errors", "--library", str(lib), "--json", env=env).stdout)
        assert sorted((e["path"], e["message"].lower()) for e in errors) == [
            (str(root / "locked"), "permission denied"), (str(root / "open" / "green.png"), "permission denied")]
        found = json.loads(_as_nobody("search", "blue", "--library", str(lib), "--json", env=env).stdout)
        assert next(h for h in found if h["path"].endswith("blue.png"))["offline"] is True
        assert index()["removed"] == 0 and counts() == (5, 5, 5)  # a second run: still kept

        os.chmod(root / "locked", 0o755)
        os.chmod(root / "open" / "green.png", 0o644)
        back = index()
        assert (back["unchanged"], back["added"], back["removed"], back["failed"], back["offline"]) == (5, 0, 0, 0, [])
        assert counts() == (5, 5, 5)
        assert json.loads(_as_nobody("errors", "--library", str(lib), "--json", env=env).stdout) == []

        os.chmod(root, 0)  # the root itself: offline, its error recorded, nothing removed
        whole = index()
        assert (whole["removed"], whole["missing"], whole["failed"]) == (0, 0, 1)
        assert [(o["path"], o["files"]) for o in whole["offline"]] == [(str(root), 5)]
        assert counts() == (5, 5, 5)
        errors = json.loads(_as_nobody("errors", "--library", str(lib), "--json", env=env).stdout)
        assert [e["path"] for e in errors] == [str(root)]
        os.chmod(root, 0o755)
        assert (index()["unchanged"], counts()) == (5, (5, 5, 5))
    finally:
        subprocess.run(["chmod", "-R", "u+rwx", str(base)], check=False)
        shutil.rmtree(base, ignore_errors=True)


def _ten(root: Path) -> list[Path]:
    return [solid(root / f"{name}_{size}.png", name, (size, size)) for name in COLOURS for size in (16, 32)]


def test_deleted_files_are_missing_for_the_grace_runs_then_forgotten(tmp_path):
    root = tmp_path / "photos"
    files = _ten(root)
    with Engine(tmp_path / "lib", model="toy") as e:
        assert e.index([root]).added == 10
        files[0].unlink()  # red_16: 10 % of the root
        for run in (1, 2):  # missing_grace_runs = 2: kept, searchable, marked missing
            report = e.index()
            assert (report.missing, report.removed) == (1, 0), run
            assert _counts(e) == (10, 10, 10, 10)
            assert e.stats()["places"][0]["missing"] == 1
        hit = next(h for h in e.search("red", k=20) if h.path == str(files[0]))
        assert hit.missing and not hit.offline and hit.to_dict()["missing"] is True
        third = e.index()
        assert (third.missing, third.removed) == (0, 1)
        assert _counts(e) == (9, 9, 9, 9)


def test_a_file_back_or_moved_while_missing_keeps_its_vectors(tmp_path, encoded):
    root = tmp_path / "photos"
    files = _ten(root)
    with Engine(tmp_path / "lib", model="toy") as e:
        e.index([root])
        seg_ids = {h.path: h.segment_id for h in e.search("red", k=20)}
        held = tmp_path / "aside.png"
        shutil.move(files[0], held)
        assert e.index().missing == 1
        shutil.move(held, files[0])  # back, unchanged: no longer missing
        back = e.index()
        assert (back.missing, back.unchanged, back.added, back.removed) == (0, 10, 0, 0)
        assert e.stats()["places"][0]["missing"] == 0
        shutil.move(files[1], tmp_path / "aside.png")
        assert e.index().missing == 1
        (root / "sub").mkdir()
        shutil.move(tmp_path / "aside.png", root / "sub" / "red_32.png")
        moved = e.index()  # a run later, at a new path: a move, its vectors kept
        assert (moved.moved, moved.added, moved.removed, moved.missing) == (1, 0, 0, 0)
        assert _counts(e) == (10, 10, 10, 10)
        assert {h.path: h.segment_id for h in e.search("red", k=20)}[str(root / "sub" / "red_32.png")] \
            == seg_ids[str(files[1])]
    assert sum(encoded) == 10


def test_one_run_never_forgets_more_than_the_share_bound_without_prune(tmp_path):
    root = tmp_path / "photos"
    files = _ten(root)
    lib = tmp_path / "lib"
    with Engine(lib, model="toy") as e:
        e.index([root])
        for f in files[:3]:  # 30 % of the root, over the 20 % bound
            f.unlink()
        for _ in range(2):
            assert e.index().missing == 3
        kept = e.index()
        assert (kept.missing, kept.removed) == (3, 0)
        assert [w for w in kept.warnings if "kept 3 files gone from" in w and "30 %" in w] != []
        assert _counts(e) == (10, 10, 10, 10)
    env = {**os.environ, "MMSEARCH_MODEL": "toy"}
    run = subprocess.run([*CLI, "index", "--library", str(lib)], capture_output=True, text=True, env=env)
    assert run.returncode == 0 and "kept 3 files gone from" in run.stderr, run.stderr
    pruned = subprocess.run([*CLI, "index", "--prune", "--library", str(lib), "--json"], capture_output=True,
                            text=True, env=env)
    assert pruned.returncode == 0, pruned.stderr
    assert (json.loads(pruned.stdout)["removed"], json.loads(pruned.stdout)["missing"]) == (3, 0)
    with Engine(lib, model="toy") as e:
        assert _counts(e) == (7, 7, 7, 7)


def test_prune_and_remove_forget_at_once(tmp_path):
    root = tmp_path / "photos"
    files = _ten(root)
    with Engine(tmp_path / "lib", model="toy") as e:
        e.index([root])
        files[0].unlink()
        assert (e.index(prune=True).removed, _counts(e)) == (1, (9, 9, 9, 9))
        assert e.remove([files[1]]) == 1 and _counts(e) == (8, 8, 8, 8)


@needs_mount
def test_a_drive_mounted_inside_a_root_is_a_place_of_its_own(tmp_path, encoded):
    root = tmp_path / "photos"
    solid(root / "red.png", "red")
    usb = root / "usb"
    usb.mkdir()
    drive = Drive(tmp_path, "usb")
    drive.mount(usb)
    for name in ("green", "blue", "yellow"):
        solid(usb / "trip" / f"{name}.png", name)
    with Engine(tmp_path / "lib", model="toy") as e:
        assert e.index([root]).added == 4
        Drive.unmount(usb)  # 3 of 4 files gone at once, the mount point left empty
        for _ in range(4):  # past the grace runs: still nothing forgotten
            report = e.index()
            assert (report.removed, report.missing, report.unchanged) == (0, 0, 1)
            assert [(o["path"], o["files"]) for o in report.offline] == [(str(usb), 3)]
            assert _counts(e) == (4, 4, 4, 4)
        assert _hit(e, "green", root).offline and not _hit(e, "red", root).offline
        drive.mount(usb)
        back = e.index()
        assert (back.unchanged, back.added, back.removed, back.offline) == (4, 0, 0, [])
        assert _counts(e) == (4, 4, 4, 4)
    assert sum(encoded) == 4


def test_an_old_library_migrates_and_its_moved_away_folder_is_offline(v1_library, tmp_path):
    lib, media = v1_library
    with Engine(lib, model="toy") as e:
        first = e.index([media])
        assert (first.unchanged, first.added, first.removed) == (4, 0, 0)
        before = _counts(e)
        assert before[0] == 4
        shutil.move(media, tmp_path / "elsewhere")  # the drive's folder is not there
        gone = e.index()
        assert (gone.removed, gone.missing) == (0, 0)
        assert [(o["path"], o["files"], "not found" in o["why"]) for o in gone.offline] == [(str(media), 4, True)]
        assert _counts(e) == before
        shutil.move(tmp_path / "elsewhere", media)
        back = e.index()
        assert (back.unchanged, back.added, back.updated, back.removed, back.offline) == (4, 0, 0, 0, [])
        assert _counts(e) == before


def test_the_page_shows_offline_hits_with_a_badge_and_does_not_open_them(tmp_path):
    """A real browser (Chromium via Playwright, as tests/test_web_e2e.py): the drive's folder is gone."""
    import socket
    import threading
    import time

    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright (the test extra) is not installed")
    from test_web_e2e import CHROMIUM, CHROMIUM_ARGS
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs the system Chromium (apt-get install chromium)")
    import uvicorn

    root = tmp_path / "drive" / "photos"
    for name in COLOURS:
        solid(root / f"{name}.png", name)
    solid(tmp_path / "here" / "red_here.png", "red")
    engine = Engine(tmp_path / "lib", model="toy")
    engine.index([root, tmp_path / "here"])
    shutil.move(tmp_path / "drive", tmp_path / "unplugged")
    assert [o["files"] for o in engine.index().offline] == [5]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(engine.context), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
            time.sleep(0.05)
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            pg = browser.new_page()
            pg.set_default_timeout(15_000)
            pg.goto(f"http://127.0.0.1:{sock.getsockname()[1]}/#q=red")
            pg.wait_for_selector(".hit")
            if pg.locator("button.weaker").count():
                pg.click("button.weaker")
            cards = {c.get_attribute("data-path"): c for c in pg.locator(".hit").all()}
            assert cards[str(root / "red.png")].locator(".presence").inner_text() == "offline"
            assert cards[str(tmp_path / "here" / "red_here.png")].locator(".presence").count() == 0
            cards[str(root / "red.png")].click()
            assert "offline" in pg.locator("#viewer .unavailable").inner_text()
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        engine.close()


def test_the_grace_rule_counts_runs_and_days_and_the_share_bound():
    import dataclasses
    import datetime as dt

    from mmsearch.config import Settings
    from mmsearch.presence import due, over_share

    now = dt.datetime(2026, 1, 10)
    runs = Settings(missing_grace_runs=2)
    assert [due(before, now, runs, now) for before in (None, 1, 2)] == [False, False, True]  # the 3rd run forgets
    days = dataclasses.replace(runs, missing_grace_days=7)
    assert not due(5, now - dt.timedelta(days=6), days, now) and due(5, now - dt.timedelta(days=7), days, now)
    assert due(None, None, dataclasses.replace(runs, missing_grace_runs=0), now)  # no grace: forgotten at once
    assert [over_share(n, 10, runs) for n in (1, 2, 3)] == [False, False, True]  # 20 % of 10: 2 may go
