"""Where the real sentences of benchmarks/real_text.py come from: English prose written by people, read from
Python's installed docstrings and from Debian packages fetched at run time (``apt-get download`` +
``dpkg-deb -x`` into the ignored cache folder; nothing is committed, nothing is installed system-wide).

Each source is a table row ``name -> (Debian package or None, what it is, reader)``; a reader yields
paragraphs of plain text and the caller (real_text.py) cuts them into sentences with one rule for all.
Markup each format carries (dictionary headwords and tags, HTML, POD codes) is removed here, per format.
"""
from __future__ import annotations

import ast
import gzip
import html
import re
import subprocess
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path

Reader = Callable[[Path], Iterator[str]]

_BRACKETS = re.compile(r"\[[^\]]*\]")  # dictionary tags: [1913 Webster], etymologies [L. abdicatio ...]
_LABELS = re.compile(r"\((?:[A-Z][a-z]*\.?\s?&?\s?)+\)\s*")  # field labels: (Anat.), (Zool. & Bot.), (Physics)
_HEADWORD = re.compile(r"[^\\]*\\[^\\]*\\")  # Abdomen \Ab*do"men\
_CITATION = re.compile(r"\s--\s?[A-Z][\w'.]*(?:\s[A-Z][\w'.]*){0,3}")  # quotation authors: --Shak., --Sir W. Scott
_SENSE = re.compile(r"(?:^|\s)\d{1,2}\.\s")  # numbered senses "2. "
_TAGS = re.compile(r"<[^>]+>")
_PARA = re.compile(r"<(p|li|dd)\b[^>]*>(.*?)</\1>", re.S | re.I)
_POD_CODE = re.compile(r"[A-Z]<+\s*([^<>]*?)\s*>+")


def docstrings(_: Path) -> Iterator[str]:
    """Docstrings of every module, class and function of the stdlib and the installed packages."""
    paths = sysconfig.get_paths()
    for root in sorted({Path(paths["stdlib"]), Path(paths["purelib"]), Path(paths["platlib"])}):
        for p in sorted(root.rglob("*.py")):
            try:
                tree = ast.parse(p.read_bytes())
            except (SyntaxError, ValueError, OSError, RecursionError):
                continue  # not Python 3 source (test fixtures, templates): no docstrings to read
            for node in ast.walk(tree):
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    doc = ast.get_docstring(node)
                    if doc:
                        yield doc


def dictd(root: Path) -> Iterator[str]:
    """Entries of a dictd database (``*.dict.dz`` is gzip-readable): definitions and quotations, without the
    headword line, bracketed tags, field labels and quotation authors."""
    for path in sorted(root.rglob("*.dict.dz")):
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
            text = f.read()
        for entry in re.split(r"\n\s*\n", text):
            lines = entry.splitlines()
            if lines and not lines[0].startswith(" "):  # the headword line: keep what follows its pronunciation
                m = _HEADWORD.match(lines[0])
                lines[0] = lines[0][m.end():] if m else ""
            body = " ".join(" ".join(lines).split())
            body = _CITATION.sub(" ", _LABELS.sub("", _BRACKETS.sub("", body)))
            for part in _SENSE.split(body):
                yield part.replace('"', "")


def wordnet(root: Path) -> Iterator[str]:
    """WordNet 3.0 glosses: each definition and each quoted example sentence of every synset."""
    for path in sorted((root / "usr/share/wordnet").glob("data.*")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("  ") or " | " not in line:
                continue  # the licence header
            for part in line.split(" | ", 1)[1].split(";"):
                part = part.strip().strip('"').strip()
                if part:
                    yield part[0].upper() + part[1:] + ("" if part[-1] in ".!?" else ".")


def html_docs(root: Path) -> Iterator[str]:
    """Text of the paragraphs, list items and definitions of every HTML page of a documentation package."""
    for path in sorted(root.rglob("*.html")):
        if not path.is_file():
            continue  # a folder named *.html, or a link to a file of another package
        page = path.read_text(encoding="utf-8", errors="replace")
        for m in _PARA.finditer(page):
            yield html.unescape(_TAGS.sub("", m.group(2)))


def pod(root: Path) -> Iterator[str]:
    """Perl's manuals (POD): the prose paragraphs, without commands, verbatim code and formatting codes."""
    for path in sorted(root.rglob("*.pod")):
        for para in re.split(r"\n\s*\n", path.read_text(encoding="utf-8", errors="replace")):
            if para and not para[0].isspace() and not para.startswith("="):
                yield _POD_CODE.sub(r"\1", para)


def fortunes(root: Path) -> Iterator[str]:
    """Fortune cookies (quotations, sayings): each cookie of the plain files (not the offensive ones)."""
    for path in sorted((root / "usr/share/games/fortunes").glob("*")):
        if path.is_file() and not path.suffix:
            for cookie in path.read_text(encoding="utf-8", errors="replace").split("\n%\n"):
                yield cookie.split("\t\t--")[0]


SOURCES: dict[str, tuple[str | None, str, Reader]] = {
    "docstrings": (None, "docstrings of the Python stdlib and the installed packages", docstrings),
    "gcide": ("dict-gcide", "GNU Collaborative International Dictionary of English (1913 Webster)", dictd),
    "wordnet": ("wordnet-base", "WordNet 3.0 glosses and example sentences", wordnet),
    "python-doc": ("python3.11-doc", "Python 3.11 documentation (HTML)", html_docs),
    "postgresql-doc": ("postgresql-doc-15", "PostgreSQL 15 manual (HTML)", html_docs),
    "perl-doc": ("perl-doc", "Perl 5.36 manuals (POD)", pod),
    "debian-reference": ("debian-reference-en", "Debian Reference (HTML)", html_docs),
    "debian-policy": ("debian-policy", "Debian Policy Manual (HTML)", html_docs),
    "linux-doc": ("linux-doc-6.1", "Linux 6.1 kernel documentation (HTML)", html_docs),
    "django-doc": ("python-django-doc", "Django 3.2 documentation (HTML)", html_docs),
    "openjdk-doc": ("openjdk-17-doc", "OpenJDK 17 API documentation (HTML)", html_docs),
    "nodejs-doc": ("nodejs-doc", "Node.js 18 documentation (HTML)", html_docs),
    "git-doc": ("git-doc", "Git manuals (HTML)", html_docs),
    "scipy-doc": ("python-scipy-doc", "SciPy documentation (HTML)", html_docs),
    "sphinx-doc": ("sphinx-doc", "Sphinx documentation (HTML)", html_docs),
    "erlang-doc": ("erlang-doc", "Erlang/OTP documentation (HTML)", html_docs),
    "qt-doc": ("qtbase5-doc-html", "Qt 5 documentation (HTML)", html_docs),
    "boost-doc": ("libboost1.74-doc", "Boost 1.74 documentation (HTML)", html_docs),
    "foldoc": ("dict-foldoc", "Free On-line Dictionary of Computing", dictd),
    "jargon": ("dict-jargon", "The Jargon File", dictd),
    "devil": ("dict-devil", "Ambrose Bierce, The Devil's Dictionary", dictd),
    "fortunes": ("fortunes", "fortune cookies (quotations)", fortunes),
}


def fetch(package: str | None, folder: Path) -> Path:
    """The unpacked files of a Debian ``package`` under ``folder`` (downloaded and unpacked once)."""
    if package is None:
        return folder
    root = folder / "pkgs" / package
    if not root.exists():
        debs = folder / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", "-q", package], cwd=debs, check=True, capture_output=True)
        deb = sorted(debs.glob(f"{package}_*.deb"))[-1]
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root


def version(package: str | None) -> str:
    """The Debian version ``apt-cache`` offers for ``package`` ('' for a source that is not a package)."""
    if package is None:
        return ""
    out = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True).stdout
    m = re.search(r"Candidate:\s*(\S+)", out)
    return m.group(1) if m else ""
