"""Text query encoding on the CPU: the ways of running CLIP's text tower for one query, side by side.

    .venv/bin/python benchmarks/bench_text_query.py [--busy-cores 1]

ViT-B-32 (open_clip architecture, random weights: speed does not depend on them), one text per call:
1. open_clip ``encode_text`` as shipped (all 77 positions), torch's default threads;
2. trimmed to the end-of-text token (torch, one thread): what queries did before the BLAS tower;
3. the BLAS tower (``mmsearch/encoders/text_tower.py``) on one thread: what queries do now;
4. the BLAS tower on every core.
Every variant's vectors are checked against variant 1 (max abs difference after normalising).
``--busy-cores N`` keeps N cores spinning meanwhile (searching while an ingest runs).

Writes benchmarks/results/bench_text_query[_busy].json and prints a table.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

import numpy as np
from bench_query import QUERIES

from _common import log, machine, percentiles, random_vit_b32, table, time_each, write_result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument("--busy-cores", type=int, default=0, help="cores kept busy by spinning processes meanwhile")
    args = ap.parse_args()

    import torch
    from threadpoolctl import ThreadpoolController

    from mmsearch.encoders.openclip import OpenClipEncoder

    enc = OpenClipEncoder(random_vit_b32())
    model, tower, blas = enc._model, enc._tower, ThreadpoolController()
    texts = [QUERIES[i % len(QUERIES)] + f" {i}" for i in range(args.queries)]
    tokens = [enc._tokenizer([t]) for t in texts]
    cores = os.cpu_count() or 1
    default_threads = torch.get_num_threads()

    def torch_full(tok):
        torch.set_num_threads(default_threads)
        with torch.inference_mode():
            return model.encode_text(tok).numpy()

    def torch_trimmed(tok):
        torch.set_num_threads(1)
        with torch.inference_mode():
            return enc._encode_trimmed(tok).numpy()

    def blas_tower(threads):
        def run(tok):
            torch.set_num_threads(1)
            with torch.inference_mode(), blas.limit(limits=threads, user_api="blas"):
                return tower(tok.numpy())
        return run

    variants = [
        ("open_clip encode_text, 77 positions, torch threads", torch_full),
        ("trimmed, torch, 1 thread (before)", torch_trimmed),
        ("BLAS tower, 1 thread (queries now)", blas_tower(1)),
        (f"BLAS tower, {cores} threads", blas_tower(cores)),
    ]
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    reference = unit(np.concatenate([torch_full(t) for t in tokens[:10]]))
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy_cores)]
    rows, out = [], []
    try:
        for name, fn in variants:
            diff = float(np.abs(unit(np.concatenate([fn(t) for t in tokens[:10]])) - reference).max())
            lat = percentiles(time_each(fn, tokens))
            log(f"{name}: {lat} max diff {diff:.1e}")
            out.append({"variant": name, **lat, "max_abs_diff_vs_open_clip": diff})
            rows.append({"variant": name, "p50 ms": lat["p50_ms"], "p99 ms": lat["p99_ms"], "max |diff|": f"{diff:.1e}"})
    finally:
        for p in spinners:
            p.kill()
        torch.set_num_threads(default_threads)
    result = {"machine": machine(), "busy_cores": args.busy_cores, "model": "ViT-B-32 (random weights)",
              "queries": args.queries, "variants": out}
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    path = write_result("bench_text_query_busy" if args.busy_cores else "bench_text_query", result)
    print(table(rows, list(rows[0])))
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
