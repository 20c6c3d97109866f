"""Strict CI (tests/conftest.py): under ``CI=true`` a skip for a missing dependency fails the run; a GPU skip
and an environment skip stay skips; without CI every skip is a skip."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).resolve().parents[2] / "conftest.py"

TESTS = '''
import pytest

def test_dependency():
    pytest.skip("espeak-ng not installed (make test installs it)")

def test_gpu_reason():
    pytest.skip("GPU: needs CUDA")

@pytest.mark.gpu
def test_gpu_mark():
    pytest.skip("needs a CUDA device")

def test_environment():
    pytest.skip("environment: mounting a tmpfs needs root")

@pytest.mark.skipif(True, reason="ray is not installed")
def test_dependency_mark():
    pass

@pytest.mark.xfail(reason="known")
def test_expected_failure():
    assert False

def test_passes():
    pass
'''

MODULE_SKIP = '''
import pytest
pytest.importorskip("no_such_module_mmsearch", reason="the test extra is not installed")

def test_never_runs():
    pass
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copy(CONFTEST, pytester.path / "conftest.py")  # the real hooks, with the real fixtures' imports
    pytester.makeini("[pytest]\nmarkers =\n    gpu: needs a GPU\n")
    pytester.makepyfile(test_skips=TESTS, test_module_skip=MODULE_SKIP)
    return pytester


def _outcomes(result: pytest.HookRecorder) -> dict[str, str]:
    out = {}
    for report in result.getreports("pytest_runtest_logreport"):
        if report.when == "call" or report.outcome != "passed":
            out[report.nodeid.split("::")[-1]] = "xfailed" if hasattr(report, "wasxfail") else report.outcome
    return out


def test_under_ci_a_dependency_skip_fails(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CI", "true")  # a failed module stops the session: keep going to see every test
    result = project.inline_run("-p", "no:cacheprovider", "--continue-on-collection-errors")
    assert _outcomes(result) == {
        "test_dependency": "failed", "test_dependency_mark": "failed",
        "test_gpu_reason": "skipped", "test_gpu_mark": "skipped", "test_environment": "skipped",
        "test_expected_failure": "xfailed", "test_passes": "passed",
    }
    collected = result.getreports("pytest_collectreport")
    assert [r.outcome for r in collected if r.nodeid.endswith("test_module_skip.py")] == ["failed"]
    assert result.ret != 0
    failure = next(r for r in result.getreports("pytest_runtest_logreport")
                   if r.nodeid.endswith("test_dependency") and r.failed)
    assert "espeak-ng not installed" in str(failure.longrepr) and "strict CI" in str(failure.longrepr)


@pytest.mark.parametrize("ci", [None, "", "false"])
def test_without_ci_every_skip_skips(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str | None):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    result = project.inline_run("-p", "no:cacheprovider")
    assert _outcomes(result) == {
        "test_dependency": "skipped", "test_dependency_mark": "skipped",
        "test_gpu_reason": "skipped", "test_gpu_mark": "skipped", "test_environment": "skipped",
        "test_expected_failure": "xfailed", "test_passes": "passed",
    }
    collected = result.getreports("pytest_collectreport")
    assert [r.outcome for r in collected if r.nodeid.endswith("test_module_skip.py")] == ["skipped"]
    assert result.ret == 0


def test_rs_lists_every_skip_reason(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CI", raising=False)
    result = project.runpytest("-p", "no:cacheprovider", "-rs")
    for reason in ["espeak-ng not installed", "GPU: needs CUDA", "environment: mounting", "ray is not installed",
                   "the test extra is not installed"]:
        assert reason in result.stdout.str()
    assert "-rs" in (Path(__file__).resolve().parents[3] / "Makefile").read_text()
