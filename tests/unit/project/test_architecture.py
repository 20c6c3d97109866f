"""Import contracts: the layering of docs/architecture.md, checked on the source (every import, also
those inside functions).

import-linter cannot see ``mmsearch.indexers`` and ``mmsearch.cli`` (they live in top-level folders
mapped into the package by setuptools' ``package-dir``), so this test reads the imports itself with
``ast`` and applies the same kind of *forbidden* contracts.
"""
from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
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


def _imports(name: str, path: Path, precise: bool = False) -> set[str]:
    """Absolute names of the mmsearch modules that ``name`` imports anywhere in its source.

    ``from pkg import x`` counts as importing ``pkg`` and ``pkg.x``; with ``precise`` (the circle check, as
    /work/brief/cycles.py) it counts as importing ``pkg.x`` only when ``x`` is a module, else ``pkg``."""
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
            subs = {f"{target}.{a.name}" for a in node.names}  # `from pkg import module`
            if precise:
                modules = subs & MODULES.keys()
                found |= modules | ({target} if len(modules) < len(subs) else set())
            else:
                found |= {target} | subs
    if precise:
        return {m for m in found if m in MODULES}
    return {m for m in found if m in MODULES or any(m.startswith(p + ".") for p in MODULES)}


FIRST_PARTY = {"mmsearch", "indexers", "cli", "__future__"}


def _third_party(path: Path) -> set[str]:
    """Top-level names of the packages outside mmsearch and the standard library that a module imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name.partition(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.partition(".")[0])
    return found - FIRST_PARTY - set(sys.stdlib_module_names)


def _within(module: str, prefixes: tuple[str, ...] | frozenset[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


# Names the rooms refactor (issue 23) creates; until they exist a contract naming them is not asserted to see
# a module (every other prefix is). Empty it when the moves are merged.
PENDING: set[str] = set()  # source names a contract may name before they exist (empty: every room is built)

# Sources given as a frozenset are exact module names; as a tuple, prefixes (a package and all below it).
LIBRARY = frozenset(m for m in MODULES if not _within(m, ("mmsearch.indexers", "mmsearch.cli")))
OUTSIDE_CATALOG = frozenset(m for m in MODULES if not _within(m, ("mmsearch.catalog",)))


def _source(name: str, sources: tuple[str, ...] | frozenset[str]) -> bool:
    return name in sources if isinstance(sources, frozenset) else _within(name, sources)

# (name, source modules, forbidden modules, allowed exceptions as (importer, imported prefix))
CONTRACTS = [
    (
        "the library (mmsearch/) never imports ingestion or the CLI; only the Engine facade reaches the pipelines",
        LIBRARY,
        ("mmsearch.indexers", "mmsearch.cli"),
        {("mmsearch.engine", "mmsearch.indexers")},
    ),
    ("indexers never import the CLI", ("mmsearch.indexers",), ("mmsearch.cli",), set()),
    (
        "media/ and encoders/ know nothing of the catalog, vectors, library, models, queries or analysis",
        ("mmsearch.media", "mmsearch.encoders"),
        ("mmsearch.catalog", "mmsearch.vectors", "mmsearch.library", "mmsearch.context", "mmsearch.models",
         "mmsearch.query", "mmsearch.analysis", "mmsearch.engine", "mmsearch.indexers", "mmsearch.cli"),
        set(),
    ),
    (
        "pipelines, integrity, evaluation, queries and the web get a Context, never the Engine",
        ("mmsearch.indexers", "mmsearch.integrity", "mmsearch.cli.web", "mmsearch.query", "mmsearch.status",
         "mmsearch.maintenance"),
        ("mmsearch.engine",),
        set(),
    ),
    (
        "ranking is pure: no library, catalog (its records excepted), index, models or I/O modules",
        ("mmsearch.query.ranking",),
        ("mmsearch.library", "mmsearch.catalog", "mmsearch.vectors", "mmsearch.models", "mmsearch.context",
         "mmsearch.encoders", "mmsearch.media", "mmsearch.query.search", "mmsearch.query.candidates",
         "mmsearch.query.spaces", "mmsearch.query.mix", "mmsearch.query.examples", "mmsearch.engine"),
        {("mmsearch.query.ranking", "mmsearch.catalog.records")},
    ),
    (
        "vectors/ knows nothing of the catalog, library, models or queries",
        ("mmsearch.vectors",),
        ("mmsearch.catalog", "mmsearch.library", "mmsearch.models", "mmsearch.context", "mmsearch.encoders",
         "mmsearch.query"),
        set(),
    ),
    ("catalog/ never imports queries", ("mmsearch.catalog",), ("mmsearch.query",), set()),
    ("queries never import ingestion", ("mmsearch.query",), ("mmsearch.indexers",), set()),
    (
        "analysis/ imports only media/ and encoders/ of mmsearch (pure algorithms)",
        ("mmsearch.analysis",),
        tuple(sorted({".".join(m.split(".")[:2]) for m in MODULES if m.count(".") >= 1}
                     - {"mmsearch.analysis", "mmsearch.media", "mmsearch.encoders"})),
        set(),
    ),
]

# (name, source modules, the third-party packages they may import (None: any), forbidden ones, allowed exceptions
# as (importer, package))
THIRD_PARTY_CONTRACTS = [
    ("only catalog/ imports SQLAlchemy", OUTSIDE_CATALOG, None, {"sqlalchemy"}, set()),
    (
        "analysis/ imports no third-party package but numpy",
        ("mmsearch.analysis",), {"numpy"}, set(),
        # the one named exception: Double Metaphone keys are a pure algorithm from a small pure package
        {("mmsearch.analysis.phonetic", "metaphone")},
    ),
    ("ranking imports no third-party package but numpy", ("mmsearch.query.ranking",), {"numpy"}, set(), set()),
]


def _sees(prefixes: tuple[str, ...] | frozenset[str]) -> list[str]:
    """The prefixes of a contract that match no module (and are not PENDING): a contract that checks nothing."""
    return sorted(p for p in prefixes if p not in PENDING and not any(_within(m, (p,)) for m in MODULES))


@pytest.mark.parametrize("contract", CONTRACTS, ids=[c[0] for c in CONTRACTS])
def test_import_contract(contract):
    _, sources, forbidden, allowed = contract
    assert _sees(sources) == [] and _sees(forbidden) == [], "a contract names modules that do not exist"
    broken = []
    for name, path in sorted(MODULES.items()):
        if not _source(name, sources):
            continue
        for imported in sorted(_imports(name, path)):
            if _within(imported, forbidden) and not any(name == a and _within(imported, (b,)) for a, b in allowed):
                broken.append(f"{name} imports {imported}")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("contract", THIRD_PARTY_CONTRACTS, ids=[c[0] for c in THIRD_PARTY_CONTRACTS])
def test_third_party_contract(contract):
    _, sources, only, forbidden, allowed = contract
    assert _sees(sources) == [], "a contract names modules that do not exist"
    broken = []
    for name, path in sorted(MODULES.items()):
        if not _source(name, sources):
            continue
        for package in sorted(_third_party(path)):
            bad = package in forbidden or (only is not None and package not in only)
            if bad and (name, package) not in allowed:
                broken.append(f"{name} imports {package}")
    assert not broken, "\n".join(broken)


def test_the_contracts_see_the_whole_tree():
    """The checker finds the mapped packages and resolves relative imports (so a contract cannot pass vacuously)."""
    assert {"mmsearch.engine", "mmsearch.indexers", "mmsearch.cli", "mmsearch.catalog"} <= set(MODULES)
    assert "mmsearch.indexers" in _imports("mmsearch.engine", MODULES["mmsearch.engine"])
    assert "mmsearch.catalog" in _imports("mmsearch.library", MODULES["mmsearch.library"])
    assert any("sqlalchemy" in _third_party(p) for m, p in MODULES.items() if _within(m, ("mmsearch.catalog",)))
    assert _sees(("mmsearch.no_such_room",)) == ["mmsearch.no_such_room"]


def test_pending_names_are_still_missing():
    """PENDING holds only names not yet created: one that exists leaves PENDING, so its contracts see it."""
    assert sorted(p for p in PENDING if any(_within(m, (p,)) for m in MODULES)) == []


def test_the_python_version_is_stated_alike():
    """``requires-python`` is the version the linter and the type checker assume (the code needs 3.11:
    tomllib, StrEnum, datetime.UTC)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["requires-python"] == ">=3.11"
    assert project["tool"]["ruff"]["target-version"] == "py311"
    assert project["tool"]["mypy"]["python_version"] == "3.11"


# -- no import circles ----------------------------------------------------------------------------------------
def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative): every import circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_no_import_circles():
    """No module imports itself back through others (``from pkg import sub`` imports ``pkg.sub``, not ``pkg``)."""
    graph = {m: _imports(m, p, precise=True) - {m} for m, p in MODULES.items()}
    circles = [" <-> ".join(c) + "\n    " + "\n    ".join(f"{a} -> {sorted(graph[a] & set(c))}" for a in c)
               for c in _circles(graph)]
    assert not circles, f"{len(circles)} import circles:\n" + "\n".join(circles)


def test_the_circle_check_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set()}
    assert _circles(graph) == [["a", "b", "c"]]
    assert _circles({"a": {"b"}, "b": set()}) == []


# -- small modules ----------------------------------------------------------------------------------------------
MAX_LINES = 500


def test_no_module_is_over_500_lines():
    """A module over the bound has more than one job: split it by job into a package (docs/architecture.md)."""
    long = sorted((n, len(p.read_text(encoding="utf-8").splitlines())) for n, p in MODULES.items())
    offenders = [f"{n}: {lines} lines" for n, lines in long if lines > MAX_LINES]
    assert not offenders, f"modules over {MAX_LINES} lines:\n" + "\n".join(offenders)


def test_test_file_names_are_unique():
    """Test modules import by base name (tests/conftest.py puts every test folder on the path)."""
    tests = Path(__file__).resolve().parents[2]
    names = [p.name for p in tests.rglob("*.py") if "data" not in p.relative_to(tests).parts]
    assert sorted({n for n in names if names.count(n) > 1}) == []


# -- SQL text is built from constants only ------------------------------------------------------------------
SQL_CALLS = {"exec_driver_sql", "text"}  # their first argument is SQL text, always
BUILDERS = {"format", "join", "items", "values", "keys"}  # str/dict methods: constant in, constant out
MUTATORS = {"append", "extend", "insert", "add", "update", "setdefault"}  # what puts a value into a container
PURE = {"range", "tuple", "list", "dict", "enumerate", "zip", "len", "str", "int"}


class _SqlCheck:
    """Finds SQL text built from anything but constants in one module's source.

    The rule: the argument of every ``text()`` (under any alias, e.g. ``from sqlalchemy import text as sql``)
    and ``exec_driver_sql()`` call, and of every ``execute()`` call given a string, is *constant-built*: a
    literal; a name bound only to constant-built values (at module level, or in the function by assignment or
    as a loop variable over a constant-built iterable — never a parameter); an f-string, ``+``/``%``, tuple,
    dict, comprehension, subscript (a table lookup) or ``.format``/``.join`` of constant-built parts; or a
    module-level function or class (a migration step)."""

    def __init__(self, source: str) -> None:
        self.tree = ast.parse(source)
        self.text_names = {"text"} | {a.asname or a.name for n in ast.walk(self.tree) if isinstance(n, ast.ImportFrom)
                                      and (n.module or "").startswith("sqlalchemy") for a in n.names
                                      if a.name == "text"}
        self.module_names = self._constants(self.tree.body, set(), top=True)

    def _bindings(self, body: list[ast.stmt]) -> dict[str, list[ast.AST]]:
        """Every name bound in ``body`` (not inside nested functions) -> the expressions bound to it; a
        parameter, ``with``/``except``/import binding gets a non-constant marker."""
        out: dict[str, list[ast.AST]] = {}
        unknown = ast.Name(id="<runtime>", ctx=ast.Load())

        def bind(target: ast.AST, value: ast.AST) -> None:
            if isinstance(target, ast.Name):
                out.setdefault(target.id, []).append(value)
            elif isinstance(target, ast.Subscript | ast.Attribute) and isinstance(target.value, ast.Name):
                out.setdefault(target.value.id, []).append(value)  # table[k] = v: the table holds v
            elif isinstance(target, ast.Tuple | ast.List):
                for element in target.elts:  # unpacking a constant-built value gives constant-built parts
                    bind(element, value)

        def visit(node: ast.AST) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
                    if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                        out.setdefault(child.name, []).append(ast.Constant(value=None))
                    continue
                if isinstance(child, ast.Assign):
                    for target in child.targets:
                        bind(target, child.value)
                elif isinstance(child, ast.AnnAssign | ast.AugAssign) and child.value is not None:
                    bind(child.target, child.value)
                elif isinstance(child, ast.For | ast.AsyncFor | ast.comprehension):
                    bind(child.target, child.iter)
                elif (isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute)
                      and child.func.attr in MUTATORS and isinstance(child.func.value, ast.Name)):
                    for argument in [*child.args, *(k.value for k in child.keywords)]:
                        bind(ast.Name(id=child.func.value.id, ctx=ast.Store()), argument)
                elif isinstance(child, ast.NamedExpr):
                    bind(child.target, child.value)
                elif isinstance(child, ast.withitem) and child.optional_vars is not None:
                    bind(child.optional_vars, unknown)
                elif isinstance(child, ast.ExceptHandler) and child.name:
                    out.setdefault(child.name, []).append(unknown)
                elif isinstance(child, ast.Import | ast.ImportFrom):
                    for alias in child.names:
                        out.setdefault((alias.asname or alias.name).split(".")[0], []).append(unknown)
                visit(child)

        for statement in body:
            visit(ast.Module(body=[statement], type_ignores=[]))
        return out

    def _constants(self, body: list[ast.stmt], outer: set[str], top: bool = False,
                   args: ast.arguments | None = None) -> set[str]:
        """The names of ``body`` bound only to constant-built values (to a fixpoint), plus ``outer``'s."""
        bindings = self._bindings(body)
        params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]} if args else set()
        params |= {a.arg for a in (args.vararg, args.kwarg) if a} if args else set()
        known = set(outer) - params - set(bindings)
        changed = True
        while changed:
            changed = False
            for name, values in bindings.items():
                if name not in known and name not in params and all(self.constant(v, known) for v in values):
                    known.add(name)
                    changed = True
        return known

    def constant(self, node: ast.AST, names: set[str]) -> bool:
        """Whether ``node`` is constant-built given the constant ``names`` (class docstring)."""
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.Name):
            return node.id in names
        if isinstance(node, ast.JoinedStr):
            return all(self.constant(v, names) for v in node.values)
        if isinstance(node, ast.FormattedValue):
            return self.constant(node.value, names) and (node.format_spec is None
                                                         or self.constant(node.format_spec, names))
        if isinstance(node, ast.BinOp):
            return self.constant(node.left, names) and self.constant(node.right, names)
        if isinstance(node, ast.UnaryOp):
            return self.constant(node.operand, names)
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return all(self.constant(e, names) for e in node.elts)
        if isinstance(node, ast.Dict):
            return all(k is None or self.constant(k, names) for k in node.keys) and all(
                self.constant(v, names) for v in node.values)
        if isinstance(node, ast.Subscript):  # a lookup in a constant table: the index may be anything
            return self.constant(node.value, names)
        if isinstance(node, ast.IfExp):
            return self.constant(node.body, names) and self.constant(node.orelse, names)
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            inner = set(names)
            for generator in node.generators:
                if not self.constant(generator.iter, inner):
                    return False
                inner |= {n.id for n in ast.walk(generator.target) if isinstance(n, ast.Name)}
            parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            return all(self.constant(p, inner) for p in parts)
        if isinstance(node, ast.Call):
            arguments = [*node.args, *(k.value for k in node.keywords)]
            if isinstance(node.func, ast.Attribute) and node.func.attr in BUILDERS:
                receiver_ok = self.constant(node.func.value, names)
            else:
                receiver_ok = isinstance(node.func, ast.Name) and node.func.id in PURE
            return receiver_ok and all(self.constant(a, names) for a in arguments)
        return False

    def _sql_argument(self, call: ast.Call) -> ast.AST | None:
        """The SQL text argument of a call that takes one, else None."""
        func = call.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if not call.args:
            return None
        first = call.args[0]
        if name in self.text_names or name in SQL_CALLS:
            return first
        stringy = (isinstance(first, ast.Constant) and isinstance(first.value, str)) or isinstance(
            first, ast.JoinedStr | ast.BinOp) or (isinstance(first, ast.Call) and isinstance(first.func, ast.Attribute)
                                                  and first.func.attr in {"format", "join"})
        return first if name == "execute" and stringy else None

    def violations(self) -> list[int]:
        """Line numbers of SQL text not built from constants."""
        out: list[int] = []

        def walk(scope: ast.AST, names: set[str]) -> None:
            for node in ast.iter_child_nodes(scope):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                    body = node.body if isinstance(node.body, list) else [ast.Expr(value=node.body)]
                    walk(node, self._constants(body, names, args=node.args))
                    continue
                if isinstance(node, ast.Call):
                    argument = self._sql_argument(node)
                    if argument is not None and not self.constant(argument, names):
                        out.append(node.lineno)
                walk(node, names)

        walk(self.tree, self.module_names)
        return sorted(set(out))


def _package_sources() -> list[Path]:
    return [p for folder in PACKAGE_DIRS.values() for p in sorted(folder.rglob("*.py"))]


def test_sql_is_parameterised():
    """SQL goes through SQLAlchemy expressions; raw statements are constants (or tables of constants),
    never built from values: values travel as bound parameters."""
    hits = [f"{p.relative_to(ROOT)}:{n}" for p in _package_sources() for n in _SqlCheck(p.read_text()).violations()]
    assert hits == []
    for backend in ("base.py", "sqlite.py", "postgresql.py"):  # ``text as sql``
        assert "sql" in _SqlCheck((ROOT / "mmsearch" / "catalog" / "fulltext" / backend).read_text()).text_names


BAD_SQL = [
    'from sqlalchemy import text as sql\ndef f(conn, name):\n    conn.execute(sql(f"SELECT * FROM t WHERE n = {name}"))',
    'from sqlalchemy import text\ndef f(conn, name):\n    conn.execute(text("SELECT * FROM t WHERE n = " + name))',
    'def f(conn, name):\n    conn.exec_driver_sql("DELETE FROM %s" % name)',
    'def f(conn, name):\n    conn.execute("SELECT {}".format(name))',
    'def f(conn, name):\n    statement = f"DROP TABLE {name}"\n    conn.exec_driver_sql(statement)',
    'from sqlalchemy import text\ndef f(conn, names):\n    parts = []\n    for n in names:\n'
    '        parts.append(f"SELECT {n}")\n    conn.execute(text(" UNION ".join(parts)))',
    'from sqlalchemy import text\nT = {}\ndef f(conn, name):\n    T[0] = name\n    conn.execute(text(T[0]))',
    'from sqlalchemy import text\ndef f(conn, name):\n    s = "SELECT "\n    s += name\n    conn.execute(text(s))',
    'from sqlalchemy import text as q\ndef f(conn, names):\n    conn.execute(q(" UNION ".join(n for n in names)))',
    'from sqlalchemy import text\nT = "SELECT {x}"\ndef f(conn, x):\n    conn.execute(text(T.format(x=x)))',
    'from sqlalchemy import text\nclass A:\n    def f(self, conn):\n        conn.execute(text(f"SELECT {self.col}"))',
    'from sqlalchemy import text\nS = "SELECT 1"\ndef f(conn, S):\n    conn.execute(text(S))',  # a parameter shadows
    'from sqlalchemy import text\nS = "SELECT 1"\nS = input()\ndef f(conn):\n    conn.execute(text(S))',
]

GOOD_SQL = [
    'from sqlalchemy import text as sql\ndef f(conn, k):\n    conn.execute(sql("SELECT v FROM meta WHERE key = :k"), {"k": k})',
    'from sqlalchemy import text\nCOL = "rowid"\nS = f"SELECT {COL} FROM t WHERE x = :x"\n'
    'def f(conn, x):\n    conn.execute(text(S), {"x": x})',
    'from sqlalchemy import text\nPART = "SELECT :m{n}"\nTABLE = tuple(" UNION ".join(PART.format(n=n) for n in range(c))'
    ' for c in range(9))\ndef f(conn, ms):\n    conn.execute(text(TABLE[len(ms)]))',
    'STEPS = {1: ["ALTER TABLE a ADD COLUMN b TEXT"]}\ndef f(conn, v):\n    for step in STEPS[v]:\n'
    '        conn.exec_driver_sql(step)',
    'def f(s, query):\n    s.execute(query)',  # not a string: a SQLAlchemy statement, checked where it is built
]


@pytest.mark.parametrize("source", BAD_SQL)
def test_sql_check_catches_text_built_from_values(source: str):
    assert _SqlCheck(source).violations() != []


@pytest.mark.parametrize("source", GOOD_SQL)
def test_sql_check_accepts_constants_and_parameters(source: str):
    assert _SqlCheck(source).violations() == []
