"""Search at scale, one step measured: IVF shards built apart, then merged or served together, against one
index built over all the vectors (docs/scale.md).

    .venv/bin/python benchmarks/bench_shards.py [--vectors 200000] [--shards 2] [--nprobe 16]

One IVF index is trained once on a sample (the coarse centroids every shard must share to be merged), as
the library's ``ivf`` family stores vectors (IVF, float16 scalar quantizer, inner product). Then:

- ``one``: the trained index populated with all vectors;
- ``shards``: one copy of the trained index per shard, each populated with its part (as a node would,
  after reading the trained index), written to its own file;
- ``merged on disk``: ``faiss.contrib.ondisk.merge_ondisk`` of the shard files into one OnDiskInvertedLists
  file (memory-mapped when served);
- ``merged in memory``: ``merge_from`` of the shards into one index (IVF only: HNSW cannot merge);
- ``served together``: the shards in an ``IndexShards`` (queried in parallel, results merged).

Recall@10 against brute force, and per-query latency (one thread, one query at a time) for each.
Writes benchmarks/results/bench_shards.json.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np
from faiss.contrib.ondisk import merge_ondisk

from _common import Clustered, exact_topk, log, machine, percentiles, recall_at_k, table, write_result

K = 10


def latency(index, queries: np.ndarray) -> dict:
    faiss.omp_set_num_threads(1)
    for q in queries[:20]:
        index.search(q[None], K)
    times = []
    for q in queries:
        t = time.perf_counter()
        index.search(q[None], K)
        times.append(time.perf_counter() - t)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    return percentiles(times)


def set_nprobe(index, nprobe: int) -> None:
    faiss.extract_index_ivf(index).nprobe = nprobe


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vectors", type=int, default=200_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--nlist", type=int, default=1024)
    ap.add_argument("--nprobe", type=int, default=16)
    ap.add_argument("--queries", type=int, default=500)
    args = ap.parse_args()
    load0 = os.getloadavg()[0]
    gen = Clustered(dim=args.dim)
    x = gen.array(args.vectors).astype(np.float32)
    ids = np.arange(args.vectors, dtype=np.int64)
    queries = gen.queries(args.queries)
    truth = exact_topk(x, queries, K)
    log("vectors and truth ready")

    t = time.monotonic()
    quantizer = faiss.IndexFlatIP(args.dim)
    trained = faiss.IndexIVFScalarQuantizer(quantizer, args.dim, args.nlist, faiss.ScalarQuantizer.QT_fp16,
                                            faiss.METRIC_INNER_PRODUCT)
    sample = x[np.random.default_rng(0).choice(len(x), min(len(x), 40 * args.nlist), replace=False)]
    trained.train(sample)
    train_s = time.monotonic() - t
    blob = faiss.serialize_index(trained)  # what every shard starts from: the same centroids
    log(f"trained nlist={args.nlist} in {train_s:.1f} s")

    rows, timings = [], {"train_s": train_s}

    def measure(name: str, index) -> None:
        set_nprobe(index, args.nprobe)
        _d, found = index.search(queries, K)
        rows.append({"index": name, "ntotal": int(index.ntotal), "recall@10": recall_at_k(found, truth, K),
                     **{k: v for k, v in latency(index, queries).items() if k in ("p50_ms", "p99_ms")}})
        log(f"{name}: {rows[-1]}")

    t = time.monotonic()
    one = faiss.deserialize_index(blob)
    one.add_with_ids(x, ids)
    timings["one_add_s"] = time.monotonic() - t
    measure("one (all vectors)", one)

    with tempfile.TemporaryDirectory(prefix="mmsearch-shards-") as tmp:
        folder = Path(tmp)
        parts = np.array_split(np.arange(args.vectors), args.shards)
        shard_files, shards = [], []
        t = time.monotonic()
        for i, part in enumerate(parts):
            shard = faiss.deserialize_index(blob)
            shard.add_with_ids(x[part], ids[part])
            path = folder / f"shard{i}.index"
            faiss.write_index(shard, str(path))
            shard_files.append(str(path))
            shards.append(shard)
        timings["shards_add_s"] = time.monotonic() - t

        t = time.monotonic()
        empty = faiss.deserialize_index(blob)
        merge_ondisk(empty, shard_files, str(folder / "merged.ivfdata"))
        faiss.write_index(empty, str(folder / "merged.index"))
        timings["merge_ondisk_s"] = time.monotonic() - t
        served = faiss.read_index(str(folder / "merged.index"))  # its lists: the .ivfdata file, memory-mapped
        timings["merged_ivfdata_bytes"] = (folder / "merged.ivfdata").stat().st_size
        measure("merged on disk (merge_ondisk, mmap)", served)

        t = time.monotonic()
        merged = faiss.deserialize_index(blob)
        for path in shard_files:
            merged.merge_from(faiss.read_index(path), 0)  # empties its argument: a fresh copy of each shard
        timings["merge_from_s"] = time.monotonic() - t
        measure("merged in memory (merge_from)", merged)

        together = faiss.IndexShards(args.dim, True, False)  # threaded, ids kept as added
        for shard in shards:
            set_nprobe(shard, args.nprobe)
            together.add_shard(shard)
        _d, found = together.search(queries, K)
        rows.append({"index": f"served together (IndexShards x{args.shards})", "ntotal": int(together.ntotal),
                     "recall@10": recall_at_k(found, truth, K),
                     **{k: v for k, v in latency(together, queries).items() if k in ("p50_ms", "p99_ms")}})
        log(f"shards: {rows[-1]}")

        _d1, a = one.search(queries, K)
        _d2, b = served.search(queries, K)
        timings["merged_equals_one_top10"] = float(np.mean([set(p) == set(q) for p, q in zip(a, b)]))

    result = {"machine": machine(), "load_avg_start": load0, "load_avg_end": os.getloadavg()[0],
              "params": vars(args), "timings": timings, "rows": rows}
    path = write_result("bench_shards", result)
    print(table(rows, list(rows[0])))
    print({k: round(v, 3) if isinstance(v, float) else v for k, v in timings.items()})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
