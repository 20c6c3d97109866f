"""Query latency and recall at 10k ... 10M vectors, against the peers' approaches.

    .venv/bin/python benchmarks/bench_query.py            # everything (~30 min on 2 cores)
    .venv/bin/python benchmarks/bench_query.py --quick    # 10k end-to-end and 1M FAISS only
    .venv/bin/python benchmarks/bench_query.py --e2e "" --faiss 1000000 --alt-max 0 --out bench_query_1m
                                                          # the headline ratios at 1M only (~15 min)

1. End to end (Engine.search: encode the text with a ViT-B-32 + search + catalog join) on libraries
   of 10k and 100k images with real catalog rows (synthetic vectors, real SQLite rows).
2. FAISS only at 1M and 10M synthetic 512-d vectors, and at 100k and 1M *real* vectors (sentences of docstrings,
   a dictionary, WordNet, manuals and quotations, embedded by the bundled all-MiniLM-L6-v2, 384-d:
   benchmarks/real_text.py, cached; ``--real 100000,1000000``): the index the size rule picks, with recall@10
   against exact search, beside the peers: numpy brute force over all vectors (rclip) and
   sqlite-vec (Frigate), with their memory. Every speed ratio comes from one run: mmsearch and the
   peers answer the same queries interleaved (query 1 through each approach in turn, then query 2,
   ...), so the load of a shared machine hits both sides of a ratio alike.
3. Peak RSS of a fresh process that opens the largest snapshot and searches it, against the index size.

Writes benchmarks/results/bench_query.json and prints a table.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from _common import (
    CACHE,
    Clustered,
    exact_topk,
    log,
    machine,
    peak_rss_bytes,
    percentiles,
    random_vit_b32,
    recall_at_k,
    reset_peak_rss,
    rss_bytes,
    table,
    time_each,
    write_result,
)

DIM = 512
QUERIES = [f"{a} {b}" for a in ("a photo of", "a picture showing", "an old snapshot of", "a close-up of")
           for b in ("a dog on a beach", "the city at night", "a bowl of soup", "children playing football",
                     "a red car in the snow", "mountains above a lake", "a cat asleep on a sofa",
                     "a birthday cake with candles", "a crowded market", "the rocket on the launch pad",
                     "a person riding a bicycle", "a sailing boat at sunset", "an empty train station",
                     "autumn leaves in a park", "a plate of sushi", "a dog catching a frisbee",
                     "a bride and groom", "a waterfall in the forest", "a library full of books",
                     "a snowman in a garden", "a lighthouse on a cliff", "fireworks over a river",
                     "a horse in a field", "a laptop on a desk", "a child with a balloon")]


# -- 1. end to end ----------------------------------------------------------------------------------
def end_to_end(n: int, spec: str, queries: int) -> dict:
    from mmsearch import Engine
    from mmsearch.catalog import NewSegment

    folder = CACHE / f"e2e-{n}"
    shutil.rmtree(folder, ignore_errors=True)
    gen = Clustered(DIM, seed=1)
    with Engine(folder, model=spec) as engine:
        enc = engine.encoder("clip")
        catalog, library = engine.catalog, engine.library
        space = catalog.ensure_space("clip", enc.model_id, enc.dim, spec)
        t = time.perf_counter()
        for start in range(0, n, 5_000):
            block = gen.block(start, min(5_000, n - start)).astype(np.float32)
            items = [({"path": f"/bench/photos/{(start + i) // 1000:04d}/IMG_{start + i:07d}.jpg",
                       "content_hash": f"{start + i:064x}", "size": 2_000_000, "mtime": 1.7e9, "kind": "image",
                       "width": 4032, "height": 3024, "decoder": "pillow"},
                      [NewSegment(kind="image", vector=v)]) for i, v in enumerate(block)]
            catalog.write_media(items, "clip")
        rows_s = time.perf_counter() - t
        library.acquire_writer()
        t = time.perf_counter()
        idx = library.index(space)  # replayed from the stored vectors
        library.save(force=True)  # the size rule picks the family here
        build_s = time.perf_counter() - t
        library.release_writer()
        family, params = idx.family, dict(idx.params)
    log(f"e2e {n}: catalog {rows_s:.0f}s, index {family} {build_s:.0f}s {params}")

    t = time.perf_counter()
    engine = Engine(folder)  # a fresh process's view: opens the snapshot
    engine.search("a warm-up query", k=10)  # not one of the measured texts (the engine caches query vectors)
    open_s = time.perf_counter() - t
    enc = engine.encoder("clip")
    space = engine.catalog.space("clip")
    idx = engine.library.index(space)
    texts = [QUERIES[i % len(QUERIES)] + ("" if i < len(QUERIES) else f" {i}") for i in range(queries)]
    e2e = time_each(lambda q: engine.search(q, k=10), texts)
    encode = time_each(lambda q: enc.encode_text([q]), texts)
    vecs = enc.encode_text(texts)
    fetch = 40  # what the engine asks the index for at k=10
    search = time_each(lambda v: idx.search(v[None, :], fetch), list(vecs))
    ids = [idx.search(v[None, :], fetch)[1][0] for v in vecs]
    join = time_each(lambda i: engine.catalog.segments([int(x) for x in i if x >= 0]), ids)
    q = gen.queries(100)
    truth = idx.exact_search(q, 10)[1]
    recall = recall_at_k(idx.search(q, 10)[1], truth)
    engine.close()
    shutil.rmtree(folder, ignore_errors=True)
    return {"vectors": n, "family": family, "params": params, "catalog_write_s": round(rows_s, 1),
            "index_build_s": round(build_s, 1), "open_and_first_query_s": round(open_s, 2),
            "end_to_end": percentiles(e2e), "encode_text": percentiles(encode), "index_search": percentiles(search),
            "catalog_join": percentiles(join), "recall_at_10": recall}


# -- 2. FAISS only and peers -------------------------------------------------------------------------
def search_latency(fn, queries: np.ndarray, count: int) -> dict:
    return percentiles(time_each(lambda v: fn(v[None, :]), list(queries[:count])))


def ours(name: str, n: int, x: np.ndarray, q: np.ndarray, truth: np.ndarray, policy, family=None,
         snapshot: Path | None = None) -> dict:
    return build_ours(name, n, x, q, truth, policy, family, snapshot)[0]  # (the index is freed here)


def build_ours(name: str, n: int, x: np.ndarray, q: np.ndarray, truth: np.ndarray, policy, family=None,
               snapshot: Path | None = None):
    """Build our index the way the library does and measure it alone: ``(result, index)``."""
    from mmsearch.vectors import VectorIndex, estimate_bytes

    t = time.perf_counter()
    dim = int(x.shape[1])
    idx = VectorIndex.build(dim, np.arange(n, dtype=np.int64), x, family=family, policy=policy)
    build_s = time.perf_counter() - t
    lat = search_latency(lambda v: idx.search(v, 10), q, len(q))
    lat40 = search_latency(lambda v: idx.search(v, 40), q, len(q))
    recall = recall_at_k(idx.search(q, 10)[1], truth)
    out = {"approach": name, "vectors": n, "family": idx.family, "params": dict(idx.params),
           "build_s": round(build_s, 1), "latency_k10": lat, "latency_k40": lat40, "recall_at_10": recall,
           "memory_bytes": estimate_bytes(idx.family, n, dim, policy)}
    if snapshot is not None:
        t = time.perf_counter()
        idx.save(snapshot, {"space": "bench", "model_id": "synthetic"})
        out["snapshot_bytes"] = snapshot.stat().st_size
        out["save_s"] = round(time.perf_counter() - t, 1)
    log(f"{name} {n}: {out['family']} build {build_s:.0f}s p50 {lat['p50_ms']} ms recall {recall}")
    return out, idx


def time_interleaved(searchers: dict, queries: np.ndarray, warmup: int = 3) -> dict[str, list[float]]:
    """Seconds per query of each approach, the approaches taking turns query by query (A B C, B C A,
    C A B, ...): a load that comes and goes on a shared machine hits every approach alike, so the
    ratio of two of them is fair even when their absolute times are not."""
    names = list(searchers)
    for v in queries[:warmup]:
        for name in names:
            searchers[name](v[None, :])
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i, v in enumerate(queries):
        for name in names[i % len(names):] + names[: i % len(names)]:
            t = time.perf_counter()
            searchers[name](v[None, :])
            samples[name].append(time.perf_counter() - t)
    return samples


def faiss_exact(n: int, x: np.ndarray):
    import faiss

    dim = int(x.shape[1])
    flat = faiss.IndexFlatIP(dim)
    for i in range(0, n, 262_144):
        flat.add(np.asarray(x[i : i + 262_144], np.float32))

    def search(v):
        return flat.search(v, 10)[1][0]

    return search, {"approach": "faiss exact (IndexFlatIP, float32)", "vectors": n, "memory_bytes": n * dim * 4}


def numpy_brute(n: int, x: np.ndarray):
    """rclip's approach: all float32 vectors in memory, one matrix product per query."""
    m = np.asarray(x, np.float32)

    def search(v):
        s = m @ v[0]
        top = np.argpartition(-s, 10)[:10]
        return top[np.argsort(-s[top])]

    return search, {"approach": "numpy brute force, float32 in RAM (rclip)", "vectors": n, "memory_bytes": int(m.nbytes)}


class SqliteVec:
    """Frigate's approach: a sqlite-vec vec0 table (brute force in SQLite), cosine distance."""

    approach = "sqlite-vec vec0 (Frigate)"

    def __init__(self, n: int, x: np.ndarray) -> None:
        import apsw
        import sqlite_vec as sv

        self.path = CACHE / f"sqlite-vec-{n}.db"
        self._unlink()
        db = apsw.Connection(str(self.path))
        db.enable_load_extension(True)
        db.load_extension(sv.loadable_path())
        db.enable_load_extension(False)
        db.execute(f"create virtual table v using vec0(embedding float[{int(x.shape[1])}] distance_metric=cosine)")
        t = time.perf_counter()
        for i in range(0, n, 50_000):
            block = np.asarray(x[i : i + 50_000], np.float32)
            with db:
                db.executemany("insert into v(rowid, embedding) values (?, ?)",
                               ((i + j + 1, block[j].tobytes()) for j in range(len(block))))
        self.db, self.n = db, n
        self.insert_s = time.perf_counter() - t
        log(f"sqlite-vec {n}: insert {self.insert_s:.0f}s")

    def __call__(self, v):
        rows = self.db.execute("select rowid from v where embedding match ? and k = 10 order by distance",
                               (v[0].astype(np.float32).tobytes(),)).fetchall()
        return np.array([r[0] - 1 for r in rows])

    def info(self) -> dict:
        return {"approach": self.approach, "vectors": self.n, "insert_s": round(self.insert_s, 1),
                "memory_bytes": self.path.stat().st_size, "memory_note": "database file size"}

    def close(self) -> None:
        self.db.close()
        self._unlink()

    def _unlink(self) -> None:
        for p in (self.path, Path(str(self.path) + "-wal"), Path(str(self.path) + "-shm")):
            p.unlink(missing_ok=True)


def sqlite_vec_available() -> str | None:
    """None when sqlite-vec can run here, else why not."""
    try:
        import apsw  # noqa: F401
        import sqlite_vec  # noqa: F401
    except ImportError as exc:
        return f"not installed: {exc}"
    return None


OURS = "mmsearch (size rule)"


def same_run(ours_index, peers: dict, q: np.ndarray, truth: np.ndarray, count: int) -> dict:
    """Our index and every peer on the same ``count`` queries, interleaved; latencies, recall and
    each peer's p50 over ours (the headline ratios: both sides from this one run)."""
    searchers = {OURS: lambda v: ours_index.search(v, 10)[1][0], **{name: fn for name, (fn, _) in peers.items()}}
    load_before = [round(x, 2) for x in os.getloadavg()]
    samples = time_interleaved(searchers, q[:count])
    lat = {name: percentiles(s) for name, s in samples.items()}
    out: dict = {"queries": count, "order": "interleaved: each query through every approach in turn, order rotated",
                 "load_average_before": load_before, "load_average_after": [round(x, 2) for x in os.getloadavg()],
                 "latency_k10": lat, "recall_at_10": {}, "ratio_p50_over_ours": {}, "ratio_mean_over_ours": {}}
    for name, fn in searchers.items():
        found = np.stack([np.asarray(fn(v[None, :]))[:10] for v in q[:count]])
        out["recall_at_10"][name] = recall_at_k(found, truth[:count])
        if name != OURS:
            out["ratio_p50_over_ours"][name] = round(lat[name]["p50_ms"] / lat[OURS]["p50_ms"], 1)
            out["ratio_mean_over_ours"][name] = round(lat[name]["mean_ms"] / lat[OURS]["mean_ms"], 1)
        log(f"same run {name}: p50 {lat[name]['p50_ms']} ms recall {out['recall_at_10'][name]}")
    return out


def child_search(snapshot: str, queries: str, truth: str) -> None:
    """Run in a fresh process: open a snapshot and search it; print latency, recall and RSS."""
    from mmsearch.vectors import VectorIndex

    base = rss_bytes()
    q, t = np.load(queries), np.load(truth)
    reset_peak_rss()
    start = time.perf_counter()
    idx, _ = VectorIndex.load(Path(snapshot))
    load_s = time.perf_counter() - start
    after_load = rss_bytes()
    lat = search_latency(lambda v: idx.search(v, 10), q, len(q))
    # one query at a time, as users ask (a batch of 100 would hold 100 x k' re-ranked rows at once)
    recall = recall_at_k(np.concatenate([idx.search(v[None, :], 10)[1] for v in q]), t)
    print(json.dumps({"rss_before_load": base, "rss_after_load": after_load, "peak_rss": peak_rss_bytes(),
                      "load_s": round(load_s, 1), "latency_k10": lat, "recall_at_10": recall,
                      "family": idx.family, "params": idx.params}))


def in_fresh_process(snapshot: Path, q: np.ndarray, truth: np.ndarray) -> dict:
    qp, tp = CACHE / "child-q.npy", CACHE / "child-t.npy"
    np.save(qp, q)
    np.save(tp, truth)
    out = subprocess.run([sys.executable, __file__, "--child", str(snapshot), str(qp), str(tp)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def synthetic(n: int, args, seed: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Clustered synthetic vectors (float16 file) and text-like queries: ``(x, q, about)``."""
    gen = Clustered(DIM, seed=seed)
    t = time.perf_counter()
    x = gen.to_file(CACHE / f"vectors-{n}.f16", n)
    if n * DIM * 4 <= args.ram_limit:
        x = np.asarray(x)  # fits: in memory like a loaded library
    log(f"{n}: data ready in {time.perf_counter() - t:.0f}s")
    q = gen.queries(args.faiss_queries, seed=seed + 10, noise=4)
    return x, q, {"distribution": "synthetic clustered (benchmarks/_common.Clustered)", "dim": DIM,
                  "file": f"vectors-{n}.f16"}


def real(n: int, args) -> tuple[np.ndarray, np.ndarray, dict]:
    """Real sentences embedded by the bundled sentence model (benchmarks/real_text.py): ``(x, q, about)``."""
    import real_text  # benchmarks/ is on sys.path when run as a script

    t = time.perf_counter()
    got = real_text.vectors(n)
    if got is None:  # only a sharded build returns None
        raise SystemExit(f"real text: not every block of {n} vectors is embedded")
    x, q, about = got
    log(f"real {n}: vectors ready in {time.perf_counter() - t:.0f}s")
    return x, q[: args.faiss_queries], {"distribution": "real text (benchmarks/real_text.py)", **about}


def large(n: int, args, policy, data: tuple[np.ndarray, np.ndarray, dict]) -> dict:
    from mmsearch.vectors import choose_family, estimate_bytes

    x, q, about = data
    dim = int(x.shape[1])
    t = time.perf_counter()
    truth = exact_topk(x, q, 10)
    exact_batch_s = time.perf_counter() - t
    log(f"{n}: exact top-10 of {len(q)} queries in {exact_batch_s:.0f}s")
    res: dict = {"vectors": n, "data": about, "rule_family": choose_family(n, dim, policy), "approaches": [],
                 "exact_numpy_float16_batch_s_per_query": round(exact_batch_s / len(q), 3)}
    snap = CACHE / f"ours-{n}-{dim}.index"
    rule_out, rule_index = build_ours(OURS, n, x, q, truth, policy, snapshot=snap)
    res["approaches"].append(rule_out)
    if n <= args.alt_max:
        for fam in ("ivfpq", "ivf"):
            if fam != res["rule_family"]:
                res["approaches"].append(ours(f"mmsearch {fam}", n, x, q, truth, policy, family=fam))
    peers: dict = {}
    skipped: list[dict] = []
    if n * dim * 4 <= args.ram_limit:
        for make in (faiss_exact, numpy_brute):
            fn, info = make(n, x)
            peers[info["approach"]] = (fn, info)
    else:
        skipped.append({"approach": "numpy brute force, float32 in RAM (rclip)", "vectors": n,
                        "skipped": f"needs {n * dim * 4 / 2**30:.0f} GiB of float32 in memory; "
                                   f"limit here {args.ram_limit / 2**30:.0f} GiB",
                        "float16_from_disk_batch_s_per_query": res["exact_numpy_float16_batch_s_per_query"]})
    sqlite = None
    why_not = sqlite_vec_available()
    if not args.skip_peers and n <= args.sqlite_max and why_not is None:
        sqlite = SqliteVec(n, x)
        peers[SqliteVec.approach] = (sqlite, {})
    elif not args.skip_peers:
        skipped.append({"approach": SqliteVec.approach, "vectors": n,
                        "skipped": why_not or f"{n * dim * 4 / 2**30:.0f} GiB float32 table; brute-force scan of "
                                              "it per query; not run on this machine"})
    res["same_run"] = same_run(rule_index, peers, q, truth, args.peer_queries)
    for name, (_fn, info) in peers.items():
        if sqlite is not None and name == SqliteVec.approach:
            info = sqlite.info()
        res["approaches"].append({**info, "latency_k10": res["same_run"]["latency_k10"][name],
                                  "recall_at_10": res["same_run"]["recall_at_10"][name], "timed": "same run, interleaved"})
    res["approaches"] += skipped
    if sqlite is not None:
        sqlite.close()
    del peers, rule_index, sqlite
    del x
    gc.collect()
    res["fresh_process"] = in_fresh_process(snap, q, truth)
    res["fresh_process"]["index_bytes_estimate"] = estimate_bytes(res["rule_family"], n, dim, policy)
    res["fresh_process"]["snapshot_bytes"] = snap.stat().st_size
    if not args.keep:
        snap.unlink(missing_ok=True)
        if "file" in about:
            (CACHE / about["file"]).unlink(missing_ok=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10k end to end and 1M FAISS only")
    ap.add_argument("--e2e", default="10000,100000", help="library sizes for end-to-end queries")
    ap.add_argument("--faiss", default="1000000,10000000", help="sizes for FAISS-only search")
    ap.add_argument("--real", default="100000", help="sizes for FAISS-only search over real text vectors "
                    "(benchmarks/real_text.py; embedding them is slow on a CPU and cached)")
    ap.add_argument("--queries", type=int, default=100, help="end-to-end queries per size")
    ap.add_argument("--faiss-queries", type=int, default=100)
    ap.add_argument("--peer-queries", type=int, default=30)
    ap.add_argument("--alt-max", type=int, default=1_000_000, help="also build the other IVF family up to this size")
    ap.add_argument("--sqlite-max", type=int, default=1_000_000)
    ap.add_argument("--ram-limit", type=float, default=8 * 2**30, help="bytes of float32 the peers may hold")
    ap.add_argument("--max-nlist", type=int, default=4096, help="IVF lists cap (k-means cost on a small CPU)")
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the generated vectors and snapshots")
    ap.add_argument("--out", default="bench_query", help="results/NAME.json")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_search(*args.child)
        return
    if args.quick:
        args.e2e, args.faiss, args.real = "10000", "1000000", ""
    from mmsearch.vectors import IndexPolicy

    policy = IndexPolicy(max_nlist=args.max_nlist)
    CACHE.mkdir(parents=True, exist_ok=True)
    result = {"machine": machine(), "policy": {**policy.__dict__, "memory_budget": policy.budget()},
              "end_to_end": [], "faiss": [], "faiss_real": []}
    spec = random_vit_b32()
    for n in [int(s) for s in args.e2e.split(",") if s.strip()]:
        result["end_to_end"].append(end_to_end(n, spec, args.queries))
        write_result(args.out, result)
    for i, n in enumerate(int(s) for s in args.faiss.split(",") if s):
        result["faiss"].append(large(n, args, policy, synthetic(n, args, seed=2 + i)))
        write_result(args.out, result)
    for n in [int(s) for s in args.real.split(",") if s.strip()]:
        result["faiss_real"].append(large(n, args, policy, real(n, args)))
        write_result(args.out, result)
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    path = write_result(args.out, result)
    print_tables(result)
    print(f"\nwritten {path}")


def print_tables(result: dict) -> None:
    rows = [{"vectors": r["vectors"], "family": r["family"], "e2e p50 ms": r["end_to_end"]["p50_ms"],
             "e2e p99 ms": r["end_to_end"]["p99_ms"], "encode p50": r["encode_text"]["p50_ms"],
             "search p50": r["index_search"]["p50_ms"], "join p50": r["catalog_join"]["p50_ms"],
             "recall@10": r["recall_at_10"]} for r in result["end_to_end"]]
    if rows:
        print("End to end text query (ViT-B-32 text encode + search + catalog join)")
        print(table(rows, list(rows[0])))
    rows = []
    for size in result["faiss"] + result.get("faiss_real", []):
        for a in size["approaches"]:
            lat = a.get("latency_k10") or {}
            rows.append({"vectors": a["vectors"], "data": "real text" if "real" in size.get("data", {}).get(
                "distribution", "") else "synthetic", "approach": a["approach"], "family": a.get("family", ""),
                         "p50 ms": lat.get("p50_ms", a.get("skipped", "")[:40]), "p99 ms": lat.get("p99_ms", ""),
                         "recall@10": a.get("recall_at_10", ""),
                         "memory MB": round(a["memory_bytes"] / 2**20) if "memory_bytes" in a else ""})
        fp = size.get("fresh_process")
        if fp:
            rows.append({"vectors": size["vectors"], "data": "", "approach": "fresh process: open snapshot + search",
                         "family": fp["family"], "p50 ms": fp["latency_k10"]["p50_ms"],
                         "p99 ms": fp["latency_k10"]["p99_ms"], "recall@10": fp["recall_at_10"],
                         "memory MB": f"peak RSS {fp['peak_rss'] / 2**20:.0f} (index {fp['index_bytes_estimate'] / 2**20:.0f})"})
    if rows:
        print("\nSearch only (one query at a time, k=10)")
        print(table(rows, list(rows[0])))
    for size in result["faiss"] + result.get("faiss_real", []):
        sr = size.get("same_run")
        if not sr:
            continue
        ours_p50 = sr["latency_k10"][OURS]["p50_ms"]
        print(f"\n{size['vectors']:,} vectors ({size.get('data', {}).get('distribution', 'synthetic')}), one run, {sr['queries']} queries interleaved "
              f"(load average {sr['load_average_before'][0]} -> {sr['load_average_after'][0]}): "
              f"mmsearch p50 {ours_p50} ms")
        for name, ratio in sr["ratio_p50_over_ours"].items():
            print(f"  {name}: p50 {sr['latency_k10'][name]['p50_ms']} ms = {ratio}x mmsearch's "
                  f"(means: {sr['ratio_mean_over_ours'][name]}x)")


if __name__ == "__main__":
    main()
