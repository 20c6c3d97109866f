"""benchmarks/real_text.py: which docstring text counts as a real sentence for the real-vector query set."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from real_text import _sentences_of


def test_prose_is_split_into_sentences_and_code_is_left_out():
    doc = """Return the number of items in a container, counting nested ones once.

    The count is computed lazily. It is cached until the container changes in any way at all.

    >>> len(x) == 3
    Use ``foo_bar = 1`` to set it and see https://example.org for the whole story of it.
    """
    got = _sentences_of(doc)
    assert got == ["Return the number of items in a container, counting nested ones once.",
                   "It is cached until the container changes in any way at all."]


def test_short_fragments_are_not_sentences():
    assert _sentences_of("Short one. Also short here.") == []
