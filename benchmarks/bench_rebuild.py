"""How long an ingest stalls when a space crosses an index-family threshold: background vs inline rebuild.

    .venv/bin/python benchmarks/bench_rebuild.py [--vectors 60000] [--batch 1000]

Writes synthetic 512-d vectors into a library the way the ingest pipeline does (one catalog
transaction per batch, ``Library.apply``, an unforced ``Library.save`` after each batch), crossing
the exact -> HNSW threshold (50,000) on the way, twice:
- ``background`` (what the library does): the periodic save starts the rebuild in a thread;
- ``inline`` (the previous behaviour): the rebuild runs inside the save that finds it due.
Reports each mode's longest batch (the longest the ingest stood still), the whole run, and the
final family. Writes benchmarks/results/bench_rebuild.json and prints a table.
"""
from __future__ import annotations

import argparse
import os
import shutil
import time

import numpy as np
from bench_query import DIM

from _common import CACHE, Clustered, log, machine, table, write_result


def run(mode: str, n: int, batch: int) -> dict:
    from mmsearch.catalog import NewSegment
    from mmsearch.config import load_settings
    from mmsearch.library import Library

    folder = CACHE / f"rebuild-{mode}"
    shutil.rmtree(folder, ignore_errors=True)
    lib = Library(load_settings(library=folder))
    lib.acquire_writer()
    space = lib.catalog.ensure_space("clip", "synthetic", DIM)
    idx = lib.index(space)
    gen = Clustered(DIM, seed=3)
    stalls, swapped_at = [], None
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        block = gen.block(start, min(batch, n - start)).astype(np.float32)
        items = [({"path": f"/bench/{start + i:07d}.jpg", "content_hash": f"{start + i:064x}", "size": 1,
                   "mtime": 0.0, "kind": "image"}, [NewSegment(kind="image", vector=v)]) for i, v in enumerate(block)]
        t = time.perf_counter()
        lib.apply(lib.catalog.write_media(items, "clip"), space)
        if mode == "inline":
            idx.maybe_rebuild()
        lib.save(every=5.0)
        stalls.append(time.perf_counter() - t)
        if swapped_at is None and idx.family != "flat":
            swapped_at = start + batch
    t = time.perf_counter()
    lib.save(force=True)  # the end of the run: waits for a rebuild still under way
    final_s = time.perf_counter() - t
    total_s = time.perf_counter() - t0
    family = idx.family
    lib.close()
    shutil.rmtree(folder, ignore_errors=True)
    out = {"mode": mode, "vectors": n, "batch": batch, "family": family, "total_s": round(total_s, 1),
           "longest_batch_s": round(max(stalls), 2), "median_batch_s": round(float(np.median(stalls)), 3),
           "final_save_s": round(final_s, 2), "family_changed_after_vectors": swapped_at}
    log(f"{mode}: {out}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vectors", type=int, default=60_000)
    ap.add_argument("--batch", type=int, default=1000)
    args = ap.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    results = [run(mode, args.vectors, args.batch) for mode in ("background", "inline")]
    result = {"machine": machine(), "runs": results}
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    path = write_result("bench_rebuild", result)
    rows = [{"mode": r["mode"], "longest batch s": r["longest_batch_s"], "median batch s": r["median_batch_s"],
             "final save s": r["final_save_s"], "whole run s": r["total_s"], "family": r["family"],
             "new family live after": r["family_changed_after_vectors"]} for r in results]
    print(table(rows, list(rows[0])))
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
