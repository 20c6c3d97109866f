"""ranking.py: pure functions over value types, tested without a library."""
from __future__ import annotations

import numpy as np
import pytest

from mmsearch.analysis import tokens
from mmsearch.catalog.fulltext.base import specificity
from mmsearch.catalog.records import SegmentRow
from mmsearch.query.ranking import (
    LEXICAL_Z,
    NORMAL_TAIL_Z,
    PHONETIC_SHARE,
    SHORT_PASSAGE,
    Background,
    Candidate,
    Filters,
    as_moment,
    finish,
    fuse,
    group,
    word_match,
)


def row(i, media, start=None, end=None, kind="image", media_kind="image", path=None, **kw) -> SegmentRow:
    return SegmentRow(i, media, kind, start, end, None, None, None, path or f"/m/{media}", media_kind, None, **kw)


def test_background_calibration_is_a_monotone_map_and_ignores_flat_samples():
    rng = np.random.default_rng(0)
    sample = rng.normal(size=(50, 8)).astype(np.float32)
    q = rng.normal(size=8).astype(np.float32)
    bg = Background.of(sample, q)
    sims = sample @ q
    assert bg.calibrate(float(sims.mean())) == pytest.approx(0.0, abs=1e-6)
    assert bg.calibrate(0.9) > bg.calibrate(0.5)
    assert Background.of(np.zeros((1, 8), np.float32), q) == Background()  # too few to say anything
    flat = Background.of(np.ones((10, 8), np.float32), np.ones(8, np.float32))
    assert flat.std >= 0.02  # a flat background cannot blow tiny differences up
    assert bg.tail == pytest.approx(1.0, abs=0.15)  # a normal-like background keeps its scale


def test_a_heavy_tailed_background_is_brought_to_a_normal_tails_height_on_any_cosine_scale():
    # a bag-of-words model: most stored texts share no word with the query (cosine ~0), a tenth share one
    rng = np.random.default_rng(1)
    q = np.zeros(64, np.float32)
    q[0] = 1.0
    sample = rng.normal(scale=0.01, size=(400, 64)).astype(np.float32)
    sample[:40, 0] += 0.5
    sparse = Background.of(sample, q)
    assert sparse.tail < 0.6  # a shared word stood 3 standard deviations up, where a normal's top 5 % is at 1.6
    top = float(np.sort(sample @ q)[int(0.95 * len(sample))])
    assert sparse.calibrate(top) == pytest.approx(NORMAL_TAIL_Z, rel=1e-3)  # the top 5 % begins where a normal's does
    assert sparse.calibrate(0.6) > sparse.calibrate(0.5)  # the order within the space is kept
    # the same library on another cosine scale (every cosine x 3 + 0.2) calibrates the same
    scaled = Background.of(np.hstack([sample * 3, np.full((400, 1), 0.2, np.float32)]), np.append(q, 1.0))
    assert scaled.calibrate(top * 3 + 0.2) == pytest.approx(sparse.calibrate(top), rel=1e-3)


def test_group_keeps_one_hit_per_file_and_absorbs_overlapping_moments_with_their_signals():
    cands = [
        Candidate(5.0, 0.9, row(1, 10, 0.0, 4.0, "scene", "video"), "clip", frozenset({"clip"})),
        Candidate(4.0, 0.8, row(2, 10, 3.0, 6.0, "speech", "video"), "text", frozenset({"text", "fulltext"})),
        Candidate(3.0, 0.7, row(3, 10, 4.0, 8.0, "scene", "video"), "clip", frozenset({"clip"})),  # touches only
        Candidate(2.0, 0.6, row(4, 20), "clip", frozenset({"clip"})),
        Candidate(1.0, 0.5, row(5, 20), "text", frozenset({"text"})),  # the same whole file again
    ]
    hits = group(cands)
    assert [(h.segment_id, h.start) for h in hits] == [(1, 0.0), (3, 4.0), (4, None)]
    assert hits[0].extra["signals"] == ["clip", "fulltext", "text"]  # what the absorbed speech brought
    assert hits[2].extra["signals"] == ["clip", "text"]


def test_word_match_counts_exact_words_and_sounds_only_where_the_word_is_missing():
    exact = word_match(["red", "square"], {"a", "red", "square"})
    assert exact.coverage == 1.0 and exact.signals() == {"fulltext"}
    sound = word_match(["toucan"], {"two", "can"}, [["tkn"]], ["t", "tkn", "kn"])
    assert sound.coverage == pytest.approx(PHONETIC_SHARE) and sound.signals() == {"phonetic"}
    assert word_match([], {"x"}).coverage == 0.0


def test_word_match_weighs_words_credits_near_sounds_on_short_passages_and_prefers_passages_of_just_the_query():
    # "than he was" heard as "that he was": "than" (0N) is a near sound of "that" (0T) on a short passage only
    terms = ["than", "he", "was"]
    keys = [tokens.phonetic_keys(t) for t in terms]
    heard = tokens.phonetic_keys("that he was")
    short = word_match(terms, {"that", "he", "was"}, keys, heard, length=3)
    assert short.exact == pytest.approx(2 / 3) and 0 < short.phonetic < 1 / 3 and short.precision == 1.0
    other = word_match(terms, {"he", "was", "not"}, keys, tokens.phonetic_keys("he was not"), length=3)
    assert other.phonetic == 0.0 and short.strength > other.strength
    long_text = "that he was " + " ".join(["word"] * SHORT_PASSAGE)
    long = word_match(terms, set(tokens.words(long_text)), keys, tokens.phonetic_keys(long_text),
                      length=len(tokens.words(long_text)))
    assert long.phonetic == 0.0  # a near sound in a long passage is chance
    # a short key shared with a long passage is chance too; a long one counts
    an = word_match(["an"], {"x"}, [["an"]], ["an"] + ["k"] * 20, length=SHORT_PASSAGE + 5)
    assert an.coverage == 0.0
    toucan = word_match(["toucan"], {"x"}, [["tkn"]], ["tkn"], length=SHORT_PASSAGE + 5)
    assert toucan.coverage == pytest.approx(PHONETIC_SHARE)
    # the passage that is just the query beats one holding more; a specific word weighs more than a common one
    assert word_match(["rather"], {"rather"}, length=1).strength > word_match(["rather"], {"rather"}, length=4).strength
    rare_first = word_match(["amiable", "been"], {"amiable"}, weights=[6.0, 1.0])
    assert rare_first.exact == pytest.approx(6 / 7) and word_match(["amiable", "been"], {"amiable"}).exact == 0.5
    assert specificity(1) > specificity(50) > specificity(10**6) > 0


def test_an_exact_short_passage_beats_a_caption_of_something_else_that_holds_more_of_the_query():
    # spoken "a yellow chair in the kitchen", heard "yeah okay we're in the kitchen"; a note of another picture,
    # "a yellow horse left in the kitchen in the summer holidays", scores higher by meaning
    terms = ["a", "yellow", "chair", "in", "the", "kitchen"]
    weights = [0.3, 3.0, 3.0, 0.3, 0.2, 3.0]
    keys = [tokens.phonetic_keys(t) for t in terms]
    said = "yeah okay we're in the kitchen"
    clip = word_match(terms, set(tokens.words(said)), keys, tokens.phonetic_keys(said),
                      len(tokens.words(said)), weights)
    note_text = "a yellow horse left in the kitchen in the summer holidays"
    note = word_match(terms, set(tokens.words(note_text)), keys, tokens.phonetic_keys(note_text),
                      len(tokens.words(note_text)), weights)
    assert note.exact > clip.exact and note.precision < 0.6 < clip.precision
    a, b = row(1, 1, kind="speech", media_kind="audio"), row(2, 2, kind="text", media_kind="text")
    fused = fuse([Candidate(1.6, 0.4, a, "text"), Candidate(2.2, 0.8, b, "clip")],
                 {1: (clip, Candidate(1.6, 0.4, a, "text")), 2: (note, Candidate(2.2, 0.8, b, "clip"))})
    assert [c.row.id for c in fused] == [1, 2]
    # a long passage holding the whole query keeps part of its word evidence (a keyword search over long texts)
    long_text = " ".join(terms + ["other"] * 40)
    long = word_match(terms, set(tokens.words(long_text)), keys, length=len(tokens.words(long_text)))
    assert long.strength >= 0.3


def test_fuse_adds_word_evidence_on_the_calibrated_scale_and_keeps_the_best_semantic_score():
    a, b = row(1, 1), row(2, 2)
    semantic = [Candidate(1.0, 0.5, a, "clip"), Candidate(2.0, 0.6, a, "text"), Candidate(1.5, 0.55, b, "clip")]
    lexical = {1: (word_match(["red"], {"red"}), Candidate(0.0, 0.0, a, "fulltext"))}
    fused = fuse(semantic, lexical)
    assert [c.row.id for c in fused] == [1, 2]
    assert fused[0].score == pytest.approx(2.0 + LEXICAL_Z) and "fulltext" in fused[0].signals


def test_finish_cuts_below_min_score_and_sorts_by_date_after_taking_the_best():
    hits = group([Candidate(s, 0.0, row(i, i, media_time=t), "clip") for i, (s, t) in
                  enumerate([(5.0, 300.0), (4.0, 100.0), (3.0, 200.0), (1.0, 50.0)])])
    assert [h.score for h in finish(hits, 10, min_score=2.5)] == [5.0, 4.0, 3.0]
    assert [h.extra["media_time"] for h in finish(hits, 3, sort="date")] == [100.0, 200.0, 300.0]
    with pytest.raises(ValueError):
        finish(hits, 3, sort="size")


def test_filters_and_subtitle_cues_become_moments_of_their_video():
    cue = row(7, 3, 1.0, 2.0, "subtitle", "subtitle", link_path="/v/clip.mp4", link_kind="video")
    cue = SegmentRow(**{**cue.__dict__, "link_id": 9})
    moment = as_moment(cue)
    assert (moment.media_id, moment.path, moment.media_kind) == (9, "/v/clip.mp4", "video")
    keep = Filters(("video",), "clip", frozenset({5})).matcher()
    assert keep(moment) and not keep(row(1, 5, media_kind="video", path="/v/clip2.mp4"))
    assert not keep(row(2, 6, media_kind="image", path="/v/clip.png"))
