"""The unit ring's rules (tests/unit_ring.py): a test under tests/unit/ that loads model weights or starts a
server fails with one line saying so; a ``postgres``-marked test may use the test server; tests elsewhere may
do anything."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import unit_ring

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).resolve().parents[2] / "conftest.py"


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    shutil.copy(CONFTEST, pytester.path / "conftest.py")  # the real registration of the real plugin
    pytester.makeini("[pytest]\nmarkers =\n    postgres: needs PostgreSQL\n")
    for name in ("weights_in_a_call", "weights_at_import", "weights_outside"):
        (pytester.path / f"{name}.py").write_text("LOADED = True\n")
        monkeypatch.setitem(unit_ring.FORBIDDEN, name, "fake weights")
    monkeypatch.syspath_prepend(pytester.path)
    monkeypatch.setattr(unit_ring, "UNIT", pytester.path / "unit")
    monkeypatch.setattr(unit_ring, "_current", [])
    (pytester.path / "unit").mkdir()
    (pytester.path / "e2e").mkdir()
    files = {
        "unit/test_loads.py": "def test_loads_weights():\n    import weights_in_a_call\n\n"
                              "def test_pure():\n    assert 1 + 1 == 2\n",
        "unit/test_at_import.py": "import weights_at_import\n\ndef test_never_runs():\n    pass\n",
        "unit/test_servers.py": "import subprocess\nimport pytest\n\n"
                                "def test_starts_a_server():\n    subprocess.run(['pg_ctl', 'start'])\n\n"
                                "def test_runs_a_tool():\n    subprocess.run(['true', 'index'], check=True)\n\n"
                                "@pytest.mark.postgres\ndef test_marked():\n    subprocess.run(['true', 'postgres'], check=True)\n",
        "e2e/test_anything.py": "import subprocess\n\ndef test_anything():\n    import weights_outside\n"
                                "    subprocess.run(['true', 'serve'], check=True)\n",
    }
    for name, text in files.items():
        (pytester.path / name).write_text(text)
    return pytester


def test_the_unit_ring_fails_weights_and_servers_and_nothing_else(project: pytest.Pytester):
    result = project.inline_run("-p", "no:cacheprovider", "--continue-on-collection-errors")
    failed = {r.nodeid.split("::")[-1]: str(r.longrepr) for r in result.getreports("pytest_runtest_logreport")
              if r.failed}
    passed = {r.nodeid.split("::")[-1] for r in result.getreports("pytest_runtest_logreport")
              if r.when == "call" and r.passed}
    assert set(failed) == {"test_loads_weights", "test_starts_a_server"}
    assert passed - set(failed) == {"test_pure", "test_runs_a_tool", "test_marked", "test_anything"}
    assert "unit ring:" in failed["test_loads_weights"] and "imports weights_in_a_call" in failed["test_loads_weights"]
    assert "starts a server process ('pg_ctl'" in failed["test_starts_a_server"]
    collected = [r for r in result.getreports("pytest_collectreport") if r.nodeid.endswith("test_at_import.py")]
    assert [r.outcome for r in collected] == ["failed"] and "imports weights_at_import" in str(collected[0].longrepr)


@pytest.mark.parametrize("argv, word", [
    (["python", "-m", "mmsearch.cli", "serve", "lib"], "serve"),
    ("python -m mmsearch.cli query-server --library x", "query-server"),
    (["/usr/lib/postgresql/17/bin/pg_ctl", "-D", "d", "start"], "pg_ctl"),
    (["python", "-m", "mmsearch.cli", "index", "photos"], None),
    ([Path("/usr/bin/true")], None),
])
def test_server_commands_are_recognised_in_an_argv(argv, word):
    assert unit_ring._server_argv(argv) == word


def test_make_test_fast_runs_the_unit_ring_and_the_benchmark_times_that_command(monkeypatch: pytest.MonkeyPatch):
    makefile = (Path(__file__).resolve().parents[3] / "Makefile").read_text()
    command = next(line for line in makefile.splitlines()[makefile.splitlines().index("test-fast: $(STAMP)"):]
                   if "pytest" in line)
    assert command.strip().endswith('-m "not postgres and not slow" tests/unit')
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[3] / "benchmarks"))
    import bench_tests

    assert bench_tests.RINGS["unit"][1] == ["-m", "not postgres and not slow", "tests/unit"]
