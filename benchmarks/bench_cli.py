"""Command-line latency: whole-process wall times of ``mmsearch search`` as a user runs it.

    .venv/bin/python benchmarks/bench_cli.py [--runs 9] [--docs]

The library: sample_data/ indexed with the toy picture model (no CLIP weights needed) and the bundled
speech, sentence and OCR models; CLAP is turned off (it needs a download). Each sample is a new process
``mmsearch search QUERY --library LIB`` with stdout to a pipe, timed from spawn to exit:

- **cold**: no query process holds the library (``MMSEARCH_QUERY_SERVER=off``); the page cache is warm
  (one untimed run first), so this is imports + opening the library + loading the models + the query;
- **warm**: a background query process holds the library (started by the first query with
  ``MMSEARCH_QUERY_SERVER=on``, cli/query_server.py); the command hands the query over its socket;
- **after a write**: the same background process, but the query is the first one after ``mmsearch index``
  added a picture to the library (untimed): the process must see the new catalog rows and vectors before it
  answers (it re-reads what changed), so this is what a user waits for right after an index run. Each sample
  is preceded by its own write (checked: the index run reports the picture added), and a warm query follows
  each (counted as warm).

Other helpers share this 2-core machine: the load average before and after is recorded beside the numbers.
Writes benchmarks/results/bench_cli.json; ``--docs`` also puts the table in docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _common import RESULTS, log, machine, percentiles, publish, table

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = RESULTS / "tmp" / "cli-library"
EXTRA = RESULTS / "tmp" / "cli-new-pictures"  # pictures added one at a time for the after-write samples
QUERIES = ["where do they talk about the budget", "how long should the soup simmer", "flowers in full bloom",
           "the rocket lifts off", "a cup of coffee"]
ENV = {"MMSEARCH_AUDIO_MODEL": "off", "HF_HUB_OFFLINE": "1"}


def mmsearch() -> list[str]:
    exe = Path(sys.executable).with_name("mmsearch")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "mmsearch.cli"]


def build() -> None:
    """A fresh library of sample_data alone (a previous run's after-write samples added pictures to it)."""
    shutil.rmtree(EXTRA, ignore_errors=True)
    shutil.rmtree(LIBRARY, ignore_errors=True)
    log(f"indexing sample_data into {LIBRARY}")
    subprocess.run([*mmsearch(), "index", str(ROOT / "sample_data"), "--library", str(LIBRARY), "--model", "toy"],
                   check=True, env={**os.environ, **ENV}, stdout=subprocess.DEVNULL)


CPU: dict[str, list[float]] = {"cold": [], "warm": [], "after_write": [], "baseline": []}  # the command's own CPU seconds (user + system)


def wall(query: str, server: str, mode: str | None = None, exe: list[str] | None = None) -> float:
    """Wall seconds of one ``mmsearch search`` process; its CPU seconds go to CPU[mode]."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    r = subprocess.run([*(exe or mmsearch()), "search", query, "--library", str(LIBRARY)], capture_output=True,
                       text=True,
                       env={**os.environ, **ENV, "MMSEARCH_QUERY_SERVER": server})
    took = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0 or not r.stdout.strip():
        raise SystemExit(f"search failed ({r.returncode}): {r.stderr}")
    if mode:
        CPU[mode].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return took


def write_one(i: int) -> None:
    """Add one new picture to the library with ``mmsearch index`` (untimed) and check it arrived."""
    from PIL import Image

    EXTRA.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (320, 240), ((37 * i) % 256, (91 * i) % 256, (53 * i) % 256)).save(EXTRA / f"new-{i:03d}.png")
    r = subprocess.run([*mmsearch(), "index", str(EXTRA), "--library", str(LIBRARY), "--model", "toy", "--json"],
                       capture_output=True, text=True, env={**os.environ, **ENV})
    if r.returncode != 0 or '"added": 1' not in r.stdout:
        raise SystemExit(f"the write before an after-write sample failed ({r.returncode}): {r.stderr or r.stdout}")


def stop_server() -> None:
    subprocess.run([*mmsearch(), "query-server", "--stop", "--library", str(LIBRARY)], capture_output=True,
                   env={**os.environ, **ENV})


def wait_for_server(timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not (LIBRARY / "query.sock").exists():
        if time.monotonic() > deadline:
            raise SystemExit("the query process did not start")
        time.sleep(0.2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=9, help="samples per mode")
    ap.add_argument("--docs", action="store_true", help="write the table into docs/benchmarks.md")
    ap.add_argument("--baseline", metavar="MMSEARCH", help="another install's mmsearch (e.g. the main branch's "
                    ".venv/bin/mmsearch), timed cold in the same run on the same library")
    args = ap.parse_args()
    build()
    load_before = [round(x, 2) for x in os.getloadavg()]
    queries = [QUERIES[i % len(QUERIES)] for i in range(args.runs)]
    stop_server()
    wall(QUERIES[0], "off")  # the page cache: warm
    cold = [wall(q, "off", "cold") for q in queries]
    wall(QUERIES[0], "on")  # answers in-process and starts the background query process
    wait_for_server()
    wall(QUERIES[0], "on")  # its first answer (untimed, as the cold page-cache run)
    warm = [wall(q, "on", "warm") for q in queries]
    after_write = []
    for i, q in enumerate(queries):
        write_one(i)
        after_write.append(wall(q, "on", "after_write"))
        warm.append(wall(q, "on", "warm"))
    stop_server()
    baseline = []
    if args.baseline:
        wall(QUERIES[0], "off", None, [args.baseline])
        baseline = [wall(q, "off", "baseline", [args.baseline]) for q in queries]
    load_after = [round(x, 2) for x in os.getloadavg()]
    rows = [{"mode": mode, **percentiles(samples), "cpu_p50_ms": percentiles(CPU[mode])["p50_ms"]}
            for mode, samples in (("cold", cold), ("warm", warm), ("after_write", after_write),
                                  ("baseline", baseline)) if samples]
    result = {"machine": machine(), "library": "sample_data (toy pictures; bundled speech, sentence, OCR)",
              "load_before": load_before, "load_after": load_after, "rows": rows,
              "samples_s": {"cold": cold, "warm": warm, "after_write": after_write, "baseline": baseline},
              "baseline": args.baseline, "cpu_s": CPU}
    text = ("## Command-line latency\n\n"
            "`mmsearch search QUERY --library LIB` as a new process, spawn to exit (benchmarks/bench_cli.py), "
            f"sample_data indexed with the toy picture model, {args.runs} queries per mode, page cache warm. "
            "cold: no process holds the library; warm: the background query process (cli/query_server_cmd.py) "
            "holds it; after a write: the same process, the first query after `mmsearch index` added a picture "
            "(a warm query follows each and counts as warm)" + (f"; baseline: `{args.baseline}` (the code before this change), cold, same library, same "
                          "run" if args.baseline else "") + ". Wall times (p50, p99, mean) and the command's own CPU "
            "time (cpu_p50: user + system; on an idle machine the wall time is close to it, never below). "
            f"{result['machine']['cpu_cores']} cores, "
            f"{result['machine']['date']}, load average {load_before} before and {load_after} after: other work "
            "shared the 2 cores, so wall times are inflated by waiting for a core.\n\n```\n"
            + table(rows, ["mode", "p50_ms", "p99_ms", "mean_ms", "cpu_p50_ms", "n"]) + "\n```\n")
    publish("bench_cli", result, text, "## Command-line latency", args.docs)


if __name__ == "__main__":
    main()
