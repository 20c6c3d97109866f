"""Words a recogniser ran together, read apart (mmsearch/analysis/run_together.py) and how the full text and the
word match take them (mmsearch/analysis/tokens.py), with the bundled sentence model's real vocabulary."""
from __future__ import annotations

import pytest

from mmsearch.analysis import run_together as rt
from mmsearch.analysis import tokens


@pytest.fixture(autouse=True)
def _fresh_cache():
    rt.split.cache_clear()
    yield
    rt.split.cache_clear()


@pytest.mark.parametrize("token, parts", [
    ("saladsolarresearch", ("salad", "solar", "research")),  # bench_ingest's miss of 2026-12-06
    ("museumeastentranceweekend61", ("museum", "east", "entrance", "weekend", "61")),  # the other one
    ("quietharbourlights", ("quiet", "harbour", "lights")),
    ("meetingnotesforjanuary", ("meeting", "notes", "for", "january")),
    ("summerholiday2024", ("summer", "holiday", "2024")),
    ("weekend61", ("weekend", "61")),  # letters and digits meet: cut there even when the letters are a word
    # a derived word is a dear part: "not also under", not "notal sounder" (read so on a real photo)
    ("butnotalsounder", ("but", "not", "also", "under")),
    ("knowinglyrelyingonapatent", ("knowingly", "relying", "on", "a", "patent")),  # ... but a part when needed
])
def test_a_run_together_token_is_cut_into_its_words(token, parts):
    assert rt.split(token) == parts


@pytest.mark.parametrize("token", [
    "research",  # a word: left as it is
    "international",  # a long word of the vocabulary
    "redcar",  # shorter than MIN_RUN: few run-together lines are
    "kilimanjaro", "glendalough", "reykjavik", "ljubljana",  # names the vocabulary cannot cut into words only
    "covid19",  # short
    "12345678",  # digits only: one part
])
def test_words_names_and_short_tokens_are_left_whole(token):
    assert rt.split(token) == ()


def test_read_apart_keeps_every_other_character_and_the_text_without_runs():
    assert rt.read_apart("National museumeastentranceweekend61%") == "National museum east entrance weekend 61%"
    assert rt.read_apart("Quarterly revenue grew 12%") == "Quarterly revenue grew 12%"
    assert rt.read_apart(None) == ""
    assert rt.apart_words("Saladsolarresearch, Kilimanjaro") == ["salad", "solar", "research"]


def test_without_the_vocabulary_nothing_is_read_apart(monkeypatch):
    monkeypatch.setattr(rt, "vocabulary", lambda: {})
    assert rt.split("saladsolarresearch") == () and rt.read_apart("Saladsolarresearch") == "Saladsolarresearch"


def test_the_cut_takes_the_cheapest_words_of_a_list_given_in_frequency_order(tmp_path, monkeypatch):
    listed = tmp_path / "vocab.txt"
    listed.write_text("[PAD]\n##ing\nthe\nsea\nseal\nsealion\nlion\nions\nx\nof\nOf\n", encoding="utf-8")
    costs = rt.costs(listed)
    # word pieces, upper case and single letters other than "a" are no words; "of" is a short word
    assert set(costs) == {"the", "sea", "seal", "sealion", "lion", "ions", "of"}
    assert costs["the"] < costs["sea"] < costs["seal"]  # by rank
    assert rt._cut("sealionthe", costs) == ["sealion", "the"]  # fewer, likelier words beat "sea lion the"
    assert rt._cut("sealionsthe", costs) == ["sealions", "the"]  # a listed word + "s" is a word
    assert rt._cut("sealion", costs) == ["sealion"]  # a word is never cut
    assert rt._cut("sealionx", costs) == ["sealionx"]  # no cut into words only: left whole
    monkeypatch.setattr(rt, "MAX_LETTER_COST", 0.5)
    assert rt._cut("sealionthe", costs) == ["sealionthe"]  # a cut dearer than that a letter is a guess


@pytest.mark.parametrize("token", ["conveying", "permissions", "propagating"])
def test_a_listed_word_with_a_common_ending_is_a_word_and_not_cut(token):
    assert rt.split(token) == ()


def test_a_cut_that_reads_as_junk_is_left_whole():
    assert rt.split("disclaimer") == ()  # "disc lai mer" costs more than MAX_LETTER_COST a letter


def test_text_read_from_pixels_is_indexed_and_matched_read_apart_and_other_text_as_it_is():
    text = "Saladsolarresearch"
    assert tokens.passage(text, apart=True) == "salad solar research"
    assert tokens.passage(text) == text
    indexed = tokens.fulltext_text(text, apart=True)
    assert set(tokens.words(indexed)) == {"saladsolarresearch", "salad", "solar", "research"}  # both readings
    assert tokens.fulltext_text(text) == text and tokens.fulltext_text("Salad solar research", apart=True) == \
        "Salad solar research"  # nothing run together: the row is the text
    assert set(tokens.phonetic_keys("salad solar research")) <= set(tokens.phonetic_column(text, apart=True).split())
    assert not set(tokens.phonetic_keys("salad")) & set(tokens.phonetic_column(text).split())
