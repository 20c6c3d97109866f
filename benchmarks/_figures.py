"""Figures and sections in markdown, and values in results files: what benchmarks/claims.py compares.

A figure is a number with a unit (``0.84 ms``, ``199x``, ``~0.25 s``, ``+17 %``, a range ``61-83 ms``) or the
value after R@k / F1; in a section a benchmark publishes, a table cell with a decimal point counts too."""
from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np

_VALUE = r"\d[\d,]*(?:\.\d+)?"
# a signed or approximate number, or a range (60-80 ms); not a piece of a name or version (ViT-B-32, H.264)
_NUMBER = rf"(?<![\w.@/])(?:[+-](?=\d)|(?<![+-]))~?{_VALUE}(?:[-–]{_VALUE})?"
# a number with a unit (not x86_64, p50, 640x480)
UNIT_FIGURE = re.compile(
    rf"{_NUMBER}\s?(?:ms|s|min|minutes|h|x|%|GB|MB|GiB|MiB|KiB|images/s|files/s)(?![\w/])")
# a quality figure: the value after R@k or F1 (as in "R@1 own 0.78" or "F1 0.91")
QUALITY_FIGURE = re.compile(r"\b(?:R@\d+|F1)\b[^0-9|\n]{0,25}?(?<![\w.])(\d?\.\d+|[01])\b")
DECIMAL = re.compile(r"(?<![\w.@/-])\d[\d,]*\.\d+(?![\w.])")  # a table cell's 0.993 or 6.58
# the units a results file may hold a quoted figure in: as is, s <-> ms, a share as %, bytes as MB / GB / GiB
SCALES = (1.0, 1e3, 1e-3, 100.0, 1e-6, 1e-9, 2.0**-30, 2.0**-20)
SECTION_REFERENCE = re.compile(r"docs/([\w-]+\.md)[,:]?\s*\(?\s*\"([^\"]+)\"")


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def norm(figure: str) -> str:
    return re.sub(r"[\s~]", "", figure)


def figures(text: str) -> Iterator[str]:
    """Every number with a unit and every R@k / F1 value in ``text`` (code fences included: tables live there)."""
    one_line = flat(text)
    yield from (m.group(0) for m in UNIT_FIGURE.finditer(one_line))
    yield from (m.group(1) for m in QUALITY_FIGURE.finditer(one_line))


def paragraph_of(text: str, quote: str) -> str:
    """The paragraph (or list item) that holds ``quote``; for a table, with the paragraph that introduces it."""
    paragraphs = re.split(r"\n\s*\n|\n(?=- )", text)
    for i, paragraph in enumerate(paragraphs):
        if quote in flat(paragraph):
            before = paragraphs[i - 1] if i and paragraph.lstrip().startswith("|") else ""
            return flat(before + " " + paragraph)
    return ""


def own_parts(doc: str) -> Iterator[tuple[str, int, int]]:
    """Each heading of ``doc`` (outside code fences) with the line range of its own text, to the next heading."""
    lines, fenced, starts = doc.splitlines(keepends=True), False, []
    for number, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and is_heading(line):
            starts.append(number)
    for i, start in enumerate(starts):
        yield lines[start].rstrip("\n"), start, starts[i + 1] if i + 1 < len(starts) else len(lines)


def is_heading(line: str) -> bool:
    return bool(re.match(r"#{1,6} ", line))


def leaves(data) -> Iterator[float]:
    if isinstance(data, dict):
        data = list(data.values())
    if isinstance(data, list):
        for item in data:
            yield from leaves(item)
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        yield float(data)
    elif isinstance(data, str) and re.fullmatch(r"-?\d+(?:\.\d+)?", data):  # a load average kept as text
        yield float(data)
    elif isinstance(data, str) and (ends := re.fullmatch(r"(\d+\.\d+)-(\d+\.\d+)", data)):
        yield from (float(end) for end in ends.groups())  # an interval kept as text ("0.95-0.99")


def is_value(figure: str, leaves: list[float]) -> bool:
    """Whether each number of ``figure`` (both ends of a range) is a leaf of a results file, in one of its
    units, to the digits quoted (within half a unit of the last digit: 62.55 may be quoted 62.6)."""
    numbers = re.findall(r"\d[\d,]*(?:\.\d+)?", figure.replace("~", ""))
    scaled = np.outer(np.asarray(leaves, dtype=float), SCALES)
    for number in numbers[:2]:
        plain = number.replace(",", "")
        half = 0.5 * 10.0 ** -(len(plain.split(".")[1]) if "." in plain else 0) + 1e-9
        if not np.any(np.abs(scaled - float(plain)) <= half):
            return False
    return bool(numbers)
