"""The ledger of published figures (benchmarks/claims.py, docs/claims.toml): `make claims` passes on the real
checkout, and on temporary copies it catches a changed figure, a figure with no source, a hand edit of a
generated section, a results file that moved on, a missing "no results file" mark, a wrong provenance mark and
a reference to a docs section that is gone. No benchmark runs: the results files are read as they are."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").exists())  # wherever tests/ puts it
sys.path.insert(0, str(ROOT / "benchmarks"))
import claims  # noqa: E402

import _common  # noqa: E402


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of what the ledger reads: README.md, docs/ and the results files."""
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    # tmp/ is the benchmarks' scratch (unpacked packages, caches): not results, and may hold broken links
    shutil.copytree(ROOT / "benchmarks" / "results", tmp_path / "benchmarks" / "results",
                    ignore=shutil.ignore_patterns("tmp"))
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) >= 1, f"{old!r} not in {path.name}: the test's premise changed"
    path.write_text(text.replace(old, new, 1))


def _edit_json(path: Path, keys: list, value) -> None:
    data = json.loads(path.read_text())
    node = data
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    path.write_text(json.dumps(data, indent=2))


def test_the_real_checkout_passes() -> None:
    assert claims.check(ROOT) == []


def test_the_ledger_covers_what_the_issue_names() -> None:
    """The sections the issue is about are generated or scanned, and every source names its command."""
    ledger = claims.load(ROOT)
    generated = {f"{g.file}: {g.heading}" for g in ledger.generated}
    assert {"README.md: ## Speed", "docs/benchmarks.md: ## Headline ratios (both sides from one run)"} <= generated
    assert "README.md: ## Quick start" in ledger.scan
    assert all(src.command.startswith(".venv/bin/python benchmarks/") for src in ledger.sources.values())
    assert len(ledger.claims) > 50


def test_a_changed_figure_in_a_scanned_section_is_caught(repo: Path) -> None:
    _edit(repo / "README.md", "1.30 s wall p50", "1.20 s wall p50")
    problems = claims.check(repo)
    assert any("cli_cold_p50_s should read '1.30 s'" in p for p in problems)
    assert any("'1.20 s' has no ledger entry" in p for p in problems)


def test_a_figure_with_no_source_is_caught(repo: Path) -> None:
    _edit(repo / "README.md", "fails at once instead of retrying.",
          "fails at once instead of retrying: `sample_data/` indexes in ~19 s.")
    assert claims.check(repo) == ["README.md: ## Quick start: '~19 s' has no ledger entry (docs/claims.toml)"]


def test_a_quality_figure_with_no_source_is_caught(repo: Path) -> None:
    _edit(repo / "README.md", "fails at once instead of retrying.",
          "fails at once instead of retrying; speech queries find their clip at R@1 0.91.")
    assert claims.check(repo) == ["README.md: ## Quick start: '0.91' has no ledger entry (docs/claims.toml)"]


def test_a_hand_edit_of_a_generated_section_is_caught(repo: Path) -> None:
    _edit(repo / "README.md", "**199x**", "**250x**")
    problems = claims.check(repo)
    assert any(p.startswith("README.md: ## Speed: differs from what `claims.py --write` generates") for p in problems)
    assert "README.md: ## Speed: '250x' has no ledger entry (docs/claims.toml)" in problems


def test_a_results_file_that_moved_on_is_caught_and_write_follows_it(repo: Path) -> None:
    _edit_json(repo / "benchmarks/results/bench_small.json", ["vit_b_32", "end_to_end", "p50_ms"], 71.04)
    problems = claims.check(repo)
    assert any("## Speed: differs" in p and "small_e2e_p50 = '71.0 ms'" in p for p in problems)
    assert claims.write(repo) == ["README.md: ## Speed"]
    assert "71.0 ms p50" in " ".join((repo / "README.md").read_text().split())
    assert claims.write(repo) == []  # a second write changes nothing
    # the section that describes bench_small.py's earlier runs quotes values of their file in results/history/
    assert claims.check(repo) == []


def test_a_ratio_is_computed_from_both_sides_of_one_file(repo: Path) -> None:
    """The 300k ratio follows either side: halving our p50 doubles it (199x -> 399x)."""
    path = repo / "benchmarks/results/bench_query_300k.json"
    _edit_json(path, ["faiss", 0, "same_run", "latency_k10", "mmsearch (size rule)", "p50_ms"], 0.419)
    claims.write(repo)
    speed = " ".join((repo / "README.md").read_text().split())
    assert "**399x** at p50" in speed and "**63x** by the mean" in speed


def test_a_figure_typed_into_a_template_is_caught(repo: Path) -> None:
    _edit(repo / "docs/claims.toml", "which suits IVF.\n",
          "which suits IVF (~5 ms by eye).\n")
    problems = claims.check(repo)
    assert any("figures typed into the template, not read from a claim: ~5 ms" in p for p in problems)


def test_a_figure_without_results_file_must_say_so(repo: Path) -> None:
    _edit(repo / "README.md", "; one install measured by hand, no results file)", ")")
    problems = claims.check(repo)
    assert any("'7.6 GB' has no results file and its paragraph does not say" in p for p in problems)
    assert any("'13 minutes' has no results file" in p for p in problems)


def test_provenance_marks_follow_the_files(repo: Path) -> None:
    path = repo / "benchmarks/results/bench_text_query.json"
    data = json.loads(path.read_text())
    data["provenance"] = {"commit": "abc", "date": "2026-12-05T21:00:00+00:00", "machine": "x", "load_average": [1.0]}
    path.write_text(json.dumps(data))
    assert claims.check(repo) == [
        "source bench_text_query: benchmarks/results/bench_text_query.json records commit, date, machine and load: "
        'drop its provenance = "incomplete"']
    _edit(repo / "docs/claims.toml", 'command = ".venv/bin/python benchmarks/bench_text_query.py"\n'
          'provenance = "incomplete"  # no commit', 'command = ".venv/bin/python benchmarks/bench_text_query.py"')
    _edit(repo / "docs/claims.toml", "--alt-max 0 --out bench_query_300k'\n"
          'provenance = "incomplete"  # no commit', "--alt-max 0 --out bench_query_300k'")
    problems = claims.check(repo)
    assert any("source bench_query_300k: benchmarks/results/bench_query_300k.json lacks commit" in p for p in problems)
    assert not any("bench_text_query" in p for p in problems)


def test_the_writer_records_provenance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_common, "RESULTS", tmp_path)
    path = _common.write_result("x", {"value": 1})
    data = json.loads(path.read_text())
    assert claims.provenance_gaps(data) == []
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert data["provenance"]["commit"].startswith(head)
    assert data["value"] == 1
    assert claims.provenance_gaps({"value": 1}) == ["commit", "date", "machine", "load average"]


def test_a_reference_to_a_missing_docs_section_is_caught(repo: Path) -> None:
    """README points to docs/benchmarks.md, "Command-line latency"; usage.md to its "Near-duplicates"."""
    _edit(repo / "docs/benchmarks.md", "## Command-line latency", "## Latency of a command")
    _edit(repo / "docs/claims.toml", "docs/benchmarks.md: ## Command-line latency", "docs/benchmarks.md: ## Latency of a command")
    assert claims.check(repo) == [
        'README.md: refers to docs/benchmarks.md "Command-line latency", which has no such section']
    text = (repo / "docs/benchmarks.md").read_text()
    (repo / "docs/benchmarks.md").write_text(text.replace("\n## Near-duplicates (bench_duplicates.py)\n", "\n## Duplicates\n"))
    problems = claims.check(repo)
    assert 'docs/usage.md: refers to docs/benchmarks.md "Near-duplicates", which has no such section' in problems


def test_a_published_section_quotes_values_of_its_results_file(repo: Path) -> None:
    """A section a benchmark writes (here the CLI latency table) may only quote values of its results file."""
    _edit(repo / "docs/benchmarks.md", "cold         1301.858  1662.87", "cold         1300.858  1662.87")
    assert claims.check(repo) == ["docs/benchmarks.md: ## Command-line latency: '1300.858' is no value of bench_cli, "
                                  "bench_cli_before and has no ledger entry"]


def test_the_command_exits_1_with_one_line_per_problem(repo: Path) -> None:
    script = ROOT / "benchmarks" / "claims.py"
    ok = subprocess.run([sys.executable, script, "--check", "--root", repo], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    _edit(repo / "README.md", "0.08 s wall p50", "0.07 s wall p50")
    _edit(repo / "README.md", "fails at once instead of retrying.", "fails at once after 3 s.")
    bad = subprocess.run([sys.executable, script, "--check", "--root", repo], capture_output=True, text=True)
    assert bad.returncode == 1
    assert bad.stdout.splitlines() == claims.check(repo)
    assert len(bad.stdout.splitlines()) == 3  # 0.08 s missing, 0.07 s and 3 s without an entry


def test_a_new_section_with_figures_must_be_in_the_ledger(repo: Path) -> None:
    doc = repo / "docs/benchmarks.md"
    doc.write_text(doc.read_text() + "\n## A new benchmark\n\nIt answers in 12 ms.\n")
    assert claims.check(repo) == ["docs/benchmarks.md: ## A new benchmark: quotes 12 ms but the ledger lists no such "
                                  "section"]


def test_a_ledger_entry_no_longer_quoted_is_reported(repo: Path) -> None:
    _edit(repo / "README.md", "is 7.6 GB (torch's CUDA libraries are most of it) and", "is large and")
    assert claims.check(repo) == ["README.md: ## Quick start: '7.6 GB' is in docs/claims.toml but no longer quoted "
                                  "here: drop it from the ledger"]


def test_an_interval_kept_as_text_is_a_value_and_a_changed_end_is_caught(repo: Path) -> None:
    """bench_scenes writes its 95 % intervals as text ("0.95-0.99"): both ends are values of the file, and a
    quoted end that differs from it is caught."""
    heading = "### 2026-12-06: the same dev split on a quiet machine, both encoders (issue 26 point 3)"
    assert claims.check(repo) == []
    _edit(repo / "docs/benchmarks.md", "| mmsearch pixels only (vit) | 8 | 64 | **0.976** | 0.95-0.99 |",
          "| mmsearch pixels only (vit) | 8 | 64 | **0.976** | 0.94-0.99 |")
    assert claims.check(repo) == [f"docs/benchmarks.md: {heading}: '0.94' is no value of scenes_dev_quiet and has "
                                  "no ledger entry"]
