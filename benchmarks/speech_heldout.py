"""The held-out short real speech set of issue 27 point 2 (written down before any result on it was seen).

Sources (real people, none used while tuning; fetched at benchmark time with ``apt-get download`` into
``benchmarks/results/tmp/speech-heldout/``, never committed):

- ``asterisk-core-sounds-en-wav`` and ``asterisk-core-sounds-en`` (the transcripts) 1.6.1-1 (Debian; Asterisk's core prompts read by Allison Smith, CC BY-SA 3.0):
  8 kHz telephone recordings with their transcripts (``core-sounds-en.txt``). Kept: prompts whose text has 1-8
  words, no digits and no bracketed description, the text taken as lowercase words; one clip per distinct text;
  then :data:`ASTERISK_CLIPS` of them drawn with ``numpy.random.default_rng(SEED)`` (sorted by name first).
- ``alsa-utils`` 1.2.8-1 (Debian): the eight spoken channel names of ``/usr/share/sounds/alsa`` ("front left",
  "rear center", ...; another speaker, 48 kHz); ``Noise.wav`` left out.

Each clip gets one of ``tests/speech_clips.py``'s conditions round-robin (clean, -20 dB, pink noise at 10 dB
SNR, inside 6 s of faint noise), seeded by its position. Query = the words said; target = that clip.
"""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import speech_clips as sc

SEED = 27
ASTERISK_CLIPS = 40
PACKAGES = ("asterisk-core-sounds-en-wav=1.6.1-1", "asterisk-core-sounds-en=1.6.1-1", "alsa-utils=1.2.8-1")
ASTERISK_DIR = "usr/share/asterisk/sounds/en_US_f_Allison"
ASTERISK_TEXT = "usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"
ALSA_DIR = "usr/share/sounds/alsa"
_LINE = re.compile(r"^([\w/-]+):\s*(.*)$")
_WORD = re.compile(r"[a-z']+")


def fetch(folder: Path) -> Path:
    """The two Debian packages unpacked under ``folder/root`` (downloaded once)."""
    root = folder / "root"
    if (root / ASTERISK_DIR).is_dir() and (root / ALSA_DIR).is_dir():
        return root
    folder.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["apt-get", "download", *PACKAGES], cwd=folder, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(f"speech held-out: cannot fetch {PACKAGES} with apt-get download ({e})") from e
    for deb in sorted(folder.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root


def asterisk_prompts(root: Path) -> list[tuple[str, str]]:
    """(file stem, words) of every prompt that qualifies, one per distinct text, sorted by stem."""
    seen: set[str] = set()
    out = []
    with gzip.open(root / ASTERISK_TEXT, "rt", encoding="utf-8") as f:
        for line in f:
            m = _LINE.match(line.strip())
            if not m or "[" in m.group(2) or re.search(r"\d", m.group(2)):
                continue
            words = " ".join(_WORD.findall(m.group(2).lower()))
            if (
                1 <= len(words.split()) <= 8
                and words not in seen
                and (root / ASTERISK_DIR / f"{m.group(1)}.wav").is_file()
            ):
                seen.add(words)
                out.append((m.group(1), words))
    return sorted(out)


def selection(root: Path) -> list[tuple[Path, str, str]]:
    """(recording, words said, source) of every held-out clip, in a fixed order."""
    import numpy as np

    prompts = asterisk_prompts(root)
    pick = sorted(np.random.default_rng(SEED).choice(len(prompts), ASTERISK_CLIPS, replace=False))
    out = [(root / ASTERISK_DIR / f"{prompts[i][0]}.wav", prompts[i][1], "asterisk") for i in pick]
    for wav in sorted((root / ALSA_DIR).glob("*.wav")):
        if wav.stem != "Noise":
            out.append((wav, wav.stem.replace("_", " ").lower(), "alsa"))
    return out


def clips(folder: Path) -> list[sc.Clip]:
    """The held-out clips at 16 kHz, conditions round-robin."""
    from mmsearch.media.audio import load_audio

    out = []
    for n, (path, words, source) in enumerate(selection(fetch(folder))):
        cond = sc.CONDITIONS[n % len(sc.CONDITIONS)]
        wave = sc.apply_condition(load_audio(path, sc.SR), cond, seed=500 + n)
        out.append(sc.Clip(f"{source}:{path.stem}", words, wave, cond, source))
    return out


if __name__ == "__main__":  # list the set (names and words only: no transcript, no score)
    for c in clips(HERE / "results" / "tmp" / "speech-heldout"):
        print(f"{c.source:9s} {c.condition:9s} {c.name:40s} {c.words}")
