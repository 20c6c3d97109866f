"""The doc updater of the benchmarks (``benchmarks/_common.replace_section``) replaces exactly the section it is
named for: from its heading to the next heading of the same or a higher level. Every other byte stays, and a
missing or doubled heading raises instead of appending or cutting."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from _common import replace_doc_section, replace_section

DOC = """# Benchmarks

Intro text.

## 1. Small library

Small numbers.

### Small detail

Detail that belongs to section 1.

## Near-duplicates (bench_duplicates.py)

Old duplicate numbers.

### Sub-table of near-duplicates

| a | b |
| --- | --- |

```
## not a heading: inside a code fence
```

## Short speech (bench_speech.py)

Speech numbers.

#### Deep heading

Still speech.

## Last section

Tail text without a final newline"""

def _split(doc: str) -> dict[str, str]:
    """Every ``## `` section of ``doc`` (heading line -> its text up to the next ``## `` heading), plus the
    preamble under the key ``""``, cut by plain string search (independent of the code under test)."""
    parts = doc.split("\n## ")
    out = {"": parts[0]}
    for part in parts[1:]:
        out["## " + part.split("\n", 1)[0]] = part
    return out


# each section -> the heading that ends it (None: the end of the document), read off DOC by hand
ENDS = {
    "## 1. Small library": "## Near-duplicates (bench_duplicates.py)",
    "### Small detail": "## Near-duplicates (bench_duplicates.py)",
    "## Near-duplicates (bench_duplicates.py)": "## Short speech (bench_speech.py)",
    "## Short speech (bench_speech.py)": "## Last section",
    "## Last section": None,
}


@pytest.mark.parametrize("section", list(ENDS))
def test_replace_touches_only_its_section(section: str) -> None:
    new_text = f"{section}\n\nFresh numbers for {section}.\n"
    doc = replace_section(DOC, section, new_text)
    start, following = DOC.index(section), ENDS[section]
    before, after = DOC[:start], DOC[DOC.index(following):] if following else ""
    assert doc == before + new_text + ("\n" if after else "") + after


def test_other_sections_are_byte_identical() -> None:
    section = "## Near-duplicates (bench_duplicates.py)"
    doc = replace_section(DOC, section, section + "\n\nNew duplicate numbers.\n")
    old, new = _split(DOC), _split(doc)
    fence = "## not a heading: inside a code fence"  # the naive split cuts there; the updater does not
    assert old.keys() - new.keys() == {fence} and new.keys() <= old.keys()
    changed = [key for key in new if old[key] != new[key]]
    assert changed == [section]
    assert len(new) == 5  # preamble + four ## sections, each compared above
    assert "Sub-table of near-duplicates" not in doc  # the subsection went with its section
    assert "## not a heading: inside a code fence" not in doc


def test_code_fence_heading_does_not_end_a_section() -> None:
    section = "## Near-duplicates (bench_duplicates.py)"
    doc = replace_section(DOC, section, section + "\n\nX\n")
    assert "Speech numbers." in doc and "Old duplicate numbers." not in doc


def test_subsection_replace_keeps_parent_and_siblings() -> None:
    doc = replace_section(DOC, "### Small detail", "### Small detail\n\nNew detail.")
    assert "Small numbers." in doc and "New detail." in doc and "Detail that belongs" not in doc
    assert doc.index("New detail.") < doc.index("## Near-duplicates")
    assert doc.replace("New detail.", "Detail that belongs to section 1.") == DOC


@pytest.mark.parametrize("section", ["## Missing section", "## Short speech"])
def test_missing_section_raises(section: str) -> None:
    with pytest.raises(ValueError, match="0 times"):
        replace_section(DOC, section, section + "\n\nnew\n")


def test_doubled_section_raises() -> None:
    doubled = DOC + "\n\n## Short speech (bench_speech.py)\n\nagain\n"
    with pytest.raises(ValueError, match="2 times"):
        replace_section(doubled, "## Short speech (bench_speech.py)", "## Short speech (bench_speech.py)\n\nx\n")


@pytest.mark.parametrize(("section", "text"), [
    ("## Last section", "## Other heading\n\nx"),  # text under another heading
    ("Last section", "Last section\n\nx"),  # not a heading
    ("##Last section", "##Last section\n\nx"),
])
def test_bad_arguments_raise(section: str, text: str) -> None:
    with pytest.raises(ValueError):
        replace_section(DOC, section, text)


def test_replace_doc_section_writes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "benchmarks.md"
    path.write_text(DOC)
    replace_doc_section("## Last section", "## Last section\n\nNew tail.\n", path)
    assert path.read_text() == DOC[:DOC.index("## Last section")] + "## Last section\n\nNew tail.\n"
    with pytest.raises(ValueError):
        replace_doc_section("## Not there", "## Not there\n", path)
    assert path.read_text() == DOC[:DOC.index("## Last section")] + "## Last section\n\nNew tail.\n"


def test_real_doc_sections_are_unique() -> None:
    """Each section a benchmark publishes to is in docs/benchmarks.md at most once (twice would raise)."""
    doc = (Path(__file__).resolve().parents[3] / "docs" / "benchmarks.md").read_text()
    for section in ["## Short speech (bench_speech.py)", "## Text search and fusion (bench_text_search.py)"]:
        assert doc.splitlines().count(section) == 1
        replace_section(doc, section, section + "\n\nx\n")  # does not raise
