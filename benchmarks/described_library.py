"""The "described pictures" library shape of ``bench_text_search.py``: short spoken descriptions, pictures, and
caption notes of *other* pictures that share words and topics with what is said.

Each spoken clip is a query target: its words are asked over the recordings only (own kind) and over every
kind. The caption notes are the distractors: each shares one or two of a clip's words (a paraphrase of a
different scene), a one-word clip's notes hold that word among others; the pictures (colour fields, halves,
noise) match colour words with the toy encoder.

Two libraries from different sources, so that a rule tuned on one is scored on the other:

- ``dev``: descriptions ("a red bicycle by the river") spoken by espeak-ng voices (a synthesiser) and notes
  written from the same vocabulary;
- ``held-out``: the LibriVox cuts of ``tests/speech_clips.py`` (a person reading Austen, 1-3 words each) and notes
  built from their words by another template and another vocabulary, other pictures (other seed).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

SPLITS = ("dev", "held-out")
COLOURS = {"red": (220, 30, 30), "green": (30, 170, 60), "blue": (30, 60, 220), "yellow": (240, 220, 40),
           "black": (5, 5, 5), "white": (250, 250, 250), "orange": (250, 140, 20), "purple": (130, 40, 170)}  # fmt: skip
NOUNS = ("bicycle", "bus", "dog", "boat", "kite", "umbrella", "tent", "tractor", "horse", "guitar", "balloon",
         "lamp", "bench", "truck", "train", "chair")  # fmt: skip
PLACES = ("river", "beach", "bridge", "garden", "station", "forest", "harbour", "market", "street", "field",
          "kitchen", "roof")  # fmt: skip
PREPS = ("by", "on", "near", "in", "under", "behind")
ADJECTIVES = ("old", "small", "wooden", "broken", "sleeping", "big", "shiny", "muddy")
NOTE_VERBS = ("parked", "left", "standing", "resting", "waiting", "leaning", "abandoned", "drying")
NOTE_EXTRAS = ("grandfather", "neighbours", "holiday", "morning", "sunset", "festival", "fog", "snow", "wedding",
               "village", "ferry", "lighthouse", "crowd", "children", "fisherman", "cathedral", "picnic", "storm",
               "autumn", "leaves", "mountains", "bakery", "cyclists", "tourists", "shadow", "fence", "ladder",
               "puddle", "clouds", "evening", "school", "market", "postman", "sheep", "lantern", "harvest")  # fmt: skip
NOTE_FORMS = ("{a} {thing} {verb} {prep} the {place}, {x} and {y} behind it.",
              "Taken during the {x}: {a} {thing} {verb} {prep} the {place}.",
              "{a} {thing} at the {place} with {x}, {y} in the distance.",
              "Our {x} photo, {a} {thing} {verb} {prep} the {place} near the {y}.")  # fmt: skip
# held-out notes: another template, another vocabulary
HELD_OBJECTS = ("postcard", "sketch", "painting", "snapshot", "poster", "drawing")
HELD_SCENES = ("a cottage in devon", "the village church", "a carriage on the lane", "the old orchard",
               "a ballroom full of guests", "the seaside at brighton", "a garden party", "the parsonage")  # fmt: skip
ESPEAK_VOICES = (("en-us", 150), ("en-us+f3", 150), ("en-gb+m3", 130), ("en-us+f2", 170), ("en-gb", 160),
                 ("en-us+m7", 140))  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Shape:
    """One library of this shape: its clips (file name, words said, source) and how many of each kind."""

    split: str
    clips: list[tuple[str, str]]  # (file path, words said)
    notes: int
    pictures: int


def descriptions(n: int, seed: int = 7) -> list[tuple[str, str, str, str]]:
    """``n`` distinct (colour or other adjective, noun, preposition, place) descriptions."""
    rng = np.random.default_rng(seed)
    out: list[tuple[str, str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    colours = list(COLOURS)
    while len(out) < n:
        words = colours if len(out) % 2 == 0 else ADJECTIVES
        c, nn, p, pl = (words[rng.integers(len(words))], NOUNS[rng.integers(len(NOUNS))],
                        PREPS[rng.integers(len(PREPS))], PLACES[rng.integers(len(PLACES))])  # fmt: skip
        if (nn, pl) not in seen:
            seen.add((nn, pl))
            out.append((c, nn, p, pl))
    return out


def dev_notes(desc: tuple[str, str, str, str], rng: np.random.Generator) -> list[str]:
    """Two captions of other pictures: the same described thing somewhere else; another thing at the same place."""
    adj, nn, p, pl = desc
    pick = lambda seq, but="": [w for w in seq if w != but][rng.integers(len(seq) - (but in seq))]  # noqa: E731
    other_adj = pick(ADJECTIVES + tuple(COLOURS), adj)
    out = []
    for a, thing, place in ((adj, nn, pick(PLACES, pl)), (other_adj, pick(NOUNS, nn), pl)):
        form = NOTE_FORMS[rng.integers(len(NOTE_FORMS))]
        text = form.format(a=f"a {a}", thing=thing, verb=pick(NOTE_VERBS), prep=pick(PREPS), place=place,
                           x=pick(NOTE_EXTRAS), y=pick(NOTE_EXTRAS))
        out.append(text[0].upper() + text[1:])
    return out


def held_notes(words: str, rng: np.random.Generator) -> list[str]:
    """Two captions of other pictures holding one word each of a held-out clip (its longest, then another)."""
    ws = sorted(set(words.split()), key=lambda w: (-len(w), w))
    second = ws[1] if len(ws) > 1 and len(ws[1]) > 2 else ws[0]
    obj = HELD_OBJECTS[rng.integers(len(HELD_OBJECTS))]
    return [f"A {obj} of {HELD_SCENES[rng.integers(len(HELD_SCENES))]}, {ws[0]} written across the top.",
            f"{obj.capitalize()} labelled {second}: {HELD_SCENES[rng.integers(len(HELD_SCENES))]} in the evening."]


def pictures(folder: Path, n: int, seed: int) -> None:
    """``n`` generated pictures: solid colours, two-colour halves, noise (deterministic per ``seed``)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    names = list(COLOURS)
    for i in range(n):
        path = folder / f"picture_{i:03d}.png"
        if path.exists():
            continue
        form = i % 3
        if form == 2:
            pixels = rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)
        else:
            a = np.array(COLOURS[names[rng.integers(len(names))]], np.int16) + rng.integers(-15, 15, 3)
            pixels = np.tile(np.clip(a, 0, 255).astype(np.uint8), (96, 96, 1))
            if form == 1:
                b = np.array(COLOURS[names[rng.integers(len(names))]], np.uint8)
                pixels[:, 48:] = b
        Image.fromarray(pixels).save(path)


def build(folder: Path, split: str, quick: bool = False) -> Shape:
    """Write one library of this shape under ``folder`` (kept files are reused) and return what it holds."""
    import soundfile as sf
    import speech_clips as sc

    audio, notes_dir, pics = folder / "audio", folder / "notes", folder / "pictures"
    for d in (audio, notes_dir, pics):
        d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11 if split == "dev" else 23)
    said: list[str] = []
    waves: dict[int, np.ndarray] = {}
    notes: list[str] = []
    if split == "dev":
        import audio_factory as af

        for n, desc in enumerate(descriptions(12 if quick else 40)):
            c, nn, p, pl = desc
            said.append(f"a {c} {nn} {p} the {pl}")
            path = audio / f"clip_{n:03d}.wav"
            if not path.exists():
                voice, wpm = ESPEAK_VOICES[n % len(ESPEAK_VOICES)]
                cond = sc.CONDITIONS[(n // len(ESPEAK_VOICES) + n) % len(sc.CONDITIONS)]
                waves[n] = (sc.apply_condition(af.speech(said[-1], sc.SR, voice=voice, words_per_minute=wpm),
                                                cond, 300 + n))
            notes += dev_notes(desc, rng)
    else:
        for n, clip in enumerate(sc.librivox_clips(12 if quick else None)):
            said.append(clip.words)
            waves[n] = clip.wave
            notes += held_notes(clip.words, rng)
    clips = []
    for n, words in enumerate(said):
        path = audio / f"clip_{n:03d}.wav"  # neutral name: the words said must come from the audio
        if not path.exists() and n in waves:
            sf.write(path, waves[n], sc.SR)
        clips.append((str(path), words))
    for n, text in enumerate(notes):
        path = notes_dir / f"note_{n:03d}.txt"
        if not path.exists():
            path.write_text(text + "\n")
    n_pics = 20 if quick else 60
    pictures(pics, n_pics, seed=5 if split == "dev" else 9)
    return Shape(split, clips, len(notes), n_pics)
