"""Audio ingestion for sound files and video soundtracks: CLAP windows and timed speech transcripts.

Two complementary spaces. ``audio`` (CLAP): overlapping windows of WINDOW seconds every HOP seconds,
each a segment on the file's timeline, found by sound descriptions ("a dog barking"). ``text``:
faster-whisper turns speech into timed passages (silence and music give none), embedded with a
sentence model and found by what is said; their text is kept for keyword search and ``transcript``.

Long files are decoded chunk by chunk (never the whole file at 48 kHz in memory): CLAP chunks overlap
by a window so every window lies inside one chunk; speech chunks overlap by 30 s and the transcriber
keeps each sentence from one chunk only.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmsearch.analysis.tokens import ALTERNATIVES
from mmsearch.catalog import NewSegment
from mmsearch.kinds import SegmentKind, Space
from mmsearch.media.audio import iter_audio_chunks, windows

WINDOW = 10.0  # seconds: CLAP's training clip length
HOP = 5.0
CHUNK = 300.0  # seconds decoded at a time for CLAP
SPEECH_CHUNK = 600.0
SPEECH_OVERLAP = 30.0


@dataclass
class Soundtrack:
    segments: list[NewSegment] = field(default_factory=list)
    sound_windows: int = 0
    speech_passages: int = 0


def sound_segments(path: str, duration: float, clap: Any) -> list[NewSegment]:
    """CLAP embeddings of overlapping windows covering the whole file."""
    wanted = windows(duration, WINDOW, HOP)
    if not wanted:
        return []
    rate = clap.sample_rate
    done: dict[int, np.ndarray] = {}
    todo = list(range(len(wanted)))
    for chunk in iter_audio_chunks(path, rate, chunk_seconds=max(CHUNK, 2 * WINDOW), overlap_seconds=WINDOW):
        chunk_end = chunk.start + len(chunk.samples) / rate
        ready = [i for i in todo if wanted[i][0] >= chunk.start - 1e-6 and wanted[i][1] <= chunk_end + 1e-3]
        if not ready:
            continue
        waves = []
        for i in ready:
            a = round(float(wanted[i][0] - chunk.start) * rate)
            b = round(float(wanted[i][1] - chunk.start) * rate)
            waves.append(chunk.samples[a:b] if b > a else chunk.samples[a : a + 1])
        for i, vec in zip(ready, clap.encode_audio(waves)):
            done[i] = vec
        todo = [i for i in todo if i not in done]
    return [
        NewSegment(kind=SegmentKind.AUDIO, vector=done[i], start=float(a), end=float(b), space=Space.AUDIO)
        for i, (a, b) in enumerate(wanted)
        if i in done
    ]


def alternatives_detail(alternatives: tuple[str, ...]) -> str | None:
    """A speech segment's ``detail``: the recogniser's other readings of it (:mod:`mmsearch.catalog.fulltext` indexes
    their sound), or None."""
    return json.dumps({ALTERNATIVES: list(alternatives)}) if alternatives else None


def speech_segments(path: str, transcriber: Any, text_encoder: Any) -> list[NewSegment]:
    """Timed transcript passages, embedded in the text space."""
    chunks = iter_audio_chunks(path, 16000, chunk_seconds=SPEECH_CHUNK, overlap_seconds=SPEECH_OVERLAP)
    passages = [p for p in transcriber.transcribe_chunks(chunks) if p.text.strip()]
    if not passages:
        return []
    vectors = text_encoder.encode_text([p.text for p in passages])
    return [
        NewSegment(kind=SegmentKind.SPEECH, vector=v, start=float(p.start), end=float(p.end), text=p.text.strip(),
                   space=Space.TEXT, detail=alternatives_detail(p.alternatives))
        for p, v in zip(passages, vectors)
    ]


def soundtrack(path: str, duration: float, clap: Any | None, transcriber: Any | None,
               text_encoder: Any | None) -> Soundtrack:
    """Everything the audio of ``path`` contributes, with whichever models are available."""
    out = Soundtrack()
    if clap is not None:
        sounds = sound_segments(path, duration, clap)
        out.segments += sounds
        out.sound_windows = len(sounds)
    if transcriber is not None and text_encoder is not None:
        speech = speech_segments(path, transcriber, text_encoder)
        out.segments += speech
        out.speech_passages = len(speech)
    return out
