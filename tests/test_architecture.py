"""Import contracts: the layering of docs/architecture.md, checked on the source (every import, also
those inside functions).

import-linter cannot see ``mmsearch.indexers`` and ``mmsearch.cli`` (they live in top-level folders
mapped into the package by setuptools' ``package-dir``), so this test reads the imports itself with
``ast`` and applies the same kind of *forbidden* contracts.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = {"mmsearch": ROOT / "mmsearch", "mmsearch.indexers": ROOT / "indexers", "mmsearch.cli": ROOT / "cli"}


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Absolute names of the mmsearch modules that ``name`` imports anywhere in its source."""
    is_package = path.name == "__init__.py"
    base = name.split(".") if is_package else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)]
                target = ".".join(anchor + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{a.name}" for a in node.names}  # `from pkg import module`
    return {m for m in found if m in MODULES or any(m.startswith(p + ".") for p in MODULES)}


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


LIBRARY_CORE = tuple(m for m in MODULES if m.count(".") == 1 and not _within(m, ("mmsearch.indexers", "mmsearch.cli")))

# (name, source modules, forbidden modules, allowed exceptions as (importer, imported prefix))
CONTRACTS = [
    (
        "the library (mmsearch/) never imports ingestion or the CLI; only the Engine facade reaches the pipelines",
        LIBRARY_CORE + ("mmsearch.encoders", "mmsearch.media", "mmsearch.vectors"),
        ("mmsearch.indexers", "mmsearch.cli"),
        {("mmsearch.engine", "mmsearch.indexers")},
    ),
    ("indexers never import the CLI", ("mmsearch.indexers",), ("mmsearch.cli",), set()),
    (
        "media/ and encoders/ know nothing of the catalog, vectors, library, models or queries",
        ("mmsearch.media", "mmsearch.encoders"),
        ("mmsearch.catalog", "mmsearch.vectors", "mmsearch.library", "mmsearch.context", "mmsearch.models",
         "mmsearch.search", "mmsearch.ranking", "mmsearch.engine", "mmsearch.indexers", "mmsearch.cli"),
        set(),
    ),
    (
        "pipelines, integrity, evaluation and the web get a Context, never the Engine",
        ("mmsearch.indexers", "mmsearch.integrity", "mmsearch.cli.web", "mmsearch.search", "mmsearch.status",
         "mmsearch.maintenance"),
        ("mmsearch.engine",),
        set(),
    ),
    (
        "ranking is pure: no library, index, models or I/O modules",
        ("mmsearch.ranking",),
        ("mmsearch.library", "mmsearch.vectors", "mmsearch.models", "mmsearch.context", "mmsearch.encoders",
         "mmsearch.media", "mmsearch.search"),
        set(),
    ),
    (
        "vectors/ knows nothing of the catalog, library or models",
        ("mmsearch.vectors",),
        ("mmsearch.catalog", "mmsearch.library", "mmsearch.models", "mmsearch.context", "mmsearch.encoders"),
        set(),
    ),
]


@pytest.mark.parametrize("contract", CONTRACTS, ids=[c[0] for c in CONTRACTS])
def test_import_contract(contract):
    _, sources, forbidden, allowed = contract
    broken = []
    for name, path in sorted(MODULES.items()):
        if not _within(name, sources):
            continue
        for imported in sorted(_imports(name, path)):
            if _within(imported, forbidden) and not any(name == a and _within(imported, (b,)) for a, b in allowed):
                broken.append(f"{name} imports {imported}")
    assert not broken, "\n".join(broken)


def test_the_contracts_see_the_whole_tree():
    """The checker finds the mapped packages and resolves relative imports (so a contract cannot pass vacuously)."""
    assert {"mmsearch.engine", "mmsearch.indexers", "mmsearch.cli", "mmsearch.catalog"} <= set(MODULES)
    assert "mmsearch.indexers" in _imports("mmsearch.engine", MODULES["mmsearch.engine"])
    assert "mmsearch.catalog" in _imports("mmsearch.library", MODULES["mmsearch.library"])
