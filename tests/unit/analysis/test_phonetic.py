"""Phonetic keys, character n-grams and the phonetic score (mmsearch.analysis.phonetic): pure functions."""
from __future__ import annotations

import json

import pytest

from mmsearch.analysis.phonetic import char_ngrams, number_words, phonetic_keys, phonetic_score, words


def test_words_normalise_case_accents_digits_and_lone_letters():
    assert words("Today's Café, 10 meters!") == ["todays", "cafe", "ten", "meters"]
    assert words("33-4-692") == ["thirty", "three", "four", "six", "hundred", "ninety", "two"]
    assert words("B and C") == ["bee", "and", "see"]
    assert words("a cat, I said") == ["a", "cat", "i", "said"]  # words, not letter names
    assert number_words("1200") == ["one", "thousand", "two", "hundred"]
    assert number_words("007") == ["zero", "zero", "seven"] and number_words("5551234567")[:3] == ["five"] * 3
    assert words("") == [] and words("...!?") == []


def test_keys_are_word_keys_then_adjacent_concatenations():
    assert phonetic_keys("toucan") == ["TKN"]
    assert phonetic_keys("two can") == ["T", "TKN", "KN"]
    assert phonetic_keys("go forward ten") == ["K", "KFRRT", "KFRRTTN", "FRRT", "FRRTTN", "TN"]
    assert phonetic_keys("B") == phonetic_keys("bee") == ["P"]
    assert phonetic_keys("10") == phonetic_keys("ten")
    assert "SMT" in phonetic_keys("schmidt") and "XMT" in phonetic_keys("schmidt")  # primary and alternate
    assert phonetic_keys("") == [] and phonetic_keys("!!") == []
    for key in phonetic_keys("The thirty-three knights of 1492 say hello, B."):
        assert key.isascii() and key.isalnum() and key == key.upper() and " " not in key  # one FTS token each


def test_a_split_or_joined_word_shares_a_key_either_way():
    for joined, split in [("toucan", "two can"), ("because", "be cause"), ("apart", "a part"), ("ill disposed", "old sposed")]:
        assert set(phonetic_keys(joined)) & set(phonetic_keys(split)), (joined, split)


def test_char_ngrams():
    assert char_ngrams("cat") == {" ca", "cat", "at "}
    assert char_ngrams("a") == {" a "}
    assert char_ngrams("Cat cat") == char_ngrams("cat")
    assert char_ngrams("ab", n=2) == {" a", "ab", "b "}
    assert char_ngrams("") == set()


@pytest.mark.parametrize(
    "query,heard",
    [
        ("toucan", "I think I saw two can on the branch."),
        ("bee", "B"),
        ("knight", "The night rode out."),
        ("ten meters", "Go forward 10 meters."),
        ("ill disposed", "He was not an old-sposed young man."),
        ("flour", "a bag of flower"),
    ],
)
def test_a_misheard_word_still_finds_its_transcript_first(query, heard):
    others = ["The weather tomorrow will be sunny.", "Chop two onions and add the tomatoes.", "Hello world.",
              "We need to cut the marketing budget next quarter.", "Seven of hearts."]  # fmt: skip
    score = phonetic_score(query, heard)
    assert score > 0.6
    assert all(phonetic_score(query, other) < score for other in others), [phonetic_score(query, o) for o in others]


def test_score_range_and_order():
    assert phonetic_score("marketing budget", "we need to cut the marketing budget next quarter") == 1.0
    exact, sound_alike, unrelated = (phonetic_score("toucan", t) for t in ("a toucan", "two can", "the weather"))
    assert 1.0 == exact > sound_alike > 0.5 > unrelated == 0.0  # spelling beats sound, sound beats nothing
    assert phonetic_score("", "anything") == 0.0 and phonetic_score("anything", "") == 0.0
    assert phonetic_score("!!", "??") == 0.0
    long_text = " ".join(["alpha beta gamma delta"] * 200)
    assert 0.0 <= phonetic_score("gamma ray", long_text) <= 1.0


def test_the_phonetic_column_adds_the_keys_of_other_readings_once():
    from mmsearch.analysis import tokens

    detail = json.dumps({"alternatives": ["All disposed.", "Hold the spokes."]})
    column = tokens.phonetic_column("Hold the sparrows.", detail).split()
    plain = tokens.phonetic_keys("Hold the sparrows.")
    assert column[: len(plain)] == plain and len(column) == len(set(column))
    assert set(tokens.phonetic_keys("disposed")) <= set(column)
    assert set(tokens.phonetic_keys("spokes")) <= set(column)
    for broken in (None, "", "not json", json.dumps([1, 2]), json.dumps({"alternatives": "one"}), '{"boxes": []}'):
        assert tokens.phonetic_column("Hold the sparrows.", broken).split() == plain
