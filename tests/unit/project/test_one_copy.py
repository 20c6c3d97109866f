"""The folders indexers/ and cli/ are installed as ``mmsearch.indexers`` and ``mmsearch.cli`` (pyproject.toml's
package-dir). From the repository root they can also be imported as ``indexers`` and ``cli``: a second copy of
every module, with its own model caches and globals, that ``Engine`` never runs. A test that patches or spies on
that copy watches nothing (a spy of the OCR side's sampler could not fail that way). So tests and benchmarks
import them only under their installed names."""
from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def remapped() -> set[str]:
    """Top-level folder names that pyproject.toml installs under another name (``indexers``, ``cli``)."""
    dirs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    return {folder for name, folder in dirs.items() if name != folder and "/" not in folder}


def second_copy_imports(source: str, names: set[str]) -> list[int]:
    """Lines of ``source`` that import a module by a remapped folder name (``import indexers.x``,
    ``from cli import y``, ``importlib.import_module("indexers.x")``)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            found = [node.module or ""] if node.level == 0 else []
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == \
                "import_module" and node.args and isinstance(node.args[0], ast.Constant):
            found = [str(node.args[0].value)]
        else:
            continue
        if any(name.split(".")[0] in names for name in found):
            lines.append(node.lineno)
    return lines


def test_the_remapped_folders_are_known():
    assert remapped() == {"indexers", "cli"}


def test_tests_and_benchmarks_import_one_copy():
    names = remapped()
    files = sorted((*ROOT.joinpath("tests").rglob("*.py"), *ROOT.joinpath("benchmarks").rglob("*.py")))
    assert len(files) > 50
    wrong = {str(p.relative_to(ROOT)): lines for p in files
             if (lines := second_copy_imports(p.read_text(encoding="utf-8"), names))}
    assert wrong == {}, f"import these as mmsearch.indexers / mmsearch.cli: {wrong}"


@pytest.mark.parametrize("source", [
    "import indexers.kinds.video.text as t",
    "from indexers.deferred import release_kept",
    "from cli import app",
    "import importlib\nimportlib.import_module('indexers.kinds')",
])
def test_the_check_sees_a_second_copy(source: str):
    assert second_copy_imports(source, {"indexers", "cli"}) == [len(source.splitlines())]


def test_the_check_accepts_installed_names():
    assert second_copy_imports("import mmsearch.indexers.kinds\nfrom mmsearch.cli import app\nfrom . import x",
                               {"indexers", "cli"}) == []
