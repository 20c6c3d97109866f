"""A query's words, analysed once: its distinct terms, its phonetic keys and each term's keys
(:class:`mmsearch.catalog.records.QueryWords`), which the catalog's full-text read and the word match take.

The rule: the terms are the query's words (:func:`mmsearch.analysis.tokens.words`) without repeats, in order, at
most ``MAX_TERMS``; the keys are the phonetic keys of the whole query (words and adjacent pairs) without repeats,
at most ``MAX_TERMS``.
"""
from __future__ import annotations

from mmsearch.analysis.tokens import phonetic_keys, words
from mmsearch.catalog.records import MAX_TERMS, QueryWords


def query_terms(query: str) -> list[str]:
    """The distinct words of a query, in order, at most ``MAX_TERMS``."""
    return list(dict.fromkeys(words(query)))[:MAX_TERMS]


def query_keys(query: str) -> list[str]:
    """The distinct phonetic keys of a query, in order, at most ``MAX_TERMS``."""
    return list(dict.fromkeys(phonetic_keys(query)))[:MAX_TERMS]


def analyse(query: str) -> QueryWords:
    """The query's words as the full-text read and the word match take them (the module docstring)."""
    terms = query_terms(query)
    return QueryWords(tuple(terms), tuple(query_keys(query)), tuple(tuple(phonetic_keys(t)) for t in terms))
