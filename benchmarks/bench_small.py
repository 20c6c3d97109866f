"""Text query latency of a 1,000-image library (the common personal case: exact search).

    .venv/bin/python benchmarks/bench_small.py

Two measurements:
1. ``toy`` encoder over 1,000 real image files indexed with Engine.index: what the engine itself adds
   (exact search + catalog join + grouping), the encoder costing ~0.
2. A ViT-B-32 (open_clip, random weights: speed does not depend on them) over a 1,000-row catalog:
   the whole text query as a user sees it, with its parts.

``--busy-cores N`` keeps N cores busy with spinning processes meanwhile (a user searching while an
ingest runs) and writes bench_small_busy.json instead.

Writes benchmarks/results/bench_small.json and prints a table.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

from bench_query import QUERIES, end_to_end
from PIL import Image

from _common import CACHE, log, machine, percentiles, random_vit_b32, table, time_each, write_result

COLOURS = ["red", "green", "blue", "yellow", "orange", "purple", "pink", "brown", "black", "white", "gray", "cyan"]


def toy_library(n: int, queries: int) -> dict:
    from mmsearch import Engine
    from mmsearch.encoders.toy import PALETTE

    root = CACHE / "small-images"
    shutil.rmtree(root, ignore_errors=True)
    for i in range(n):
        folder = root / f"{i // 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        a, b = PALETTE[COLOURS[i % 12]], PALETTE[COLOURS[(i // 12) % 12]]
        img = Image.new("RGB", (64, 48), a)
        img.paste(Image.new("RGB", (16 + i % 32, 48), b))
        img.save(folder / f"img_{i:05d}.png")
    lib = CACHE / "small-library"
    shutil.rmtree(lib, ignore_errors=True)
    with Engine(lib, model="toy") as engine:
        report = engine.index([root])
    texts = [f"{COLOURS[i % 12]} and {COLOURS[(i * 5) % 12]} {QUERIES[i % len(QUERIES)]}" for i in range(queries)]
    with Engine(lib) as engine:
        engine.search("a warm-up query")  # not one of the measured texts (query vectors are cached)
        lat = time_each(lambda q: engine.search(q, k=10), texts)
        family = engine.library.index(engine.catalog.space("clip")).family
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(lib, ignore_errors=True)
    log(f"toy {n}: {percentiles(lat)}")
    return {"images": n, "encoder": "toy", "indexed_files": report.added, "family": family,
            "end_to_end": percentiles(lat)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--busy-cores", type=int, default=0, help="cores kept busy by spinning processes meanwhile")
    args = ap.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    spec = random_vit_b32()
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy_cores)]
    try:
        result = {"machine": machine(), "busy_cores": args.busy_cores, "toy": toy_library(args.images, args.queries),
                  "vit_b_32": end_to_end(args.images, spec, args.queries)}
        result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        for p in spinners:
            p.kill()
    path = write_result("bench_small_busy" if args.busy_cores else "bench_small", result)
    t, v = result["toy"], result["vit_b_32"]
    rows = [
        {"library": f"{t['images']} images", "encoder": "toy", "part": "end to end (search + join)",
         "p50 ms": t["end_to_end"]["p50_ms"], "p99 ms": t["end_to_end"]["p99_ms"]},
        {"library": f"{v['vectors']} images", "encoder": "ViT-B-32", "part": "end to end",
         "p50 ms": v["end_to_end"]["p50_ms"], "p99 ms": v["end_to_end"]["p99_ms"]},
        {"library": "", "encoder": "", "part": "  text encode", "p50 ms": v["encode_text"]["p50_ms"],
         "p99 ms": v["encode_text"]["p99_ms"]},
        {"library": "", "encoder": "", "part": f"  index search ({v['family']})", "p50 ms": v["index_search"]["p50_ms"],
         "p99 ms": v["index_search"]["p99_ms"]},
        {"library": "", "encoder": "", "part": "  catalog join", "p50 ms": v["catalog_join"]["p50_ms"],
         "p99 ms": v["catalog_join"]["p99_ms"]},
    ]
    print(table(rows, list(rows[0])))
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
