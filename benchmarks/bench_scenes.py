"""Scene cuts: F1 of detected transitions on generated videos with known transitions, side by side.

    .venv/bin/python benchmarks/bench_scenes.py [--seed 100] [--videos 3] [--encoders toy,vit]
                                                [--no-peers] [--quick]

Two sets of videos, made by tests/media_factory.py from the real photos in sample_data/images at
25 fps (never committed; cached under $MMSEARCH_BENCH_CACHE):
  * ``stills``: still photos with a slow zoom or pan, hard cuts only;
  * ``footage``: shots with camera motion (pan, zoom, handheld shake, moving crop, lighting change, a
    moving object) joined by hard cuts, dissolves of 0.4-0.8 s and fades through black, with flashes
    (2-3 bright frames) and single glitched frames inside shots (not transitions).
Scores: F1 with a +-0.5 s window around each transition's span (``f1``), and TransNetV2's protocol
for hard cuts (+-2 frames; detections near a gradual transition are ignored there: ``f1_cut2f``).
Methods: mmsearch's fused rule with the toy encoder and a random-init ViT-B-32 (with and without
TransNetV2, on the CPU budget), the embeddings-only rule, PySceneDetect's ContentDetector and
AdaptiveDetector (defaults) and bare TransNetV2 on every frame at threshold 0.5.
``x_rt``: seconds of video per second of the method's own work (for mmsearch: cut detection only,
i.e. the dense stream's extra decode cost plus the decision; the encoder's cost is the same with or
without it). Writes benchmarks/results/scenes.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from _common import CACHE, log, machine, random_vit_b32, table, write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import media_factory as mf

# ------------------------------------------------------------------ data

def make_sets(seed: int, videos: int, quick: bool) -> dict[str, list[tuple[Path, list, float]]]:
    folder = CACHE / "scenes"
    folder.mkdir(parents=True, exist_ok=True)
    images = mf.footage_images()
    out: dict[str, list] = {"stills": [], "footage": []}
    shots = 6 if quick else 12
    for name, videos_of_set in out.items():
        for k in range(videos):
            s = seed * 1000 + k * 10 + (name == "footage")
            path = folder / f"{name}-{s}-{shots}.mp4"
            meta = path.with_suffix(".json")
            if not (path.exists() and meta.exists()):
                plan = mf.random_footage_plan(s, n_shots=shots, stills=name == "stills", images=images)
                truth = mf.make_footage(path, *plan, size=(256, 144))
                meta.write_text(json.dumps([[t.kind, t.start, t.end] for t in truth]))
            truth = json.loads(meta.read_text())
            dur = _duration(path)
            videos_of_set.append((path, truth, dur))
    return out


def _duration(path: Path) -> float:
    from mmsearch.media.video import probe_video

    return probe_video(path).duration


# ------------------------------------------------------------------ scoring

def score(found: list[float], truth: list, fps: float = 25.0) -> dict:
    """tp/fp/fn with +-0.5 s around each span, and with +-2 frames for hard cuts only."""
    def match(spans, preds, tol, ignore=()):
        preds = sorted(p for p in preds if not any(a - 0.5 <= p <= b + 0.5 for a, b in ignore))
        used = set()
        tp = 0
        for a, b in spans:
            best = None
            for i, p in enumerate(preds):
                if i not in used and a - tol <= p <= b + tol:
                    d = 0.0 if a <= p <= b else min(abs(p - a), abs(p - b))
                    if best is None or d < best[0]:
                        best = (d, i)
            if best is not None:
                used.add(best[1])
                tp += 1
        return tp, len(preds) - tp, len(spans) - tp

    spans = [(a, b) for _, a, b in truth]
    cuts = [(a, b) for k, a, b in truth if k == "cut"]
    gradual = [(a, b) for k, a, b in truth if k != "cut"]
    return {"win": match(spans, found, 0.5), "cut2f": match(cuts, found, 2.0 / fps + 1e-6, ignore=gradual)}


def f1(counts: list[tuple[int, int, int]]) -> float:
    tp = sum(c[0] for c in counts)
    fp = sum(c[1] for c in counts)
    fn = sum(c[2] for c in counts)
    return round(2 * tp / max(1, 2 * tp + fp + fn), 3)


# ------------------------------------------------------------------ methods

def mmsearch_method(encoder, model):
    from indexers.video import embed_frames
    from mmsearch.encoders.shots import budget_frames
    from mmsearch.scenes import decide_cuts

    def run(path: Path) -> tuple[list[float], float]:
        t0 = time.perf_counter()
        plain = embed_frames(str(path), encoder, 1.0, 32, shots=False)
        t_plain = time.perf_counter() - t0
        t0 = time.perf_counter()
        video = embed_frames(str(path), encoder, 1.0, 32, shots=True)
        t_dense = time.perf_counter() - t0
        t0 = time.perf_counter()
        cuts = decide_cuts(video.shots, video.times, video.vectors, model=model,
                           budget_frames=budget_frames(model, len(video.shots)))
        t_decide = time.perf_counter() - t0
        del plain
        return [c.time for c in cuts], max(1e-6, t_dense - t_plain) + t_decide, t_plain
    return run


def embeddings_only(encoder):
    from indexers.video import embed_frames
    from mmsearch.scenes import cut_scenes

    def run(path: Path):
        t0 = time.perf_counter()
        video = embed_frames(str(path), encoder, 1.0, 32, shots=False)
        t_plain = time.perf_counter() - t0
        t0 = time.perf_counter()
        scenes = cut_scenes(video.times, video.vectors, video.duration, min_length=0.0, max_length=None)
        return [s.start for s in scenes[1:]], time.perf_counter() - t0, t_plain
    return run


def pyscenedetect(kind: str):
    from scenedetect import AdaptiveDetector, ContentDetector, detect

    def run(path: Path):
        t0 = time.perf_counter()
        scenes = detect(str(path), ContentDetector() if kind == "content" else AdaptiveDetector())
        return [s[0].get_seconds() for s in scenes[1:]], time.perf_counter() - t0, None
    return run


def transnet_bare(model):
    import av
    import torch
    from av.video.reformatter import VideoReformatter

    def run(path: Path):
        t0 = time.perf_counter()
        frames, times = [], []
        fmt = VideoReformatter()
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            for fr in c.decode(s):
                frames.append(fmt.reformat(fr, width=48, height=27, format="rgb24", interpolation="AREA").to_ndarray())
                times.append(float(fr.pts * s.time_base))
        net = model.net
        with torch.inference_mode():
            single, _ = net.predict_frames(torch.from_numpy(np.stack(frames)).to(model.device), quiet=True)
        pred = single.cpu().numpy()
        scenes = net.predictions_to_scenes(pred, threshold=0.5)
        cuts = [times[int(a)] for a, _ in scenes[1:]]
        return cuts, time.perf_counter() - t0, None
    return run


# ------------------------------------------------------------------ main

def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--videos", type=int, default=3, help="videos per set")
    ap.add_argument("--encoders", default="toy,vit")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--no-model", action="store_true", help="skip every TransNetV2 method")
    ap.add_argument("--quick", action="store_true", help="6 shots per video instead of 12")
    ap.add_argument("--only", default="", help="comma-separated method names to run")
    args = ap.parse_args()

    import torch

    from mmsearch.encoders import load_image_text_encoder
    from mmsearch.encoders.shots import load_shot_model

    torch.set_num_threads(2)
    sets = make_sets(args.seed, args.videos, args.quick)
    model, why = (None, "skipped") if args.no_model else load_shot_model("bundled", "auto")
    if model is None:
        log(f"no TransNetV2 ({why})")
    methods: dict[str, object] = {}
    for name in args.encoders.split(","):
        enc = load_image_text_encoder("toy" if name == "toy" else random_vit_b32(), "auto")
        methods[f"mmsearch rule ({name})"] = mmsearch_method(enc, None)
        if model is not None:
            methods[f"mmsearch fused ({name})"] = mmsearch_method(enc, model)
        methods[f"embeddings only ({name})"] = embeddings_only(enc)
    if not args.no_peers:
        try:
            methods["PySceneDetect content"] = pyscenedetect("content")
            methods["PySceneDetect adaptive"] = pyscenedetect("adaptive")
        except ImportError as exc:
            log(f"no PySceneDetect ({exc}); its rows are skipped")
        if model is not None:
            methods["TransNetV2 @0.5"] = transnet_bare(model)
    if args.only:
        keep = set(args.only.split(","))
        methods = {k: v for k, v in methods.items() if k in keep}

    rows, detail = [], {}
    for mname, run in methods.items():
        row = {"method": mname}
        for sname, vids in sets.items():
            counts_w, counts_f, spent, total, plain = [], [], 0.0, 0.0, 0.0
            for path, truth, dur in vids:
                found, secs, t_plain = run(path)
                sc = score(found, truth)
                counts_w.append(sc["win"])
                counts_f.append(sc["cut2f"])
                spent += secs
                total += dur
                plain += t_plain or 0.0
                detail[f"{mname}|{path.name}"] = {"found": [round(x, 2) for x in found], "score": sc}
            row[f"{sname} f1"] = f1(counts_w)
            row[f"{sname} f1_cut2f"] = f1(counts_f)
            row[f"{sname} x_rt"] = round(total / max(spent, 1e-6), 1)
            if plain:
                row[f"{sname} +%"] = round(100 * spent / plain, 1)
        log(str(row))
        rows.append(row)
    cols = ["method"] + [f"{s} {c}" for s in sets for c in ("f1", "f1_cut2f", "x_rt", "+%")]
    print(table(rows, cols))
    print("(+%: cut detection's cost relative to decoding + encoding the same video without it)")
    write_result("scenes", {"machine": machine(), "seed": args.seed, "videos": args.videos, "rows": rows,
                            "detail": detail})


if __name__ == "__main__":
    main()
