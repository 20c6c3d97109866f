"""OCR quality and cost on generated pictures: slides, text over real photos, photos without text, a slide video.

    .venv/bin/python benchmarks/bench_ocr.py [--slides 16] [--photos 16] [--seed 0]

Data (all generated here, deterministic for a seed):

- slides: 1280x720 plain backgrounds (light or dark), a title and one or two lines of body text, each line
  3-6 words drawn from a fixed vocabulary, in one of several fonts (DejaVu / Liberation sans, serif, mono,
  bold) at 28-72 px, in a colour that contrasts with the background, rotated by -5..+5 degrees;
- photos with text: the real photos of sample_data/images, scaled to 640-1024 px wide, with one or two
  lines of 22-56 px text in white, black, yellow or red (half of them with a thin outline, as captions
  often have), rotated -5..+5 degrees, placed at random;
- photos without text: the same real photos as they are (the detector-only path);
- a slide video: 30 s, 1280x720 H.264 at 5 fps, six slides changing at known, non-round times, indexed
  as ONE scene (the worst case: the scene detector cut nowhere), sampled every 1 s at 448 px as the
  pipeline samples, full frames read with ``frame_at``.

Measures:

- character accuracy = 1 - CER, CER = edit distance between the reference lines and the recognised blocks
  (both joined with one space, whitespace collapsed) / reference length;
- recall@1 of a query quoting three consecutive words of one line of a picture, ranking every picture with
  text by a simple score of its recognised text (a stand-in for the full-text index): the mean of word
  recall (query words found among the text's words) and character-trigram containment (query trigrams found
  in the text, lowercased, spaces kept);
- the same recall@1 on the text as the index matches it (words run together read apart,
  mmsearch/analysis/run_together.py), how many texts that changed, how many other pictures are given a
  quote's word that they do not show (read apart wrongly: a new chance of a false hit), and the CPU
  microseconds a text costs the index;
- ms per picture: ``read`` (detector + recogniser) for pictures with text, ``read`` on pictures without text
  (the detector only; the recogniser call count is checked); wall time and process CPU time (all threads:
  on a shared machine the CPU time is the steadier number, wall ~ CPU / cores on an idle one);
- the slide video: for each slide, the span that best matches (same score) a query quoting three words of
  its title, and whether that span's start and end are within 0.5 s of the slide's real start and end; OCR time as a fraction of the video's duration (x real time
  added to an index).

The gate (``read(gated=True)``, what the index does; mmsearch/encoders/text_gate.py): every set is read
both ways in the same run; per set, how many pictures got exactly the ungated read's boxes and text, and
both CPU costs. Extra sets for it: ``small_text`` (a 20 px line on each real photo scaled to 1920x1080)
and ``ingest_like`` (bench_ingest.py's photo-like JPEGs, no text). The image tower (ViT-B-32, random
weights: speed does not depend on them) is timed on the photos without text in the same run, so the
gated OCR cost of a picture without text is quoted as a fraction of the tower's CPU time.

Writes benchmarks/results/ocr.json. The machine may be shared: timings are noisy.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mmsearch.analysis.phonetic import levenshtein

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, write_frames, write_result

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = sorted((ROOT / "sample_data" / "images").glob("*.jpg"))
FONT_DIRS = [Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation")]
FONT_NAMES = [
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSansCondensed.ttf",
    "LiberationSans-Regular.ttf", "LiberationSerif-Regular.ttf", "LiberationSans-Bold.ttf", "LiberationMono-Regular.ttf",
]  # fmt: skip
VOCAB = ["revenue", "budget", "project", "market", "customer", "growth", "quarter", "design", "review", "report", "planning", "strategy", "research", "network", "server", "storage", "release", "version", "feature", "product", "support", "service", "training", "meeting", "agenda", "summary", "results", "target", "forecast", "margin", "europe", "asia", "america", "sales", "team", "hiring", "office", "travel", "safety", "quality", "energy", "water", "solar", "garden", "kitchen", "museum", "station", "harbour", "mountain", "river", "forest", "village", "castle", "bridge", "library", "student", "teacher", "lesson", "science", "history", "music", "theatre", "festival", "concert", "weather", "morning", "evening", "weekend", "holiday", "journey", "airport", "ticket", "platform", "coffee", "dinner", "recipe", "market", "bakery", "pizza", "noodle", "salad", "open", "closed", "entrance", "exit", "parking", "north", "south", "east", "west", "street", "avenue", "square", "central", "national", "public"]


def fonts() -> list[Path]:
    found = [d / n for d in FONT_DIRS for n in FONT_NAMES if (d / n).exists()]
    if not found:
        raise SystemExit("no DejaVu/Liberation fonts: apt-get install -y fonts-dejavu-core fonts-liberation")
    return found


def line(rng: random.Random, lo: int = 3, hi: int = 6) -> str:
    words = rng.sample(VOCAB, rng.randint(lo, hi))
    words[0] = words[0].capitalize()
    if rng.random() < 0.3:
        words.append(f"{rng.randint(2, 99)}%")
    return " ".join(words)


def render(base: Image.Image, lines: list[str], rng: random.Random, font_list: list[Path], px: list[int],
           fill, stroke=None, origin=None) -> Image.Image:
    """``lines`` drawn on ``base`` (one font for the picture), rotated as one block by -5..5 degrees."""
    w, h = base.size
    font_path = rng.choice(font_list)
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    x0, y = origin if origin else (int(w * 0.08), int(h * 0.15))
    for text, size in zip(lines, px):
        font = ImageFont.truetype(str(font_path), size)
        draw.text((x0, y), text, font=font, fill=fill, stroke_width=2 if stroke else 0, stroke_fill=stroke)
        y += int(size * 1.6)
    angle = rng.uniform(-5, 5)
    layer = layer.rotate(angle, resample=Image.Resampling.BICUBIC, center=(x0, origin[1] if origin else h * 0.15))
    out = base.convert("RGBA")
    out.alpha_composite(layer)
    return out.convert("RGB")


def make_slides(n: int, rng: random.Random, font_list: list[Path],
                footer: bool = False) -> list[tuple[Image.Image, list[str]]]:
    out = []
    for _ in range(n):
        dark = rng.random() < 0.3
        bg = tuple(rng.randint(10, 50) for _ in range(3)) if dark else tuple(rng.randint(225, 255) for _ in range(3))
        ink = rng.choice([(250, 250, 250), (255, 220, 80), (150, 220, 255)]) if dark else rng.choice(
            [(20, 20, 20), (20, 40, 120), (140, 20, 20), (20, 90, 40)])
        lines = [line(rng, 3, 5)] + [line(rng) for _ in range(rng.randint(1, 2))]
        title = rng.randint(48, 72)
        px = [title] + [rng.randint(28, 44) for _ in lines[1:]]
        if footer:  # a small line (20 px at 1280 wide: 7 px at the 448 px probes)
            lines.append(line(rng, 4, 6))
            px.append(20)
        out.append((render(Image.new("RGB", (1280, 720), bg), lines, rng, font_list, px, ink), lines))
    return out


def make_photos(n: int, rng: random.Random, font_list: list[Path]) -> list[tuple[Image.Image, list[str]]]:
    out = []
    for i in range(n):
        photo = Image.open(PHOTOS[i % len(PHOTOS)]).convert("RGB")
        width = rng.randint(640, 1024)
        photo = photo.resize((width, round(photo.height * width / photo.width)), Image.Resampling.BICUBIC)
        lines = [line(rng, 3, 5) for _ in range(rng.randint(1, 2))]
        px = [rng.randint(max(22, width // 40), max(30, width // 18)) for _ in lines]
        fill = rng.choice([(255, 255, 255), (0, 0, 0), (255, 230, 0), (230, 30, 30)])
        stroke = ((0, 0, 0) if sum(fill) > 300 else (255, 255, 255)) if rng.random() < 0.5 else None
        origin = (rng.randint(10, width // 5), rng.randint(10, max(11, photo.height - int(sum(px) * 1.7) - 10)))
        out.append((render(photo, lines, rng, font_list, px, fill, stroke, origin), lines))
    return out


edit_distance = levenshtein  # the same edit distance the phonetic matcher uses


def _collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def char_accuracy(reference: list[str], blocks) -> float:
    ref = _collapse(" ".join(reference))
    hyp = _collapse(" ".join(b.text for b in blocks))
    return max(0.0, 1.0 - edit_distance(ref, hyp) / max(1, len(ref)))


def _trigrams(text: str) -> set[str]:
    t = f" {_collapse(text.lower())} "
    return {t[i : i + 3] for i in range(len(t) - 2)}


def text_score(query: str, text: str) -> float:
    """Mean of word recall and character-trigram containment of the query in the text (0-1)."""
    qw = re.findall(r"\w+", query.lower())
    tw = set(re.findall(r"\w+", text.lower()))
    word_recall = sum(w in tw for w in qw) / max(1, len(qw))
    qg = _trigrams(query)
    return 0.5 * word_recall + 0.5 * len(qg & _trigrams(text)) / max(1, len(qg))


def quote(lines: list[str], rng: random.Random) -> str:
    longest = max(lines, key=lambda s: len(s.split()))
    words = longest.split()
    start = rng.randint(0, max(0, len(words) - 3))
    return " ".join(words[start : start + 3])


def make_slide_video(path: Path, slides: list[Image.Image], starts: list[float], duration: float, fps: int = 5) -> None:
    import av

    out = av.open(str(path), "w")
    stream = out.add_stream("libx264" if "libx264" in av.codecs_available else "h264", rate=fps)
    stream.width, stream.height = slides[0].size
    stream.pix_fmt = "yuv420p"
    stream.codec_context.time_base = Fraction(1, fps)
    stream.options = {"preset": "ultrafast", "crf": "23"}
    frames = [av.VideoFrame.from_ndarray(np.asarray(s), format="rgb24").reformat(format="yuv420p") for s in slides]

    def timeline():
        for i in range(int(duration * fps)):
            k = max(j for j, s in enumerate(starts) if s <= i / fps + 1e-9)
            frames[k].pts = i
            yield frames[k]

    write_frames(out, stream, timeline())


def bench_video(reader, rng: random.Random, font_list: list[Path]) -> dict:
    from mmsearch.analysis.ocr_keyframes import read_scene_text
    from mmsearch.media.video import FrameSampler, frame_at

    starts = [0.0, 4.3, 9.7, 13.2, 19.6, 24.1]
    duration = 30.0
    slides = make_slides(len(starts), rng, font_list, footer=True)
    out: dict = {"duration_s": duration, "slides": len(starts)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "slides.mp4"
        make_slide_video(path, [s for s, _ in slides], starts, duration)
        t0 = time.perf_counter()
        with FrameSampler(path, interval=1.0, max_side=448) as sampler:
            frames = [(f.time, f.image) for f in sampler]
        decode_s = time.perf_counter() - t0
        fetch_s = [0.0]

        def full(t: float) -> Image.Image:
            t1 = time.perf_counter()
            im = frame_at(path, t)
            fetch_s[0] += time.perf_counter() - t1
            return im

        for redetect in (True, False):
            before = (reader.counters.detect_calls, reader.counters.recognize_calls, reader.counters.crops_recognized)
            fetch_s[0] = 0.0

            t0, c0 = time.perf_counter(), time.process_time()
            spans = read_scene_text(reader, frames, 0.0, duration, keyframe_time=frames[len(frames) // 2][0],
                                    full_frame=full, redetect=redetect)
            ocr_s, ocr_cpu_s = time.perf_counter() - t0, time.process_time() - c0
            out["redetect" if redetect else "probe_boxes"] = _placement(spans, slides, starts, duration) | {
                "detector_passes": reader.counters.detect_calls - before[0],
                "recogniser_calls": reader.counters.recognize_calls - before[1],
                "crops_read": reader.counters.crops_recognized - before[2],
                "ocr_s": round(ocr_s, 2), "of_which_full_frame_decode_s": round(fetch_s[0], 2),
                "ocr_cpu_s": round(ocr_cpu_s, 2), "x_real_time_added": round(ocr_s / duration, 3),
                "cpu_s_per_video_s": round(ocr_cpu_s / duration, 3),
                "cpu_s_per_text_change": round(ocr_cpu_s / len(starts), 2),  # each slide: one change of text
            }
    return out | {"frames_sampled": len(frames), "sampling_decode_s": round(decode_s, 2)}


def _placement(spans, slides, starts: list[float], duration: float) -> dict:
    rng = random.Random(1)  # the same quotes for every variant
    ends = [*starts[1:], duration]
    placed, accuracy = [], []
    for (_, lines), start, end in zip(slides, starts, ends):
        q = quote(lines[:1], rng)  # three words of the title, as a user would quote them
        best = max(spans, key=lambda s: text_score(q, s.text), default=None)
        accuracy.append(char_accuracy(lines, best.blocks) if best else 0.0)
        placed.append({
            "start": start, "end": end, "query": q, "span": [best.start, best.end] if best else None,
            "on_scene": best is not None and abs(best.start - start) <= 0.5 and abs(best.end - end) <= 0.5,
        })
    return {"spans": len(spans), "slides_on_their_scene": sum(p["on_scene"] for p in placed),
            "char_accuracy": round(float(np.mean(accuracy)), 4), "placement": placed}


def make_small_text(rng: random.Random, font_list: list[Path]) -> list[tuple[Image.Image, list[str]]]:
    """A 20 px line (half of them outlined) on each real photo scaled to 1920x1080: ~10 px at 960 px."""
    out = []
    for i, p in enumerate(PHOTOS):
        photo = Image.open(p).convert("RGB").resize((1920, 1080), Image.Resampling.BICUBIC)
        lines = [line(rng)]
        origin = (rng.randint(40, 600), rng.randint(60, 1000))
        out.append((render(photo, lines, rng, font_list, [20], (255, 255, 255), (0, 0, 0) if i % 2 else None,
                           origin), lines))
    return out


def evaluate(reader, sets: dict[str, list[tuple[Image.Image, list[str]]]], rng: random.Random,
             gated: bool = False) -> tuple[dict, dict[str, list]]:
    read: dict[str, list] = {}
    times: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}  # process CPU time (all threads): less sensitive to other jobs than wall time
    for name, items in sets.items():
        read[name], times[name], cpu[name] = [], [], []
        for image, _lines in items:
            t0, c0 = time.perf_counter(), time.process_time()
            read[name].append(reader.read(image, gated=gated))
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    corpus = [(name, i, " ".join(b.text for b in blocks)) for name, blocks_list in read.items()
              for i, blocks in enumerate(blocks_list)]
    apart = read_apart_corpus(corpus)
    out = {}
    for name, items in sets.items():
        accuracy = [char_accuracy(lines, blocks) for (_, lines), blocks in zip(items, read[name])]
        hits, apart_hits, new_word_hits = 0, 0, 0
        for i, (_, lines) in enumerate(items):
            q = quote(lines, rng)
            best = max(corpus, key=lambda c: text_score(q, c[2]))
            hits += best[0] == name and best[1] == i
            best = max(apart["corpus"], key=lambda c: text_score(q, c[2]))
            apart_hits += best[0] == name and best[1] == i
            new_word_hits += sum(bool(_words(q) & (_words(b[2]) - _words(a[2]) - _words(" ".join(sets[a[0]][a[1]][1]))))
                                 for a, b in zip(corpus, apart["corpus"]) if (a[0], a[1]) != (name, i))  # false words
        ms = np.asarray(times[name]) * 1e3
        out[name] = {
            "n": len(items), "char_accuracy": round(float(np.mean(accuracy)), 4),
            "char_accuracy_min": round(float(np.min(accuracy)), 4), "recall_at_1": round(hits / len(items), 4),
            "ms_per_image_mean": round(float(ms.mean()), 1), "ms_per_image_p50": round(float(np.median(ms)), 1),
            "cpu_ms_per_image_mean": round(float(np.mean(cpu[name])) * 1e3, 1),
            # the text as the index matches it (run-together words read apart, mmsearch/analysis/run_together.py)
            "read_apart": {"recall_at_1": round(apart_hits / len(items), 4),
                           "texts_read_apart": sum(c[0] == name for c in apart["changed"]),
                           "other_pictures_given_a_quote_word_they_do_not_show": new_word_hits,
                           "cpu_us_per_text": apart["cpu_us_per_text"]},
        }
    return out, read


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def read_apart_corpus(corpus: list[tuple[str, int, str]]) -> dict:
    """Each recognised text as the full-text index and the word match take it (read apart:
    :func:`mmsearch.analysis.tokens.passage`), the texts that changed, and the CPU microseconds a text costs
    the index (its full-text row, phonetic keys and passage; the cut's cache cleared first)."""
    from mmsearch.analysis import run_together, tokens

    run_together.vocabulary()  # loaded once a process, not per text
    run_together.split.cache_clear()
    c0 = time.process_time()
    for _, _, text in corpus:
        tokens.fulltext_text(text, True), tokens.phonetic_column(text, None, True), tokens.passage(text, True)
    cpu_us = (time.process_time() - c0) / max(1, len(corpus)) * 1e6
    apart = [(name, i, tokens.passage(text, True)) for name, i, text in corpus]
    return {"corpus": apart, "changed": [c for c, a in zip(corpus, apart) if c[2] != a[2]],
            "cpu_us_per_text": round(cpu_us, 1)}


def _same(a: list, b: list) -> bool:
    return [x.to_json() for x in a] == [x.to_json() for x in b]


def tower_cpu_ms(pictures: list[Image.Image]) -> float:
    """ViT-B-32 image tower (random weights), CPU ms per picture, in batches of 32 (the index's CPU batch)."""
    from mmsearch.encoders import load_image_text_encoder

    from _common import random_vit_b32

    encoder = load_image_text_encoder(random_vit_b32(), "cpu")
    prepared = [encoder.prepare_image(p) for p in pictures]
    encoder.encode_prepared(prepared[:2])  # warm-up
    c0 = time.process_time()
    for i in range(0, len(prepared), 32):
        encoder.encode_prepared(prepared[i : i + 32])
    return (time.process_time() - c0) / len(prepared) * 1e3


def gate_costs(reader, pictures: dict[str, list[Image.Image]]) -> dict:
    """Per set of pictures without text: CPU ms per picture ungated and gated, detector and gate counters."""
    out = {}
    for name, images in pictures.items():
        ms = {}
        for gated in (False, True):
            before = dict(vars(reader.counters))
            c0 = time.process_time()
            blocks = sum(len(reader.read(im, gated=gated)) for im in images)
            ms["gated" if gated else "ungated"] = {
                "cpu_ms_per_image": round((time.process_time() - c0) / len(images) * 1e3, 1), "blocks": blocks,
                **{k: v - before[k] for k, v in vars(reader.counters).items() if not k.startswith("_")}}
        out[name] = {"n": len(images), **ms}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--slides", type=int, default=16)
    ap.add_argument("--photos", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0: every core)")
    args = ap.parse_args()
    from mmsearch.encoders.ocr import OcrReader

    rng = random.Random(args.seed)
    font_list = fonts()
    facts = machine()
    t0 = time.perf_counter()
    reader = OcrReader("bundled", cpu_threads=args.threads or None)
    load_s = time.perf_counter() - t0
    reader.read(Image.new("RGB", (64, 64), "white"))  # warm-up: onnxruntime's first run allocates

    sets = {"slides": make_slides(args.slides, rng, font_list), "photos_text": make_photos(args.photos, rng, font_list)}
    quotes_state = rng.getstate()  # the gated read is asked the same quotes
    quality, ungated_read = evaluate(reader, sets, rng)
    gated_rng = random.Random()
    gated_rng.setstate(quotes_state)
    gated_quality, gated_read = evaluate(reader, sets, gated_rng, gated=True)
    small = {"small_text": make_small_text(random.Random(args.seed + 1), font_list)}
    small_ungated, small_ungated_read = evaluate(reader, small, random.Random(args.seed + 2))
    small_gated, small_gated_read = evaluate(reader, small, random.Random(args.seed + 2), gated=True)
    quality |= small_ungated
    gated_quality |= small_gated
    for name, read in (ungated_read | small_ungated_read).items():
        gated_quality[name]["same_as_ungated"] = sum(
            _same(a, b) for a, b in zip(read, (gated_read | small_gated_read)[name]))

    no_text = [Image.open(p).convert("RGB") for p in PHOTOS]
    rec_before = reader.counters.recognize_calls
    no_text_ms, no_text_cpu_ms, false_blocks = [], [], 0
    for image in no_text:
        t1, c1 = time.perf_counter(), time.process_time()
        false_blocks += len(reader.read(image))
        no_text_ms.append((time.perf_counter() - t1) * 1e3)
        no_text_cpu_ms.append((time.process_time() - c1) * 1e3)
    quality["photos_no_text"] = {
        "n": len(no_text), "ms_per_image_mean": round(float(np.mean(no_text_ms)), 1),
        "ms_per_image_p50": round(float(np.median(no_text_ms)), 1),
        "cpu_ms_per_image_mean": round(float(np.mean(no_text_cpu_ms)), 1),
        "recogniser_calls": reader.counters.recognize_calls - rec_before, "false_blocks": false_blocks,
        "sizes": sorted({im.size for im in no_text}),
    }
    from bench_ingest import make_jpegs

    ingest_like = [Image.open(p).convert("RGB") for p in make_jpegs(RESULTS / "tmp" / "ocr-ingest-like", 30)]
    costs = gate_costs(reader, {"photos_no_text": no_text, "ingest_like": ingest_like})
    tower = tower_cpu_ms((no_text * 5 + ingest_like)[:64])
    for cost in costs.values():
        cost["gated_x_tower_cpu"] = round(cost["gated"]["cpu_ms_per_image"] / tower, 3)
        cost["ungated_x_tower_cpu"] = round(cost["ungated"]["cpu_ms_per_image"] / tower, 3)
    video = bench_video(reader, rng, font_list)
    result = {
        "machine": facts, "model_id": reader.model_id, "det_max_side": reader.det_max_side,
        "min_confidence": reader.min_confidence, "threads": args.threads or os.cpu_count(),
        "fonts": [p.name for p in font_list], "load_s": round(load_s, 2), "sets": quality, "video": video,
        "gated": {"sets": gated_quality, "no_text_cost": costs, "tower_cpu_ms_per_image": round(tower, 1),
                  "goal_x_tower_cpu": 0.15},
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "total_s": round(time.perf_counter() - t0, 1),
    }
    write_result("ocr", json.loads(json.dumps(result, default=str)))  # + provenance: commit, date, machine, load
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1, default=str))


if __name__ == "__main__":
    main()
