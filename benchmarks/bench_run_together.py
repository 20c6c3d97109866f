"""Words run together, read apart (mmsearch/analysis/run_together.py), on real English text from two sources.

    .venv/bin/python benchmarks/bench_run_together.py [--lines 400] [--heldout]

What an OCR line read without its spaces looks like: 3-6 consecutive words of a real text, joined with no space
(the first letter kept upper case, as "Saladsolarresearch" was read). Per line, a 3-word quote of it (as
bench_ocr.py and bench_ingest.py quote) is *found* when every quote word is among the words of the line read
apart (:func:`mmsearch.analysis.tokens.passage`: what the full text indexes and the word match takes); *exact*
when the read-apart line is the line's words. And, over every distinct word of 8 letters or more of the same
text that is not itself a vocabulary word (a long real word or a name the recogniser read rightly), the share
that is cut anyway (each such cut adds words the picture does not show: a chance of a false hit).

Sources (real prose, read from this machine, never committed): dev = the licence texts in
/usr/share/common-licenses (GPL-3, Apache-2.0, MPL-2.0, GFDL-1.3); held-out (``--heldout``, scored once, after
the rule was frozen) = the descriptions (METADATA) of the installed Python packages. Wilson 95 % intervals.

Writes benchmarks/results/run_together.json (dev) or run_together_heldout.json.
"""
from __future__ import annotations

import argparse
import random
import re
import sys
import time
from pathlib import Path

from _common import log, machine, write_result

DEV = [Path("/usr/share/common-licenses") / n for n in ("GPL-3", "Apache-2.0", "MPL-2.0", "GFDL-1.3")]


def wilson(hits: int, n: int, z: float = 1.96) -> list[float] | None:
    """The 95 % Wilson score interval of hits / n (None when n is 0)."""
    if n == 0:
        return None
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return [round(centre - half, 3), round(centre + half, 3)]


def heldout_files() -> list[Path]:
    site = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    return sorted(site.glob("*.dist-info/METADATA"))


def sentences(paths: list[Path]) -> list[list[str]]:
    """Runs of plain alphabetic words (no digits, no markup), cut at punctuation."""
    out = []
    for p in paths:
        text = p.read_text(encoding="utf-8", errors="replace")
        for piece in re.split(r"[.,;:!?()\[\]{}\"'`*#<>|=/\\_-]+|\n\s*\n", text):
            words = piece.split()
            if len(words) >= 3 and all(w.isascii() and w.isalpha() for w in words):
                out.append([w.lower() for w in words])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=400)
    ap.add_argument("--heldout", action="store_true", help="score the held-out source (once, rule frozen)")
    args = ap.parse_args()
    from mmsearch.analysis import run_together, tokens

    paths = heldout_files() if args.heldout else DEV
    runs = sentences(paths)
    rng = random.Random(0)
    vocab = run_together.vocabulary()
    found = exact = 0
    misses = []
    c0 = time.process_time()
    for _ in range(args.lines):
        run = rng.choice(runs)
        n = rng.randint(3, min(6, len(run)))
        start = rng.randint(0, len(run) - n)
        words = run[start : start + n]
        q0 = rng.randint(0, n - 3)
        quote = words[q0 : q0 + 3]
        read = "".join(words).capitalize()
        said = tokens.words(tokens.passage(read, True))
        found += set(quote) <= set(said)
        exact += said == words
        if not set(quote) <= set(said) and len(misses) < 20:
            misses.append({"line": " ".join(words), "read_apart": " ".join(said)})
    cpu_us = (time.process_time() - c0) / args.lines * 1e6
    long_words = sorted({w for run in runs for w in run if len(w) >= run_together.MIN_RUN and w not in vocab})
    cut = [w for w in long_words if run_together.split(w)]
    result = {
        "machine": machine(), "source": "held-out: installed packages' METADATA" if args.heldout else
        "dev: /usr/share/common-licenses " + ", ".join(p.name for p in DEV), "files": len(paths),
        "rule": {"min_run": run_together.MIN_RUN, "word_cost": run_together.WORD_COST,
                 "vocabulary_words": len(vocab)},
        "lines": args.lines, "quote_found": found, "quote_found_wilson95": wilson(found, args.lines),
        "exact": exact, "exact_wilson95": wilson(exact, args.lines),
        "long_words_not_in_vocabulary": len(long_words), "of_which_cut": len(cut),
        "cut_wilson95": wilson(len(cut), len(long_words)), "cut_examples": [
            f"{w} -> {' '.join(run_together.split(w))}" for w in cut[:30]],
        "misses": misses, "cpu_us_per_line": round(cpu_us, 1),
    }
    path = write_result("run_together_heldout" if args.heldout else "run_together", result)
    log(f"quote found {found}/{args.lines} {result['quote_found_wilson95']}, exact {exact}/{args.lines}; "
        f"long words cut {len(cut)}/{len(long_words)}; {cpu_us:.0f} CPU us a line; written {path}")


if __name__ == "__main__":
    main()
