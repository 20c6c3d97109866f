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


# -- the sources (benchmarks/real_text_sources.py): each format's markup is removed, its prose kept --------
import gzip  # noqa: E402

import real_text  # noqa: E402
import real_text_sources as sources  # noqa: E402


def test_dictionary_entries_lose_headword_tags_labels_and_authors(tmp_path):
    entry = ('Abdomen \\Ab*do"men\\, n. [L. abdomen (a word of uncertain\n   etymol.): cf. F. abdomen.]\n'
             "   1. (Anat.) The belly, or that part of the body between the\n      thorax and the pelvis, "
             "in most animals.\n      [1913 Webster]\n\n"
             'Abide \\A*bide"\\, v. i.\n   To wait for a friend who is late, patiently and in silence.\n'
             '         "He will abide with us a long while yet, my friend." --Shak.\n   [1913 Webster]\n')
    (tmp_path / "x.dict.dz").write_bytes(gzip.compress(entry.encode()))
    got = [s for para in sources.dictd(tmp_path) for s in real_text._sentences_of(para)]
    assert got == ["The belly, or that part of the body between the thorax and the pelvis, in most animals.",
                   "To wait for a friend who is late, patiently and in silence.",
                   "He will abide with us a long while yet, my friend."]


def test_wordnet_glosses_give_definitions_and_examples(tmp_path):
    folder = tmp_path / "usr/share/wordnet"
    folder.mkdir(parents=True)
    (folder / "data.noun").write_text(
        "  1 This software and database is being provided to you, the LICENSEE, by Princeton University.\n"
        "00005930 03 n 01 dwarf 0 001 @ 00004475 n 0000 | a plant or animal that is atypically small; "
        '"the dwarf pine grew slowly on the windy ridge above us"  \n')
    got = [s for para in sources.wordnet(tmp_path) for s in real_text._sentences_of(para)]
    assert got == ["A plant or animal that is atypically small.",
                   "The dwarf pine grew slowly on the windy ridge above us."]


def test_html_pages_give_paragraph_text_without_tags_or_code(tmp_path):
    (tmp_path / "page.html").write_text(
        "<html><head><title>A title of the page that is long</title></head><body>\n"
        "<p>The <code>open</code> function returns a file object &amp; raises on errors.</p>\n"
        "<pre>for line in open(path): print(line)</pre><li>Each item of the list is read as one sentence.</li>"
        "</body></html>")
    (tmp_path / "folder.html").mkdir()  # a folder named like a page is skipped
    got = [s for para in sources.html_docs(tmp_path) for s in real_text._sentences_of(para)]
    assert got == ["The open function returns a file object & raises on errors.",
                   "Each item of the list is read as one sentence."]


def test_pod_gives_prose_without_commands_code_or_formatting(tmp_path):
    (tmp_path / "perlfunc.pod").write_text(
        "=head1 NAME\n\nperlfunc - Perl builtin functions\n\n"
        "The functions in this section can serve as terms in an expression, says B<perl> itself.\n\n"
        "    print join(', ', @list), \"\\n\";\n")
    got = [s for para in sources.pod(tmp_path) for s in real_text._sentences_of(para)]
    assert got == ["The functions in this section can serve as terms in an expression, says perl itself."]


def test_fortunes_are_cookies_without_their_attribution(tmp_path):
    folder = tmp_path / "usr/share/games/fortunes"
    folder.mkdir(parents=True)
    (folder / "wisdom").write_text("Experience is what you get when you didn't get what you wanted.\n"
                                   "\t\t-- Randy Pausch\n%\nShort.\n%\n")
    (folder / "wisdom.dat").write_bytes(b"\x00\x01binary index")
    got = [s for para in sources.fortunes(tmp_path) for s in real_text._sentences_of(para)]
    assert got == ["Experience is what you get when you didn't get what you wanted."]


def test_collect_keeps_each_sentence_once_counts_per_source_and_mixes_them(tmp_path, monkeypatch):
    first = [f"Sentence number {i} of the first source is here." for i in range(200)]
    second = [f"Sentence number {i} of the second source is here." for i in range(200)] + first[:50]
    monkeypatch.setattr(real_text, "SOURCES", {"one": (None, "first", lambda _: iter(first)),
                                               "two": (None, "second", lambda _: iter(second))})
    monkeypatch.setattr(real_text, "FOLDER", tmp_path)
    found, about = real_text.collect()
    assert sorted(found) == sorted(set(first) | set(second)) and len(found) == 400
    assert {k: v["sentences"] for k, v in about.items()} == {"one": 200, "two": 200}
    assert any("second" in s for s in found[:40]) and any("first" in s for s in found[:40])
    assert found == real_text.collect()[0]  # a fixed shuffle


class _RowNumberEncoder:
    """Embeds a sentence as its row number in the list (first column), so order and cache reuse are visible."""

    model_id = "row-number"
    dim = 4

    def __init__(self, listing):
        self.listing, self.encoded = listing, 0

    def encode_text(self, texts):
        self.encoded += len(texts)
        import numpy as np

        return np.array([[self.listing.index(t), 1, 0, 0] for t in texts], np.float32)


def test_blocks_are_cached_shared_by_shards_and_kept_in_sentence_order(tmp_path, monkeypatch):
    import mmsearch.encoders.sentence as sentence

    listing = [f"Sentence {'x' * (i % 7)} number {i} of the list." for i in range(47)]
    encoder = _RowNumberEncoder(listing)
    monkeypatch.setattr(sentence, "SentenceEncoder", lambda spec: encoder)
    monkeypatch.setattr(real_text, "sentences", lambda: (listing, {"one": {"sentences": 47}}, "sig"))
    monkeypatch.setattr(real_text, "native_bf16", lambda: False)
    monkeypatch.setattr(real_text, "FOLDER", tmp_path)
    monkeypatch.setattr(real_text, "BLOCK", 10)
    monkeypatch.setattr(real_text, "QUERY_COUNT", 5)
    assert real_text.vectors(25, shard=(1, 2)) is None  # shard 1 of 2: block 1 only, the others not there yet
    assert sorted(p.name for p in tmp_path.glob("block-*.npy")) == ["block-float32-0001.npy"]
    x, q, about = real_text.vectors(25, shard=(0, 2))
    assert x[:, 0].tolist() == list(range(25)) and q[:, 0].tolist() == list(range(42, 47))
    assert about["sources"] == {"one": {"sentences": 47}} and about["precision"] == "float32"
    done = encoder.encoded
    x2, _, _ = real_text.vectors(22)  # a resumed or later run embeds nothing that is cached
    assert encoder.encoded == done and x2[:, 0].tolist() == list(range(22))
