"""Near-duplicates: precision and recall of ``Engine.duplicates`` on distinct pictures that look alike at low
resolution (drawings on white, wallpapers, slides of one template, scans of similar pages) and their
altered copies, per picture type, on a dev and a held-out split from different real sources
(benchmarks/dup_sets.py: Debian packages fetched now, slides and pages rendered with their fonts and
texts), with the toy encoder, a random-init ViT-B-32, and with vectors switched off (hash and pixel
evidence alone); a re-encoded and trimmed video; and the time to group 100k pictures.

    .venv/bin/python benchmarks/bench_duplicates.py [--parts images,video,timing] [--items 100000] [--docs]

Scores are over pairs: a reported pair is two files of one group; a true pair is an original and one of
its copies or two copies of one original. Precision and recall come with n and a 95 % Wilson interval.
The rule was tuned on the dev split only; the held-out split is scored as it comes, once. Rows ``copy
NAME``: the recall of each alteration (pairs of an original and that copy).
Video: a 6-shot footage video (tests/media_factory.py), a copy re-encoded (MPEG-4 in .mkv, 160x90) and
trimmed (1.5 s at the start, 1 s at the end), and a different video over the same photos; scene pairs
are true when they overlap by half the shorter one on the original's timeline. Timing:
:func:`mmsearch.query.duplicates.report.group_pictures` on synthetic clustered 512-d vectors with hashes, 10 % copies.
Writes benchmarks/results/duplicates.json.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import dup_sets
import numpy as np
from PIL import Image

from _common import Clustered, log, machine, publish, random_vit_b32, write_frames, write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
ORIGINALS, DISTRACTORS = 4, 10  # per picture type and split


# ------------------------------------------------------------------ scores
def wilson(hits: int, n: int, z: float = 1.96) -> list[float] | None:
    """The 95 % Wilson score interval of hits / n (None when n is 0)."""
    if n == 0:
        return None
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3)]


def pairs_of(groups) -> set[frozenset]:
    return {frozenset(p) for g in groups for p in itertools.combinations(sorted(g), 2)}


def score(found: set[frozenset], truth: set[frozenset]) -> dict:
    hit = len(found & truth)
    return {"pairs_true": len(truth), "pairs_found": len(found),
            "precision": round(hit / len(found), 4) if found else None, "precision_ci": wilson(hit, len(found)),
            "recall": round(hit / len(truth), 4) if truth else None, "recall_ci": wilson(hit, len(truth))}


def alteration_of(pair: frozenset) -> str | None:
    """The alteration of a pair of an original (``NNNN.png``) and one of its copies (``NNNN_NAME.jpg``)."""
    a, b = sorted(pair, key=lambda p: p.endswith(".jpg"))
    return b[:-4].split("_")[-1] if a.endswith(".png") and b.endswith(".jpg") else None


def type_of(pair: frozenset) -> str:
    kinds = {Path(p).parent.name for p in pair}
    return kinds.pop() if len(kinds) == 1 else "across types"


# ------------------------------------------------------------------ images
def image_rows(report, truth: dict[str, set[frozenset]], encoder: str, split: str, seconds: float,
               cpu: float) -> list[dict]:
    groups = [{g.keep.path, *(c.path for c in g.copies)} for g in report.groups if g.kind == "image"]
    found = pairs_of(groups)
    rows = []
    for kind in [*truth, "across types"]:
        mine = {p for p in found if type_of(p) == kind}
        if kind == "across types" and not mine:
            continue
        rows.append({"split": split, "encoder": encoder, "type": kind, **score(mine, truth.get(kind, set()))})
    every = set().union(*truth.values())
    for name in dup_sets.ALTERATIONS:  # recall of each alteration: pairs of an original and that copy
        mine = {p for p in every if alteration_of(p) == name}
        hit = len(mine & found)
        rows.append({"split": split, "encoder": encoder, "type": f"copy {name}", "pairs_true": len(mine),
                     "pairs_found": hit, "precision": None, "precision_ci": None,
                     "recall": round(hit / len(mine), 4) if mine else None, "recall_ci": wilson(hit, len(mine))})
    checks = report.checked.get("image", 0)
    rows.append({"split": split, "encoder": encoder, "type": "all", **score(found, every),
                 "seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1), "pixel_checks": checks,
                 "checks_per_cpu_second": round(checks / cpu, 2) if cpu > 0 else None,
                 "load_average": open("/proc/loadavg").read().split()[:3]})
    return rows


def run_images(work: Path, encoders: list[str], splits: list[str]) -> list[dict]:
    from mmsearch import Engine
    from mmsearch.query.duplicates import find_duplicates

    specs = {"toy": "toy", "ViT-B-32 random": random_vit_b32()}
    rows = []
    for split in splits:
        folder = work / split
        truth: dict[str, set[frozenset]] = {}
        for kind, group in dup_sets.write_split(split, folder, ORIGINALS, DISTRACTORS):
            truth.setdefault(kind, set()).update(pairs_of([group]))
        log(f"{split}: {sum(1 for _ in folder.rglob('*.*'))} pictures, "
            f"{sum(len(t) for t in truth.values())} true pairs")
        for name in encoders:
            with Engine(work / f"lib-{split}-{name.split()[0]}", model=specs[name], ocr_model="off") as engine:
                engine.index([folder])
                runs = [(name, True)] + ([("vectors off", False)] if name == "toy" else [])
                for label, vectors in runs:
                    t, c = time.perf_counter(), time.process_time()
                    report = find_duplicates(engine.context, "image", use_vectors=vectors)
                    rows += image_rows(report, truth, label, split, time.perf_counter() - t, time.process_time() - c)
                    log(f"{split} / {label}: {rows[-1]}")
                    write_result("duplicates-partial", {"images": rows})  # a run cut short keeps its rows
    return rows


# ------------------------------------------------------------------ video
def video_set(folder: Path) -> dict:
    import av

    import media_factory as mf

    folder.mkdir(parents=True, exist_ok=True)
    images = mf.footage_images()
    original, other = folder / "trip.mp4", folder / "other.mp4"
    mf.make_footage(original, *mf.random_footage_plan(7, n_shots=6, images=images), size=(256, 144))
    mf.make_footage(other, *mf.random_footage_plan(8, n_shots=6, images=images), size=(256, 144))
    cut_start, cut_end = 1.5, 1.0
    copy = folder / "trip_copy.mkv"
    with av.open(str(original)) as src:
        frames = [(f.time, f.to_ndarray(format="rgb24")) for f in src.decode(video=0)]
    last = frames[-1][0]
    kept = [a for t, a in frames if cut_start - 1e-6 <= t <= last - cut_end]
    out = av.open(str(copy), "w")
    stream = out.add_stream("mpeg4", rate=25)
    stream.width, stream.height, stream.pix_fmt = 160, 90, "yuv420p"

    def frames():
        for i, arr in enumerate(kept):
            frame = av.VideoFrame.from_ndarray(np.asarray(Image.fromarray(arr).resize((160, 90))), format="rgb24")
            frame.pts = i
            yield frame

    write_frames(out, stream, frames())
    return {"original": str(original), "copy": str(copy), "other": str(other), "shift": cut_start}


def run_video(work: Path, encoders: list[str]) -> list[dict]:
    from mmsearch import Engine

    specs = {"toy": "toy", "ViT-B-32 random": random_vit_b32()}
    plan = video_set(work / "videos")
    rows = []
    for name in encoders:
        with Engine(work / f"lib-video-{name.split()[0]}", model=specs[name], ocr_model="off") as engine:
            engine.index([work / "videos"])
            rows.append(video_score(engine, engine.duplicates(kind="video"), plan, name))
    return rows


def video_score(engine, report, plan: dict, label: str) -> dict:
    orig = engine.scenes(plan["original"])
    copy = engine.scenes(plan["copy"])
    shift = plan["shift"]
    truth = set()
    for a, b in itertools.product(orig, copy):
        lo, hi = max(a["start"], b["start"] + shift), min(a["end"], b["end"] + shift)
        shorter = min(a["end"] - a["start"], b["end"] - b["start"])
        if hi - lo >= 0.5 * shorter:
            truth.add(frozenset({(plan["original"], round(a["start"], 3)), (plan["copy"], round(b["start"], 3))}))
    found = set()
    for g in report.groups:
        if g.kind != "scene":
            continue
        members = [(i.path, round(i.start or 0.0, 3)) for i in (g.keep, *g.copies)]
        found |= {frozenset(p) for p in itertools.combinations(members, 2) if p[0][0] != p[1][0]}
    files = [{g.keep.path, *(c.path for c in g.copies)} for g in report.groups if g.kind == "video"]
    return {"encoder": label, "type": "video scenes", **score(found, truth),
            "file_found": {plan["original"], plan["copy"]} in files,
            "other_kept_apart": not any(plan["other"] in f for f in files)}


# ------------------------------------------------------------------ timing
def run_timing(n: int) -> dict:
    from mmsearch.query.duplicates.report import group_pictures
    from mmsearch.query.duplicates.rule import Picture

    rng = np.random.default_rng(0)
    vectors = Clustered(seed=3).array(n).astype(np.float32)
    hashes = rng.integers(0, 2**63, n, dtype=np.uint64) | np.uint64(1 << 63)
    copies_n = n // 10  # 10 % are copies of an earlier picture: near vector, hash a few bits off
    src = rng.integers(0, n - copies_n, copies_n)
    dst = np.arange(n - copies_n, n)
    noise = rng.standard_normal((copies_n, vectors.shape[1])).astype(np.float32) * 0.01
    vectors[dst] = vectors[src] + noise
    vectors[dst] /= np.linalg.norm(vectors[dst], axis=1, keepdims=True)
    flips = np.zeros(copies_n, np.uint64)
    for _ in range(3):
        flips |= np.uint64(1) << rng.integers(0, 63, copies_n).astype(np.uint64)
    hashes[dst] = hashes[src] ^ flips
    pictures = [Picture(i, i, f"/p/{i}.jpg", "image", width=100, height=100, hashes=[int(h)])
                for i, h in enumerate(hashes)]
    has = np.ones(n, bool)
    t = time.perf_counter()
    groups = group_pictures(pictures, vectors, has).groups
    took = time.perf_counter() - t
    found = pairs_of([{pictures[i].segment_id for i in g} for g in groups])
    truth_groups: dict[int, set[int]] = {}
    for s, d in zip(src, dst):
        truth_groups.setdefault(int(s), {int(s)}).add(int(d))
    # a copy of a copy is not made (src < n - copies_n), so the truth groups are the sources' stars
    return {"items": n, "seconds": round(took, 2), "groups": len(groups),
            **score(found, pairs_of(truth_groups.values()))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", default="images,video,timing")
    ap.add_argument("--encoders", default="toy,vit")
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--splits", default="dev,held-out", help="dev alone while tuning the rule")
    ap.add_argument("--docs", action="store_true", help="put the results in docs/benchmarks.md")
    ap.add_argument("--keep-other-splits", action="store_true",
                    help="keep the image rows of the splits not run now from results/duplicates.json (held-out "
                         "scored once, after dev, without measuring dev again)")
    args = ap.parse_args()
    parts = args.parts.split(",")
    names = {"toy": "toy", "vit": "ViT-B-32 random"}
    encoders = [names[e] for e in args.encoders.split(",")]
    result: dict = {"machine": machine(), "images": [], "video": [], "timing": None,
                    "sets": {"originals_per_type": ORIGINALS, "distractors_per_type": DISTRACTORS,
                             "alterations": list(dup_sets.ALTERATIONS)}}
    with tempfile.TemporaryDirectory(prefix="mmsearch-dups-") as tmp:
        if "images" in parts:
            result["images"] = run_images(Path(tmp) / "images", encoders, args.splits.split(","))
            if args.keep_other_splits:
                result["images"] = kept_rows(args.splits.split(",")) + result["images"]
                last = ROOT / "benchmarks" / "results" / "duplicates.json"
                old = json.loads(last.read_text()) if last.exists() else {}
                for part, empty in (("video", []), ("timing", None)):
                    if part not in parts:  # a part not run now keeps its last measurement
                        result[part] = old.get(part, empty)
        if "video" in parts:
            result["video"] = run_video(Path(tmp), encoders)
    if "timing" in parts:
        log("timing")
        result["timing"] = run_timing(args.items)
    result["load_average_at_end"] = open("/proc/loadavg").read().split()[:3]
    publish("duplicates", result, doc_text(result), "## Near-duplicates (bench_duplicates.py)", args.docs)


def kept_rows(splits: list[str]) -> list[dict]:
    """The image rows of the last results/duplicates.json whose split is not among ``splits``."""
    last = ROOT / "benchmarks" / "results" / "duplicates.json"
    old = json.loads(last.read_text()).get("images", []) if last.exists() else []
    return [r for r in old if r["split"] not in splits]


def _cell(row: dict, what: str) -> str:
    value, ci = row.get(what), row.get(f"{what}_ci")
    if value is None:
        return "—" if row["type"].startswith("copy ") else "n/a (n 0)"
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def doc_text(result: dict) -> str:
    m = result["machine"]
    lines = [
        "## Near-duplicates (bench_duplicates.py)", "",
        f"Measured {m['date']} on {m['cpu_cores']} CPU cores (load average at start "
        f"{m['load_average_at_start']}, at end {' '.join(result['load_average_at_end'])}; a shared machine). "
        "Default threshold 12 hash bits of 63; candidates are the hash pairs plus the vector neighbours (never "
        "fewer than with vectors off); every image candidate must pass the pixel check "
        "(mmsearch/query/duplicates/confirm.py: the whole pictures, then a template match over offsets and "
        "scales, then where matched ORB keypoints put it, mmsearch/query/duplicates/align.py; then compared cell "
        "by cell); pictures too flat to hash are compared by their colours (mmsearch/query/duplicates/flat.py: one "
        "brightness gain, so a colour-balanced copy of a plain colour is not found). The vectors never decide "
        "alone. "
        "Sets (benchmarks/dup_sets.py): "
        f"per type {result['sets']['originals_per_type']} originals x {len(result['sets']['alterations'])} copies "
        f"({', '.join(result['sets']['alterations'])}) among {result['sets']['distractors_per_type']} more distinct "
        "pictures of the same kind. **dev** (the rule was tuned on it): openclipart clip art on white (its "
        "shapes/stars/ star polygons left out: at this size they render as one ring, a stroke apart), desktop-base "
        "wallpapers, slides of template A in DejaVu Sans over the GPL-3, page scans in DejaVu Serif of the "
        "Apache-2.0 and GPL-2, and session 9's held-out split (seen since, so now dev): oxygen icons on white, "
        "gnome-backgrounds (light and dark variants), slides of template B in Carlito and page scans in "
        "FreeSerif over Python's standard-library docs; **held-out** (session 10, sources no earlier split used, "
        "scored once with the rule frozen on dev): Adwaita icons (512 px, drawn at 192) on white, mate-backgrounds, slides of "
        "template C in Liberation Sans over the MPL-2.0 and LGPL-2.1, page scans in Noto Serif of the GFDL-1.3 "
        "and Artistic licence. Pairs counted; 95 % Wilson intervals in brackets. Rows `copy NAME`: recall of "
        "the pairs of an original and its NAME copy (precision is per type).", "",
        "| split | encoder | type | true pairs | found | precision | recall |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in result["images"]:
        lines.append(f"| {r['split']} | {r['encoder']} | {r['type']} | {r['pairs_true']} | {r['pairs_found']} | "
                     f"{_cell(r, 'precision')} | {_cell(r, 'recall')} |")
    short = [f"{r['split']} {r['encoder']} {r['type']}" for r in result["images"] if r["type"] != "all"
             and ((r["precision"] is not None and r["precision"] < 1.0) or (r["recall"] or 0.0) < 0.95)]
    if result["images"]:
        lines += ["", "The goal (precision 1.00 and recall >= 0.95 per type) is met in every row." if not short else
                  "The goal (precision 1.00 and recall >= 0.95 per type) is not met in: " + "; ".join(short) + "."]
    alls = [r for r in result["images"] if r["type"] == "all"]
    if alls:
        lines += ["", "Time of one `duplicates` run (catalog read, candidates, pixel checks; wall s, CPU s, pixel "
                  "checks, checks per CPU s, load average then): " + "; ".join(
                      f"{r['split']} {r['encoder']} {r['seconds'] if r.get('seconds') is not None else 'n/a'} s, {r.get('cpu_seconds', 'n/a')} CPU s, "
                      f"{r['pixel_checks']} checks, {r.get('checks_per_cpu_second', 'n/a')}/CPU s, "
                      f"load {' '.join(r.get('load_average', ['n/a']))}" for r in alls) + "."]
    if result["video"]:
        lines += ["", "Video (footage re-encoded to MPEG-4 160x90 and trimmed, beside another video of the same "
                  "photos):", "", "| encoder | scene pairs true | found | precision | recall | file found | "
                  "other kept apart |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for r in result["video"]:
            lines.append(f"| {r['encoder']} | {r['pairs_true']} | {r['pairs_found']} | {_cell(r, 'precision')} | "
                         f"{_cell(r, 'recall')} | {r['file_found']} | {r['other_kept_apart']} |")
    tm = result["timing"]
    if tm:
        lines += ["", f"Grouping {tm['items']:,} pictures (synthetic 512-d vectors and hashes, 10 % copies; IVF "
                  f"neighbour search, hash confirmation, union-find; catalog read not included): {tm['seconds']} s, "
                  f"precision {tm['precision']}, recall {tm['recall']}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
