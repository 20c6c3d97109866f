"""Near-duplicates: precision and recall of ``Engine.duplicates`` at the default threshold, and the time to
group 100k pictures.

    .venv/bin/python benchmarks/bench_duplicates.py [--encoders toy,vit] [--items 100000] [--docs]

Images: each real photo of sample_data/images as a PNG original plus four copies (JPEG re-encoded at q=60,
resized to 50 %, cropped by 10 % around its centre, colours shifted: R x1.1, G x0.95, B x0.85, +10), so 7
groups of 5; distractors: every photo's four quarters and nine ninths (other pictures of the same scenes:
91 files) and four solid colours. A one-sided 10 % crop (the left tenth cut off) is scored on its own
(``side crop``), not in the headline. Scores are over pairs: a reported pair is two files of one group.
Video: a 6-shot footage video (tests/media_factory.py, camera motion over the photos), a copy re-encoded
(MPEG-4 in .mkv, 160x90 instead of 256x144) and trimmed (1.5 s cut at the start, 1 s at the end), and a
different 6-shot video over the same photos; scene pairs are true when they overlap by half the shorter
one on the original's timeline, and the file pair (copy, original) must be reported.
Both go through the real pipeline (index, then ``Engine.duplicates``) with the deterministic toy encoder
and a random-init ViT-B-32. Timing: :func:`mmsearch.duplicates.group_pictures` on synthetic clustered
512-d vectors with hashes, 10 % of them in groups of copies. Writes benchmarks/results/duplicates.json.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from _common import Clustered, log, machine, publish, random_vit_b32, table, write_frames

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

SAMPLES = ROOT / "sample_data" / "images"


# ------------------------------------------------------------------ data
def copies(image: Image.Image) -> dict[str, Image.Image]:
    import media_factory as mf

    return mf.picture_copies(image, Image.Resampling.LANCZOS)


def image_set(folder: Path) -> tuple[list[set[str]], set[str]]:
    """Write the image set; (true groups of the headline, side-crop files)."""
    folder.mkdir(parents=True, exist_ok=True)
    groups, side = [], set()
    for path in sorted(SAMPLES.glob("*.jpg")):
        image = Image.open(path).convert("RGB")
        stem, (w, h) = path.stem, image.size
        image.save(folder / f"{stem}.png")
        group = {str(folder / f"{stem}.png")}
        for kind, copy in copies(image).items():
            copy.save(folder / f"{stem}_{kind}.jpg", quality=92)
            group.add(str(folder / f"{stem}_{kind}.jpg"))
        groups.append(group)
        image.crop((w // 10, 0, w, h)).save(folder / f"{stem}_sidecrop.jpg", quality=92)
        side.add(str(folder / f"{stem}_sidecrop.jpg"))
        for n in (2, 3):
            for i, j in itertools.product(range(n), range(n)):
                image.crop((i * w // n, j * h // n, (i + 1) * w // n, (j + 1) * h // n)).save(
                    folder / f"{stem}_tile{n}{i}{j}.jpg", quality=92)
    for k, colour in enumerate([(220, 30, 30), (30, 60, 220), (10, 10, 10), (245, 245, 245)]):
        Image.new("RGB", (200, 150), colour).save(folder / f"solid{k}.png")
    return groups, side


def pairs_of(groups) -> set[frozenset]:
    return {frozenset(p) for g in groups for p in itertools.combinations(sorted(g), 2)}


def score(found: set[frozenset], truth: set[frozenset]) -> dict:
    hit = len(found & truth)
    return {"pairs_found": len(found), "pairs_true": len(truth), "precision": round(hit / max(len(found), 1), 4),
            "recall": round(hit / max(len(truth), 1), 4)}


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


# ------------------------------------------------------------------ quality
def run_quality(spec: str, label: str, work: Path) -> list[dict]:
    from mmsearch import Engine

    photos, videos = work / "photos", work / "videos"
    groups, side = image_set(photos)
    plan = video_set(videos)
    rows = []
    with Engine(work / f"lib-{label.split()[0]}", model=spec) as engine:
        t = time.perf_counter()
        engine.index([photos, videos])
        log(f"{label}: indexed in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        report = engine.duplicates()
        took = time.perf_counter() - t
        grouped = [{g.keep.path, *(c.path for c in g.copies)} for g in report.groups if g.kind == "image"]
        found = pairs_of(grouped)
        headline = {p for p in found if not (p & side)}
        rows.append({"encoder": label, "set": "images", **score(headline, pairs_of(groups)),
                     "seconds": round(took, 2)})
        side_truth = set()
        for g in groups:
            stem = next(Path(m).stem for m in g if m.endswith(".png"))
            for s in side:
                if Path(s).stem == f"{stem}_sidecrop":
                    side_truth |= {frozenset((s, member)) for member in g}
        rows.append({"encoder": label, "set": "side crop", **score({p for p in found if p & side}, side_truth)})
        rows.append(video_score(engine, report, plan, label))
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
    return {"encoder": label, "set": "video scenes", **score(found, truth),
            "file_found": {plan["original"], plan["copy"]} in files,
            "other_kept_apart": not any(plan["other"] in f for f in files)}


# ------------------------------------------------------------------ timing
def run_timing(n: int) -> dict:
    from mmsearch import duplicates as dups

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
    pictures = [dups.Picture(i, i, f"/p/{i}.jpg", "image", width=100, height=100, hashes=[int(h)])
                for i, h in enumerate(hashes)]
    has = np.ones(n, bool)
    t = time.perf_counter()
    groups = dups.group_pictures(pictures, vectors, has)
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
    ap.add_argument("--encoders", default="toy,vit")
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--docs", action="store_true", help="put the results in docs/benchmarks.md")
    args = ap.parse_args()
    result = {"machine": machine(), "quality": [], "timing": None}
    specs = {"toy": ("toy", "toy"), "vit": (None, "ViT-B-32 random")}
    with tempfile.TemporaryDirectory(prefix="mmsearch-dups-") as tmp:
        for name in args.encoders.split(","):
            spec, label = specs[name]
            result["quality"] += run_quality(spec or random_vit_b32(), label, Path(tmp) / name)
    log("timing")
    result["timing"] = run_timing(args.items)
    cols = ["encoder", "set", "pairs_true", "pairs_found", "precision", "recall", "file_found", "other_kept_apart"]
    tm = result["timing"]
    text = (
        "## Near-duplicates (bench_duplicates.py)\n\n"
        f"Measured {result['machine']['date']} on {result['machine']['cpu_cores']} CPU cores "
        f"(load average at start {result['machine']['load_average_at_start']}; a shared machine: timings are "
        "noisy). Default threshold: 12 hash bits of 63. Images: 7 photos x (PNG original, JPEG q60, 50 %, centred "
        "10 % crop, colour shift) among 91 tiles of the same photos and 4 solid colours; video: footage re-encoded "
        "(MPEG-4, 160x90) and trimmed (1.5 s + 1 s) beside another video of the same photos.\n\n"
        + _markdown(result["quality"], cols)
        + f"\n\nGrouping {tm['items']:,} pictures (synthetic 512-d vectors and hashes, 10 % copies; IVF neighbour "
        f"search, hash confirmation, union-find; catalog read not included): {tm['seconds']} s, "
        f"precision {tm['precision']}, recall {tm['recall']}.\n"
    )
    print(table(result["quality"], cols), file=sys.stderr)
    publish("duplicates", result, text, "## Near-duplicates (bench_duplicates.py)", args.docs)


def _markdown(rows: list[dict], cols: list[str]) -> str:
    lines = ["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
