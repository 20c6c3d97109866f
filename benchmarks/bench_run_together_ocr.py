"""Lines set with tight spacing over real photos, read by the bundled OCR: found by a 3-word quote as read and
read apart (mmsearch/analysis/run_together.py).

    .venv/bin/python benchmarks/bench_run_together_ocr.py [--pictures 48] [--heldout]

Data: dev = the pictures of the Debian package ``ukui-wallpapers`` with lines from the licence texts
bench_run_together.py's dev set takes; held-out (``--heldout``, scored once after the rule was frozen) = the
nature photos of ``mate-backgrounds`` with lines from Python's reference manual (``pydoc_data.topics``).
Packages fetched with ``apt-get download`` into benchmarks/results/tmp/, never committed; pictures scaled to
1024 px wide; on each, one line of 3-5 consecutive real words (no word list of this project), in one of
bench_ocr.py's fonts at 26-44 px, white or black (half outlined), its word spaces narrowed to 0-35 % of the
font's space (how signage and captions set tight lines; PP-OCR then reads some without their spaces).

Per line: read with ``read(gated=True)`` as the index reads; *run together* when a read token holds two or more
of the line's words; a 3-word quote is *found* when all its words are among the words of the text as read,
and among those of the text read apart (:func:`mmsearch.analysis.tokens.passage`); and, over the other
pictures, how many hold a quote word only once read apart that their line does not hold (a false word: a new
chance of a false hit). Wilson 95 %.

Writes benchmarks/results/run_together_ocr.json (dev) or run_together_ocr_heldout.json.
"""
from __future__ import annotations

import argparse
import random
import subprocess
import time
from pathlib import Path

from bench_ocr import fonts
from bench_run_together import DEV, sentences, wilson
from PIL import Image, ImageDraw, ImageFont

from _common import RESULTS, log, machine, write_result

TMP = RESULTS / "tmp" / "wallpapers"
SOURCES = {False: ("ukui-wallpapers", "*/backgrounds/*"), True: ("mate-backgrounds", "*/backgrounds/mate/nature/*")}


def wallpapers(package: str, pattern: str) -> list[Path]:
    """The pictures of a Debian package whose paths match ``pattern``, fetched once into ``TMP``."""
    folder = TMP / package

    def found() -> list[Path]:
        return sorted(p for p in folder.glob(f"x/usr/share/{pattern.split('/', 1)[1]}")
                      if p.suffix in (".jpg", ".png"))

    if found():
        return found()
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", package], cwd=folder, check=True, capture_output=True)
    deb = next(folder.glob(f"{package}_*.deb"))
    subprocess.run(["dpkg-deb", "-x", str(deb), str(folder / "x")], check=True)
    return found()


def reference_manual_runs() -> list[list[str]]:
    """Runs of plain words of Python's reference manual (the held-out lines)."""
    import tempfile
    from pydoc_data.topics import topics

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "topics.txt"
        path.write_text("\n\n".join(topics.values()), encoding="utf-8")
        return sentences([path])


def tight_line(picture: Image.Image, text: str, rng: random.Random, font_path: Path) -> Image.Image:
    """``text`` drawn letter by letter, its spaces narrowed to 0-35 % of the font's."""
    px = rng.randint(26, 44)
    font = ImageFont.truetype(str(font_path), px)
    fill = rng.choice([(255, 255, 255), (0, 0, 0)])
    stroke = ((0, 0, 0) if fill[0] else (255, 255, 255)) if rng.random() < 0.5 else None
    squeeze = rng.uniform(0.0, 0.35)
    out = picture.copy()
    draw = ImageDraw.Draw(out)
    x, y = rng.randint(10, 120), rng.randint(10, picture.height - 2 * px)
    for ch in text:
        if ch == " ":
            x += font.getlength(" ") * squeeze
            continue
        draw.text((x, y), ch, font=font, fill=fill, stroke_width=2 if stroke else 0, stroke_fill=stroke)
        x += font.getlength(ch)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pictures", type=int, default=48)
    ap.add_argument("--heldout", action="store_true", help="the held-out pictures and lines (once, rule frozen)")
    args = ap.parse_args()
    from mmsearch.analysis import tokens
    from mmsearch.encoders.ocr import OcrReader, blocks_text

    rng = random.Random(0)
    photos = [Image.open(p).convert("RGB") for p in wallpapers(*SOURCES[args.heldout])]
    photos = [p.resize((1024, round(p.height * 1024 / p.width)), Image.Resampling.BICUBIC) for p in photos]
    runs = [r for r in (reference_manual_runs() if args.heldout else sentences(DEV)) if len(r) >= 3]
    font_list = fonts()
    reader = OcrReader("bundled")
    items = []
    c0 = time.process_time()
    for i in range(args.pictures):
        run = rng.choice(runs)
        n = rng.randint(3, min(5, len(run)))
        start = rng.randint(0, len(run) - n)
        words = run[start : start + n]
        words[0] = words[0].capitalize()
        picture = tight_line(photos[i % len(photos)], " ".join(words), rng, rng.choice(font_list))
        read = blocks_text(reader.read(picture, gated=True))
        q0 = rng.randint(0, n - 3)
        items.append({"line": " ".join(words), "quote": [w.lower() for w in words[q0 : q0 + 3]], "read": read,
                      "apart": tokens.passage(read, True)})
    ocr_cpu_s = time.process_time() - c0
    run_together = found = found_apart = extra = 0
    for i, it in enumerate(items):
        line_words = [w.lower() for w in it["line"].split()]
        run_together += any(sum(w in tok for w in line_words) >= 2 for tok in tokens.words(it["read"]))
        found += set(it["quote"]) <= set(tokens.words(it["read"]))
        found_apart += set(it["quote"]) <= set(tokens.words(it["apart"]))
        extra += sum(bool(set(it["quote"]) & (set(tokens.words(o["apart"])) - set(tokens.words(o["read"]))
                                               - set(tokens.words(o["line"]))))  # a word the picture does not show
                     for j, o in enumerate(items) if j != i)
    n = len(items)
    result = {
        "machine": machine(), "pictures": n, "backgrounds": f"{SOURCES[args.heldout][0]} (Debian)",
        "lines_from": "pydoc_data.topics" if args.heldout else "common-licenses", "fonts": len(font_list),
        "read_run_together": run_together, "quote_found_as_read": found, "as_read_wilson95": wilson(found, n),
        "quote_found_read_apart": found_apart, "read_apart_wilson95": wilson(found_apart, n),
        "other_pictures_given_a_quote_word_they_do_not_show": extra, "ocr_cpu_s": round(ocr_cpu_s, 1),
        "items": items,
    }
    path = write_result("run_together_ocr_heldout" if args.heldout else "run_together_ocr", result)
    log(f"{n} pictures, {run_together} read run together; quote found as read {found}/{n} "
        f"{result['as_read_wilson95']}, read apart {found_apart}/{n} {result['read_apart_wilson95']}; "
        f"other pictures given a quote word they do not show {extra}; written {path}")


if __name__ == "__main__":
    main()
