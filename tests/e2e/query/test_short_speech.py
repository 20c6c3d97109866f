"""Short real utterances (1-3 words): transcribed and found again by what was said; noise still gives nothing.

Real speech: LibriVox cuts (tests/speech_clips.py). The filter rules are also checked on hand-made decoder
segments, so that each branch of the rule is pinned down independently of one model's outputs.
"""
from __future__ import annotations

import os
from types import SimpleNamespace

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import speech_clips as sc

from mmsearch.analysis.phonetic import phonetic_score

SR = 16000


@pytest.fixture(scope="module")
def transcriber():
    from mmsearch.encoders.speech import Transcriber

    return Transcriber("bundled")


def _seg(text, words, avg_logprob=-0.4, no_speech_prob=0.1, compression_ratio=1.0, start=0.0):
    t = start
    ws = []
    for w, p in words:
        ws.append(SimpleNamespace(word=" " + w, start=t, end=t + 0.3, probability=p))
        t += 0.35
    return SimpleNamespace(text=text, words=ws, avg_logprob=avg_logprob, no_speech_prob=no_speech_prob,
                           compression_ratio=compression_ratio, start=start, end=t)  # fmt: skip


def test_keep_rule_rescues_confident_short_words_and_rejects_noise_hallucinations(transcriber):
    short = _seg("For them.", [("For", 0.6), ("them.", 0.9)], avg_logprob=-1.3, no_speech_prob=0.3)
    you = _seg("You", [("You", 0.03)], avg_logprob=-0.9, no_speech_prob=0.95)
    thanks = _seg("Thank you.", [("Thank", 0.08), ("you.", 0.2)], avg_logprob=-0.7, no_speech_prob=0.4)
    sure = _seg("the marketing budget", [("the", 0.9), ("marketing", 0.95), ("budget", 0.97)])
    loop = _seg("la la la", [("la", 0.9)] * 3, compression_ratio=3.0)
    assert transcriber._keep(short) and not transcriber._keep(you) and transcriber._keep(sure)
    assert not transcriber._keep(loop)
    assert transcriber._keep(thanks)  # the plain rule (VAD heard speech, averages fine) keeps it in pass one ...
    assert not transcriber._keep(thanks, vouched=False)  # ... but without a VAD its unsure words are not enough
    assert transcriber._keep(sure, vouched=False) and not transcriber._keep(you, vouched=False)
    too_unsure = _seg("For them.", [("For", 0.6), ("them.", 0.9)], avg_logprob=-1.8, no_speech_prob=0.3)
    silent = _seg("For them.", [("For", 0.6), ("them.", 0.9)], avg_logprob=-1.3, no_speech_prob=0.8)
    assert not transcriber._keep(too_unsure) and not transcriber._keep(silent)
    lone_word = _seg("Two can.", [("Two", 0.04), ("can.", 0.25)], avg_logprob=-1.29, no_speech_prob=0.49)
    lone_guess = _seg("You", [("You", 0.05)], avg_logprob=-1.2, no_speech_prob=0.5)
    assert transcriber._keep(lone_word) and not transcriber._keep(lone_word, vouched=False)  # VAD heard speech
    assert not transcriber._keep(lone_guess)
    transcriber.short_speech = False
    try:  # the rule before short utterances were handled
        assert not transcriber._keep(short) and transcriber._keep(sure) and not transcriber._keep(you)
    finally:
        transcriber.short_speech = True


def test_unsure_words_at_the_edges_are_trimmed(transcriber):
    seg = _seg("See you in his back.", [("See", 0.03), ("you", 0.56), ("in", 0.95), ("his", 0.5), ("back.", 0.05)])
    ((start, end, text),) = transcriber._spans(seg)
    assert text == "you in his" and start == pytest.approx(0.35) and end == pytest.approx(0.35 * 3 + 0.3)
    assert transcriber._spans(_seg("Uh", [("Uh", 0.02)])) == []


@pytest.fixture(scope="module")
def real_clips():
    clips = sc.librivox_clips()
    assert len(clips) >= 25 and {c.condition for c in clips} == set(sc.CONDITIONS)
    assert all(1 <= len(c.words.split()) <= 3 and c.wave.size < 7 * SR for c in clips)
    return clips[::3][:7]  # every condition, a spread of utterances


def test_short_real_utterances_are_transcribed_and_found_by_the_words_said(transcriber, real_clips):
    heard = [" ".join(s.text for s in transcriber.transcribe(c.wave)) for c in real_clips]
    assert sum(bool(h.strip()) for h in heard) >= len(real_clips) - 1, list(zip([c.words for c in real_clips], heard))
    firsts = 0
    for i, clip in enumerate(real_clips):
        scores = [phonetic_score(clip.words, h) for h in heard]
        firsts += scores[i] > 0 and scores[i] == max(scores) and scores.count(scores[i]) == 1
    assert firsts >= 0.75 * len(real_clips), list(zip([c.words for c in real_clips], heard))


def test_a_short_file_keeps_other_readings_on_its_longest_passage(transcriber, real_clips):
    """Step 5: a short file with a kept passage gets the distinct next-best readings of the whole file on
    its longest passage (none equal in words to a shown passage); without short-speech handling, none."""
    from mmsearch.encoders.speech import _plain

    for clip in real_clips:
        passages = transcriber.transcribe(clip.wave)
        if not passages:
            continue
        holding = [p for p in passages if p.alternatives]
        assert len(holding) <= 1 and all(p.alternatives == () for p in passages if p is not max(
            passages, key=lambda q: len(q.text.split())))
        shown = {_plain(p.text) for p in passages}
        others = holding[0].alternatives if holding else ()
        assert len({_plain(a) for a in others}) == len(others) and not shown & {_plain(a) for a in others}
    transcriber.short_speech = False
    try:
        passages = [p for c in real_clips[:2] for p in transcriber.transcribe(c.wave)]
        assert passages and all(p.alternatives == () for p in passages)
    finally:
        transcriber.short_speech = True


@pytest.mark.parametrize(
    "name,wave",
    [
        ("music-like", sc.music_like(5.0)),
        ("pink noise", sc.pink_noise(8 * SR, 1) * 0.05),
        ("short pink noise", sc.pink_noise(SR, 5) * 0.1),
        ("short music-like", sc.music_like(1.5, seed=2)),
    ],
)
def test_non_speech_gives_no_text_with_the_second_pass(transcriber, name, wave):
    assert transcriber.short_speech
    assert transcriber.transcribe(wave) == []


def test_conditions_change_the_wave_as_documented():
    x = sc.pink_noise(SR, 3) * 0.1
    assert np.allclose(sc.apply_condition(x, "quiet", 0), x * 0.1)
    noisy = sc.apply_condition(x, "noisy", 0)
    snr = 10 * np.log10(np.mean(x**2) / np.mean((noisy - x) ** 2))
    assert 9.0 < snr < 11.0
    placed = sc.apply_condition(x, "in_pause", 0)
    assert placed.size == 6 * SR and np.abs(placed[: 2 * SR]).max() < 0.02
    with pytest.raises(ValueError):
        sc.apply_condition(x, "underwater", 0)
