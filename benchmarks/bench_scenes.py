"""Scene cuts on real footage: F1 and speed of every method side by side, on dev and held-out splits.

    .venv/bin/python benchmarks/bench_scenes.py [--splits dev,heldout] [--videos 10] [--encoders toy,vit]
                                                [--regression]

The splits are spliced from real footage and real pictures with known transitions by
``benchmarks/scene_sets.py`` (sources fetched at run time into benchmarks/results/tmp/, never committed;
dev and held-out from *different* sources). Two sets per split: ``footage`` (hard cuts, dissolves of
10-25 frames, fades through black, 2-frame flashes that are not cuts) and ``stills`` (pictures with a slow
pan/zoom on light plain backgrounds and slides, a hard cut about every 4 s).

Methods, on the same videos in the same run: mmsearch with TransNetV2 (its CPU budget) and without it
(pixels only), each with the toy encoder and a random-init ViT-B-32; bare TransNetV2 on every frame at
threshold 0.5 (its own ``predict_frames`` windows, batched, + ``predictions_to_scenes``); PySceneDetect's AdaptiveDetector
and ContentDetector (defaults).

Score: a detection counts anywhere in a transition's span +-0.5 s (one detection per transition). F1 with
a 95 % bootstrap interval over videos (2000 resamples); the misses by transition kind. ``x_rt``: seconds of
video per second of the method's cut detection (mmsearch: the dense stream's per-frame work + the decision,
inside its single decode pass; peers: their whole run, decoding included); ``index x_rt`` (mmsearch): the
whole decode + encode + cut run. ``--regression`` adds the old generated-from-photos sets
(tests/media_factory.py). Writes benchmarks/results/scenes.json (``--out``).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from _common import CACHE, log, machine, random_vit_b32, table, write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import scene_sets  # benchmarks/ is on sys.path when run as a script

# ------------------------------------------------------------------ scoring


def score(found: list[float], truth: list) -> dict:
    """tp/fp/fn with +-0.5 s around each span (nearest unused detection), and the missed kinds."""
    preds = sorted(found)
    used: set[int] = set()
    missed: list[str] = []
    for kind, a, b in truth:
        best = None
        for i, p in enumerate(preds):
            if i not in used and a - 0.5 <= p <= b + 0.5:
                d = 0.0 if a <= p <= b else min(abs(p - a), abs(p - b))
                if best is None or d < best[0]:
                    best = (d, i)
        if best is None:
            missed.append(kind)
        else:
            used.add(best[1])
    tp = len(truth) - len(missed)
    return {"tp": tp, "fp": len(preds) - tp, "fn": len(missed), "missed": missed}


def f1_of(scores: list[dict]) -> float:
    tp = sum(s["tp"] for s in scores)
    return 2 * tp / max(1, 2 * tp + sum(s["fp"] + s["fn"] for s in scores))


def interval(scores: list[dict], reps: int = 2000) -> tuple[float, float]:
    """95 % bootstrap interval of F1, resampling videos."""
    rng = np.random.default_rng(0)
    vals = [f1_of([scores[i] for i in rng.integers(0, len(scores), len(scores))]) for _ in range(reps)]
    return float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))


# ------------------------------------------------------------------ methods


class _Timed:
    """Wraps ShotStream.push to time the candidate stage inside the single decode pass."""
    spent = 0.0


def mmsearch_pair(encoder, model):
    """Runs one decode pass and returns both verdicts: (with model, pixels only)."""

    import mmsearch.indexers.kinds.video.frames as iv
    from mmsearch.analysis.scenes import ShotStream, decide_cuts
    from mmsearch.encoders.shots import budget_frames

    class TimedStream(ShotStream):
        def push(self, t, frame):
            t0 = time.perf_counter()
            super().push(t, frame)
            _Timed.spent += time.perf_counter() - t0

    def run(path: Path) -> dict:
        iv.ShotStream = TimedStream          # type: ignore[misc]
        _Timed.spent = 0.0
        t0 = time.perf_counter()
        video = iv.embed_frames(str(path), encoder, 1.0, 32, shots=True)
        t_embed = time.perf_counter() - t0
        stream_s = _Timed.spent
        iv.ShotStream = ShotStream          # type: ignore[misc]
        out = {}
        t0 = time.perf_counter()
        plain = decide_cuts(video.shots, video.times, video.vectors, model=None, budget_frames=0)
        out["pixels"] = ([c.time for c in plain], stream_s + time.perf_counter() - t0, t_embed)
        if model is not None:
            for c in video.shots.candidates:
                c.probability, c.model_index = None, None
            t0 = time.perf_counter()
            cuts = decide_cuts(video.shots, video.times, video.vectors, model=model,
                               budget_frames=budget_frames(model, len(video.shots)))
            dt = time.perf_counter() - t0
            out["model"] = ([c.time for c in cuts], stream_s + dt, t_embed + dt)
        return out
    return run


def pyscenedetect(kind: str):
    from scenedetect import AdaptiveDetector, ContentDetector, detect

    def run(path: Path):
        t0 = time.perf_counter()
        scenes = detect(str(path), ContentDetector() if kind == "content" else AdaptiveDetector())
        return [s[0].get_seconds() for s in scenes[1:]], time.perf_counter() - t0, None
    return run


def predict_all(net, frames: np.ndarray, batch: int = 8) -> np.ndarray:
    """TransNetV2's own ``predict_frames`` (100-frame windows every 50 frames, 25 edge frames of padding,
    the middle 50 of each kept), with the windows batched: the same numbers, several times faster here."""
    import torch

    n = len(frames)
    end_pad = 25 + 50 - (n % 50 if n % 50 else 50)
    padded = np.concatenate([frames[:1]] * 25 + [frames] + [frames[-1:]] * end_pad)
    starts = list(range(0, len(padded) - 100 + 1, 50))
    out = []
    with torch.inference_mode():
        for i in range(0, len(starts), batch):
            x = torch.from_numpy(np.stack([padded[s:s + 100] for s in starts[i:i + batch]]))
            single, _ = net(x.to(net.device))
            out.append(torch.sigmoid(single[:, 25:75, 0]).float().cpu().numpy().reshape(-1))
    return np.concatenate(out)[:n]


def transnet_bare(model):
    import av
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
        pred = predict_all(model.net, np.stack(frames))
        scenes = model.net.predictions_to_scenes(pred, threshold=0.5)
        return [times[int(a)] for a, _ in scenes[1:]], time.perf_counter() - t0, None
    return run


# ------------------------------------------------------------------ main


def _regression_sets(seed: int, videos: int) -> dict[str, list]:
    import json

    from mmsearch.media.video import probe_video

    import media_factory as mf

    folder = CACHE / "scenes"
    folder.mkdir(parents=True, exist_ok=True)
    images = mf.footage_images()
    out: dict[str, list] = {"generated stills": [], "generated footage": []}
    for name, vids in out.items():
        for k in range(videos):
            s = seed * 1000 + k * 10 + (name == "generated footage")
            path = folder / f"{name.split()[1]}-{s}-12.mp4"
            meta = path.with_suffix(".json")
            if not (path.exists() and meta.exists()):
                plan = mf.random_footage_plan(s, n_shots=12, stills=name == "generated stills", images=images)
                truth = mf.make_footage(path, *plan, size=(256, 144))
                meta.write_text(json.dumps([[t.kind, t.start, t.end] for t in truth]))
            vids.append((path, json.loads(meta.read_text()), probe_video(path).duration))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--splits", default="dev,heldout")
    ap.add_argument("--videos", type=int, default=10, help="videos per set")
    ap.add_argument("--encoders", default="toy,vit")
    ap.add_argument("--regression", action="store_true", help="also the old generated-from-photos sets")
    ap.add_argument("--no-bare", action="store_true", help="skip bare TransNetV2 (slow on the CPU)")
    ap.add_argument("--out", default="scenes", help="results file name under benchmarks/results/")
    args = ap.parse_args()

    import torch

    from mmsearch.encoders import load_image_text_encoder
    from mmsearch.encoders.shots import load_shot_model

    torch.set_num_threads(2)
    seeds = {"dev": 11, "heldout": 23}
    sets: dict[str, list] = {}
    for split in args.splits.split(","):
        for name, vids in scene_sets.make_split(split, args.videos, seeds[split], CACHE).items():
            sets[f"{split} {name}"] = vids
    if args.regression:
        sets.update(_regression_sets(300, 3))
    model, why = load_shot_model("bundled", "auto")
    if model is None:
        log(f"no TransNetV2 ({why})")

    results: dict[str, dict[str, list]] = {}   # method -> set -> [(score, secs, index_secs, dur)]

    def add(method: str, set_name: str, found, secs, index_secs, dur, truth):
        results.setdefault(method, {}).setdefault(set_name, []).append(
            {**score(found, truth), "secs": secs, "index_secs": index_secs, "dur": dur})

    for name in args.encoders.split(","):
        enc = load_image_text_encoder("toy" if name == "toy" else random_vit_b32(), "auto")
        run = mmsearch_pair(enc, model)
        for set_name, vids in sets.items():
            for path, truth, dur in vids:
                out = run(path)
                for variant, (found, secs, index_secs) in out.items():
                    label = f"mmsearch + TransNetV2 ({name})" if variant == "model" else f"mmsearch pixels only ({name})"
                    add(label, set_name, found, secs, index_secs, dur, truth)
            log(f"{name} {set_name} done")
    peers = {"PySceneDetect AdaptiveDetector": pyscenedetect("adaptive"),
             "PySceneDetect ContentDetector": pyscenedetect("content")}
    if model is not None and not args.no_bare:
        peers["TransNetV2 alone @0.5"] = transnet_bare(model)
    for pname, prun in peers.items():
        for set_name, vids in sets.items():
            for path, truth, dur in vids:
                found, secs, _ = prun(path)
                add(pname, set_name, found, secs, None, dur, truth)
            log(f"{pname} {set_name} done")

    rows = []
    for method, by_set in results.items():
        for set_name, items in by_set.items():
            f1 = f1_of(items)
            lo, hi = interval(items)
            missed: dict[str, int] = {}
            for it in items:
                for k in it["missed"]:
                    missed[k] = missed.get(k, 0) + 1
            dur = sum(it["dur"] for it in items)
            idx = [it["index_secs"] for it in items if it["index_secs"] is not None]
            rows.append({"set": set_name, "method": method, "videos": len(items),
                         "transitions": sum(it["tp"] + it["fn"] for it in items),
                         "f1": round(f1, 3), "f1 95%": f"{lo:.2f}-{hi:.2f}",
                         "fp": sum(it["fp"] for it in items), "missed": missed,
                         "x_rt": round(dur / max(1e-6, sum(it["secs"] for it in items)), 1),
                         "index x_rt": round(dur / sum(idx), 1) if idx else ""})
    rows.sort(key=lambda r: (r["set"], -r["f1"]))
    cols = ["set", "method", "videos", "transitions", "f1", "f1 95%", "fp", "missed", "x_rt", "index x_rt"]
    print(table(rows, cols))
    write_result(args.out, {"machine": machine(), "load_average_at_end": [round(x, 2) for x in __import__("os").getloadavg()],
                            "videos": args.videos, "seeds": seeds, "rows": rows})


if __name__ == "__main__":
    main()
