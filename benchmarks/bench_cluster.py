"""Index runs on a Ray cluster (``--ray``) against a local run, on a local multi-node cluster.

    .venv/bin/python benchmarks/bench_cluster.py [--images 120] [--videos 3] [--seconds 8] [--model toy|vit-b-32]
    python benchmarks/bench_cluster.py --address auto --folder /shared/bench [--model ViT-B-32:laion2b_s34b_b79k]

The second form runs against a real cluster (see docs/cluster.md): the files are generated under
``--folder`` (a path every node mounts), the local run is this machine alone, then the cluster.

Three runs over the same folder (JPEGs 640x480 and generated H.264 videos), each into a fresh library:
a local run (``Engine.index``), then a Ray cluster of a head with no CPUs and **one** worker node of 2
CPUs, then one of **two** worker nodes of 1 CPU each (``ray.cluster_utils.Cluster``: separate raylets
on this machine). Reported per run: files/s, seconds of video/s, the driver's CPU per file (the whole
``index`` call in the driver process: scan, diff, commits; for the local run that includes its decode
and encode threads), bytes pickled to and from the nodes per file, which nodes decoded and encoded how
many files, and the overhead against the local run. Cluster start-up is timed apart (not in files/s).

On this 2-core machine both cluster shapes have the same 2 CPUs: the point is that the second node's
work is used and the driver is not the bottleneck, not a speed-up. Writes benchmarks/results/bench_cluster.json.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from _common import CACHE, HERE, log, machine, random_vit_b32, table, write_result

sys.path.insert(0, str(HERE.parent / "tests"))
from bench_ingest import make_jpegs

import media_factory as mf


def make_folder(root: Path, images: int, videos: int, seconds: float) -> float:
    """The benchmark's files; returns the seconds of video in them."""
    make_jpegs(root / "photos", images)
    colours = ["red", "blue", "green", "yellow", "purple", "orange"]
    (root / "videos").mkdir(parents=True, exist_ok=True)
    for i in range(videos):
        shots = [(colours[(i + j) % len(colours)], seconds / 4) for j in range(4)]
        mf.make_video(root / "videos" / f"v{i}.mp4", shots, codec="h264", size=(320, 240))
    return videos * seconds


def timed_index(library: Path, folder: Path, model: str, ray: str | None) -> dict:
    from mmsearch import Engine

    with Engine(library, model=model) as engine:
        cpu0, t0 = time.process_time(), time.monotonic()
        report = engine.index([folder], ray=ray or "")
        wall, cpu = time.monotonic() - t0, time.process_time() - cpu0
        assert report.failed == 0, report.failures
        ok = engine.check().ok
    return {"wall_s": wall, "driver_cpu_s": cpu, "files": report.added, "check_ok": ok, "cluster": report.cluster}


def cluster_run(shape: list[int], library: Path, folder: Path, model: str) -> dict:
    from mmsearch.indexers.cluster.require import require_ray

    ray = require_ray()  # as a run does (usage statistics off), before the nodes start and inherit the environment
    from ray.cluster_utils import Cluster

    t0 = time.monotonic()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for cpus in shape:
        c.add_node(num_cpus=cpus)
    c.wait_for_nodes()
    ray.init(address=c.address, logging_level="WARNING", log_to_driver=False)
    started = time.monotonic() - t0
    try:
        out = timed_index(library, folder, model, c.address)
    finally:
        ray.shutdown()
        c.shutdown()
    out["cluster_start_s"] = started
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=120)
    ap.add_argument("--videos", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--model", default="toy", help="toy (the pipeline's own cost), vit-b-32 (random weights) "
                    "or any model spec")
    ap.add_argument("--address", help="a running cluster instead of local ones (auto, ray://HOST:PORT, HOST:PORT)")
    ap.add_argument("--folder", type=Path, help="where to generate the files (with --address: on the shared filesystem)")
    args = ap.parse_args()
    model = random_vit_b32() if args.model == "vit-b-32" else args.model
    work = args.folder or CACHE / "cluster"
    folder = work / "media"
    shutil.rmtree(work, ignore_errors=True)
    video_s = make_folder(folder, args.images, args.videos, args.seconds)
    load0 = os.getloadavg()[0]
    runs = {"local": timed_index(work / "lib-local", folder, model, None)}
    log(f"local: {runs['local']['wall_s']:.1f} s")
    if args.address:
        runs[f"cluster {args.address}"] = timed_index(work / "lib-cluster", folder, model, args.address)
        log(f"cluster: {runs[f'cluster {args.address}']['wall_s']:.1f} s")
    for name, shape in (("1 node x 2 CPU", [2]), ("2 nodes x 1 CPU", [1, 1])) if not args.address else ():
        runs[name] = cluster_run(shape, work / f"lib-{len(shape)}", folder, model)
        log(f"{name}: {runs[name]['wall_s']:.1f} s")
    rows = []
    base = runs["local"]["wall_s"]
    for name, r in runs.items():
        n = r["files"]
        c = r["cluster"] or {}
        rows.append({
            "run": name, "files": n, "wall_s": round(r["wall_s"], 1), "files_per_s": round(n / r["wall_s"], 2),
            "video_s_per_s": round(video_s / r["wall_s"], 2),
            "driver_cpu_ms_per_file": round(1000 * r["driver_cpu_s"] / n, 1),
            "bytes_per_file": c.get("bytes_per_file", 0),
            "encoded_on_nodes": sorted(c.get("encoded_on", {}).values()) if c else "-",
            "decoded_on_nodes": sorted(c.get("decoded_on", {}).values()) if c else "-",
            "overhead_vs_local": f"{r['wall_s'] / base - 1:+.0%}" if name != "local" else "-",
            "cluster_start_s": round(r.get("cluster_start_s", 0.0), 1), "check_ok": r["check_ok"],
        })
    result = {"machine": machine(), "load_avg_start": load0, "load_avg_end": os.getloadavg()[0],
              "params": vars(args) | {"video_seconds": video_s}, "rows": rows, "runs": runs}
    path = write_result("bench_cluster", result)
    print(table(rows, list(rows[0])))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
