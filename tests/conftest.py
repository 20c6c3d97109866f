"""Shared fixtures: generated media with known content, tiny real models, isolated settings.

Strict CI (:func:`pytest_runtest_makereport`): with ``CI=true`` a skipped test *fails*, because everything
``make test`` installs (the extras, Chromium, PostgreSQL, espeak-ng, the bundled models) must be there and a
skip would hide a broken install. Two kinds of skip stay skips, by the start of their reason (or a mark):

- ``GPU...`` (or ``@pytest.mark.gpu``): the test needs a GPU and the machine has none;
- ``environment: ...``: a limit of the machine, not of the install (no root to mount, no capability to drop,
  an architecture without a wheel).

Every other skip names the missing dependency and how ``make test`` installs it. ``pytest -rs`` (the
Makefile's test command) lists every skip reason in the log.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

# Tests live in two rings of folders (tests/unit/<area>/, tests/e2e/<area>/) and share helpers by module name
# (``import media_factory``, ``from test_ocr import slide``): every folder that holds tests is importable from
# any other, whichever files a run selects. Base names are unique (tests/unit/project/test_architecture.py).
TESTS = Path(__file__).resolve().parent
for _folder in sorted({p.parent for p in TESTS.rglob("test_*.py")} - {TESTS}):
    if str(_folder) not in sys.path:
        sys.path.append(str(_folder))

ALLOWED_SKIPS = ("GPU", "environment:")  # reasons that are not a missing dependency (module docstring)


def strict_ci() -> bool:
    """Whether skips for missing dependencies fail the run (``CI`` set to true, as CI services do)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _strict(report: pytest.TestReport | pytest.CollectReport, gpu_marked: bool) -> None:
    """Turn a dependency skip into a failure under strict CI (module docstring)."""
    if not report.skipped or hasattr(report, "wasxfail") or not strict_ci():
        return
    reason = _skip_reason(report)
    if gpu_marked or reason.startswith(ALLOWED_SKIPS):
        return
    report.outcome = "failed"
    report.longrepr = (f"strict CI (CI=true): skipped for a missing dependency, which make test installs: {reason}"
                       "\n(a skip that is not a missing dependency says so: reason 'GPU...' or 'environment: ...')")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    _strict(outcome.get_result(), item.get_closest_marker("gpu") is not None)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    outcome = yield  # a module-level importorskip skips the whole file at collection
    _strict(outcome.get_result(), False)


def pytest_configure(config: pytest.Config) -> None:
    """The unit ring's rules (tests/unit_ring.py: no servers, no model weights) act on tests under tests/unit/."""
    import unit_ring

    if not config.pluginmanager.is_registered(unit_ring):
        config.pluginmanager.register(unit_ring, "mmsearch-unit-ring")


# No test may reach a model hub: on a user's machine these would download; here they must fail fast.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 180, 40),
    "blue": (30, 60, 220),
    "yellow": (240, 230, 40),
    "purple": (130, 40, 170),
}


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    """No user config, library or model setting leaks into a test."""
    for key in list(os.environ):
        if key.startswith("MMSEARCH_"):
            monkeypatch.delenv(key)
    # OCR costs a detector pass per picture: the tests that are about it turn it on (tests/test_ocr*.py)
    monkeypatch.setenv("MMSEARCH_OCR_MODEL", "off")
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))


def solid(path: Path, colour: str, size=(64, 48)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, COLOURS[colour]).save(path)
    return path


@pytest.fixture
def colour_folder(tmp_path) -> Path:
    """Solid-colour images with known names, a caption sidecar and a note."""
    root = tmp_path / "photos"
    for name in COLOURS:
        solid(root / f"{name}.png", name)
    solid(root / "nested" / "deeper" / "blue_2.jpg", "blue", (80, 80))
    (root / "red.txt").write_text("a red square")
    (root / "notes.md").write_text("A short note about a yellow sun.\n")
    return root


@pytest.fixture
def video_samplings(monkeypatch) -> list[str]:
    """The paths the OCR side sampled a video again for (a spy around the real FrameSampler of
    indexers/kinds/video/text.py, as ``Engine.index`` runs it: ``mmsearch.indexers``, the one copy tests import,
    test_one_copy.py); no frames kept from earlier tests wait for the OCR pass."""
    import mmsearch.indexers.kinds.video.text as video_text

    calls: list[str] = []
    real = video_text.FrameSampler

    class Counted(real):  # type: ignore[misc,valid-type]
        def __init__(self, path, *args, **kwargs):
            calls.append(str(path))
            super().__init__(path, *args, **kwargs)

    monkeypatch.setattr(video_text, "FrameSampler", Counted)
    monkeypatch.setattr(video_text, "_waiting", type(video_text._waiting)())
    return calls


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> str:
    """A tiny random-init open_clip model saved as config JSON + checkpoint: spec CONFIG.json:CKPT."""
    import open_clip
    import torch

    folder = tmp_path_factory.mktemp("tiny_clip")
    config = {
        "embed_dim": 32,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    }
    cfg_path = folder / "mmsearch-tiny.json"
    cfg_path.write_text(json.dumps(config))
    open_clip.add_model_config(cfg_path)
    torch.manual_seed(0)
    model = open_clip.create_model("mmsearch-tiny")
    ckpt = folder / "tiny.pt"
    torch.save({"state_dict": model.state_dict()}, ckpt)
    return f"{cfg_path}:{ckpt}"


# --------------------------------------------------------------------------------------------------
# PostgreSQL: a real server for the backend tests (tests/e2e/catalog/test_backends.py), started once per session
# from Debian's binaries (.ci/system-deps.sh installs them), on a free localhost port, data in a temp dir.
import glob  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import uuid  # noqa: E402


def _pg_bindir() -> str | None:
    def version(p: str) -> float:
        try:
            return float(p.split("/")[4])
        except (IndexError, ValueError):
            return 0.0

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url():
    """``postgresql+psycopg2://postgres@127.0.0.1:PORT/mmsearch_test`` of a server running for this session."""
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found; .ci/system-deps.sh installs them")
    psycopg2 = pytest.importorskip("psycopg2", reason="psycopg2-binary (the test extra) is not installed")
    base = Path(tempfile.mkdtemp(prefix="mmsearch-pg-"))
    data, sock, log = base / "data", base / "sock", base / "server.log"
    sock.mkdir()
    run_as: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root: run it as the postgres user
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(base, ignore_errors=True)
            pytest.skip("running as root and there is no 'postgres' user (Debian's postgresql package, which .ci/system-deps.sh installs, creates it)")
        for p in (base, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    port = _free_port()

    def pg(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(run_as + list(args), capture_output=True, text=True, timeout=120, cwd=base)

    r = pg(f"{bindir}/initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
    if r.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"initdb failed: {r.stderr[-2000:]}")
    options = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
    r = pg(f"{bindir}/pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start")
    if r.returncode != 0:
        text = log.read_text(errors="replace")[-2000:] if log.exists() else r.stderr
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {text}")
    try:
        conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE mmsearch_test")
        conn.close()
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/mmsearch_test"
    finally:
        pg(f"{bindir}/pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request):
    """A database URL for one test: "" (SQLite in the library folder) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield ""
        return
    yield from fresh_database(request.getfixturevalue("postgres_url"), "t")


def fresh_database(server_url: str, prefix: str):
    """Yield the URL of a new, empty database on the test server of ``server_url``; drop it afterwards."""
    import psycopg2
    from sqlalchemy.engine import make_url

    base = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"  # generated, safe as an identifier
    conn = psycopg2.connect(host=base.host, port=base.port, user=base.username, dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    yield base.set(database=name).render_as_string(hide_password=False)
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


@pytest.fixture(scope="session")
def tiny_clap_dir(tmp_path_factory) -> Path:
    """A randomly initialised CLAP (HTSAT audio tower, RoBERTa text tower) saved like a hub checkpoint."""
    import torch
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor, RobertaTokenizer

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4}
    for ch in sorted(ByteLevel.alphabet()):  # byte-level BPE with no merges: every byte is a token
        vocab.setdefault(ch, len(vocab))
    tokenizer = RobertaTokenizer(vocab=vocab, merges=[])
    config = ClapConfig(
        text_config=dict(
            vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=37, max_position_embeddings=80,
        ),
        audio_config=dict(
            spec_size=256, num_mel_bins=64, window_size=8, patch_size=4, patch_stride=(4, 4), depths=[1, 1],
            num_attention_heads=[1, 2], patch_embeds_hidden_size=16, hidden_size=32, enable_fusion=False,
        ),
        projection_dim=24,
    )  # fmt: skip
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("tiny-clap")
    ClapModel(config).save_pretrained(d)
    # laion/clap-htsat-unfused's feature extractor: 48 kHz, 64 mel bins, 10 s clips, rand_trunc + repeatpad
    ClapProcessor(ClapFeatureExtractor(truncation="rand_trunc"), tokenizer).save_pretrained(d)
    return d


# A real schema-1 library (tests/data/library-v1, written by the code before schema 2), and where it was written.
V1_LIBRARY = Path(__file__).parent / "data" / "library-v1"
V1_WRITTEN_AT = "/tmp/v1src"


@pytest.fixture
def v1_library(tmp_path) -> tuple[Path, Path]:
    """A copy of the schema-1 library whose paths point at its media in ``tmp_path``: (library, media)."""
    lib, media = tmp_path / "lib", tmp_path / "media"
    shutil.copytree(V1_LIBRARY / "media", media)
    lib.mkdir()
    shutil.copy(V1_LIBRARY / "catalog.sqlite3", lib / "catalog.sqlite3")
    shutil.copytree(V1_LIBRARY / "index", lib / "index")
    with sqlite3.connect(lib / "catalog.sqlite3") as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)
        db.execute("UPDATE media SET path = replace(path, ?, ?)", (V1_WRITTEN_AT, str(media)))
    return lib, media


def mounted_tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A real tmpfs of ``size`` (e.g. ``"16m"``) mounted at the new folder ``folder`` for one test, unmounted
    after it (a fixture body: ``yield from mounted_tmpfs(...)``); skipped with an ``environment:`` reason where
    this machine cannot mount (no root, no tmpfs)."""
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("environment: mounting a tmpfs needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True,
                          text=True)
    if made.returncode != 0:
        pytest.skip(f"environment: cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)
