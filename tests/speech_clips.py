"""Short spoken clips (one to three words) with known words, for tests and ``benchmarks/bench_speech.py``.

Sources:

- **real**: five LibriVox utterances of *Sense and Sensibility* (public domain) in ``tests/data/librivox``, with
  the word alignments that pocketsphinx ships for them (``words.json``). Clips of 1-3 consecutive words are
  cut out at the aligned word times (plus ``PAD`` s of the recording on each side), so neighbouring words
  bleed in as they do in real cuts.
- **pocketsphinx extras** (optional, other real voices): the test recordings of the pocketsphinx source
  distribution (BSD-2-Clause, not committed here). Point ``MMSEARCH_POCKETSPHINX_DATA`` at its
  ``test/data`` folder (``pip download --no-deps --no-binary pocketsphinx pocketsphinx==5.1.1``, then unpack).
- **espeak**: espeak-ng voices at several speeds (needs the ``espeak-ng`` binary).

Each clip gets one condition, round-robin, so levels and backgrounds vary without multiplying the count:
``clean``; ``quiet`` (-20 dB); ``noisy`` (pink noise at 10 dB SNR); ``in_pause`` (placed 2 s into 6 s of
faint pink noise, so that VAD has a longer file to judge).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SR = 16000
DATA = Path(__file__).resolve().parent / "data" / "librivox"
PAD = 0.08  # seconds of the recording kept before the first and after the last word of a cut
CONDITIONS = ("clean", "quiet", "noisy", "in_pause")

ESPEAK_PHRASES = (
    "toucan", "bee", "knight", "flour", "cereal", "kernel", "pear tree", "whole wheat", "marketing budget",
    "hello world", "the red door", "blue whale", "coffee cup", "lemon pie", "ten meters", "seven of hearts",
    "pizza", "weather report", "night train", "sea salt",
)  # fmt: skip
ESPEAK_VOICES = (("en-us", 150), ("en-us+f3", 150), ("en-gb+m3", 120), ("en-us+f2", 190), ("en-gb", 170))


@dataclass(frozen=True)
class Clip:
    """One short utterance: ``words`` is what was said (lowercase, space-separated)."""

    name: str
    words: str
    wave: np.ndarray
    condition: str
    source: str


def pink_noise(n: int, seed: int) -> np.ndarray:
    """Unit-RMS 1/f noise (spectrum shaped in the frequency domain), closer to room noise than white noise."""
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.size, dtype=np.float64)
    f[0] = 1.0
    x = np.fft.irfft(spec / np.sqrt(f), n)
    return (x / (np.sqrt(np.mean(x**2)) + 1e-12)).astype(np.float32)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) + 1e-12


def apply_condition(wave: np.ndarray, condition: str, seed: int) -> np.ndarray:
    """``wave`` under ``condition`` (one of :data:`CONDITIONS`)."""
    x = np.asarray(wave, np.float32)
    if condition == "clean":
        out = x
    elif condition == "quiet":
        out = x * 0.1
    elif condition == "noisy":
        out = x + pink_noise(x.size, seed) * (_rms(x) / 10 ** (10 / 20))
    elif condition == "in_pause":
        out = pink_noise(6 * SR, seed) * 0.003
        i = 2 * SR
        out[i : i + x.size] += x[: out.size - i]
    else:
        raise ValueError(f"unknown condition {condition!r}")
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def _groups(words: list[list], sizes: tuple[int, ...] = (1, 2, 3), min_letters: int = 5) -> list[list[list]]:
    """Consecutive runs of 1-3 words, sizes cycling through ``sizes``; a run grows (up to 3 words) until it has
    ``min_letters`` letters, so no clip is a lone "he" or "a"."""
    out, i, k = [], 0, 0
    while i < len(words):
        size = sizes[k % len(sizes)]
        k += 1
        j = min(len(words), i + size)
        while j < len(words) and j - i < 3 and sum(len(w[0]) for w in words[i:j]) < min_letters:
            j += 1
        group = words[i:j]
        if sum(len(w[0]) for w in group) >= min_letters:
            out.append(group)
        i = j
    return out


def librivox_clips(limit: int | None = None) -> list[Clip]:
    """1-3 word cuts of the LibriVox utterances, each text once, conditions round-robin."""
    import soundfile as sf

    clips: list[Clip] = []
    seen: set[str] = set()
    for entry in json.loads((DATA / "words.json").read_text()):
        x, sr = sf.read(DATA / entry["file"], dtype="float32")
        assert sr == SR
        for group in _groups(entry["words"]):
            words = " ".join(w[0] for w in group)
            if words in seen:
                continue
            seen.add(words)
            a = max(0, int((group[0][1] - PAD) * SR))
            b = min(x.size, int((group[-1][2] + PAD) * SR))
            n = len(clips)
            cond = CONDITIONS[n % len(CONDITIONS)]
            name = f"{entry['file'].split('.')[0]}@{group[0][1]:.2f}"
            clips.append(Clip(name, words, apply_condition(x[a:b], cond, seed=n), cond, "librivox"))
    return clips[:limit] if limit else clips


def _read_raw_or_wav(path: Path) -> np.ndarray:
    import soundfile as sf

    if path.suffix == ".raw":
        return np.fromfile(path, dtype="<i2").astype(np.float32) / 32768.0
    x, sr = sf.read(path, dtype="float32")
    assert sr == SR, path
    return x if x.ndim == 1 else x.mean(axis=1)


def pocketsphinx_clips(data_dir: str | os.PathLike | None = None) -> list[Clip]:
    """The short recordings of pocketsphinx's test data with known words ([] when the folder is not there)."""
    folder = Path(data_dir or os.environ.get("MMSEARCH_POCKETSPHINX_DATA", "") or "/nonexistent")
    if not (folder / "goforward.raw").is_file():
        return []
    known = {"goforward.raw": "go forward ten meters", "forever/input_2_16k.wav": "feels like these days go on forever"}
    for line in (folder / "cards" / "cards.transcription").read_text().splitlines():
        m = re.match(r"<s>\s*(.*?)\s*</s>\s*\((\d+)\)", line)
        if m and len(m.group(1).split()) <= 4:
            known[f"cards/{m.group(2)}.wav"] = m.group(1)
    clips = []
    for n, (rel, words) in enumerate(sorted(known.items())):
        cond = CONDITIONS[n % len(CONDITIONS)]
        clips.append(Clip(rel, words, apply_condition(_read_raw_or_wav(folder / rel), cond, 100 + n), cond, "pocketsphinx"))
    return clips


def espeak_clips(phrases: tuple[str, ...] = ESPEAK_PHRASES) -> list[Clip]:
    """``phrases`` spoken by espeak-ng voices/speeds round-robin, conditions round-robin."""
    import audio_factory as af

    clips = []
    for n, words in enumerate(phrases):
        voice, wpm = ESPEAK_VOICES[n % len(ESPEAK_VOICES)]
        cond = CONDITIONS[(n // len(ESPEAK_VOICES) + n) % len(CONDITIONS)]
        wave = af.speech(words, SR, voice=voice, words_per_minute=wpm)
        clips.append(Clip(f"{voice}@{wpm}:{words}", words, apply_condition(wave, cond, 200 + n), cond, "espeak"))
    return clips


def music_like(seconds: float, seed: int = 0) -> np.ndarray:
    """A melody of harmonic notes with a soft attack and decay (plucked-string like), plus a little noise."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * SR), np.float32)
    note = int(0.4 * SR)
    t = np.arange(note) / SR
    env = np.minimum(1.0, t / 0.01) * np.exp(-t * 5.0)
    for i in range(0, out.size - note, note):
        f0 = 220.0 * 2 ** (rng.integers(0, 12) / 12)
        tone = sum((0.5**h) * np.sin(2 * np.pi * f0 * (h + 1) * t) for h in range(5))
        out[i : i + note] += (0.25 * env * tone).astype(np.float32)
    return out + pink_noise(out.size, seed) * 0.005
