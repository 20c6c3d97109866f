"""How long the test rings take: ``make test-fast`` (the unit ring) and, with ``--ring all``, the whole suite.

One pytest run per ring in a child process, exactly the Makefile's command; measured: wall time, the CPU time
of the child and everything it started (user + system, which a loaded machine does not inflate the way it does
wall time), the load average before and after, the test counts from pytest's summary line and the 30 slowest
phases (``--durations=30``). Writes benchmarks/results/test_suite.json; ``--docs`` puts the table in
docs/benchmarks.md, section "Test suite".

    python benchmarks/bench_tests.py [--ring unit|all] [--docs]
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import log, machine, publish

ROOT = Path(__file__).resolve().parents[1]
PYTEST = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "--durations=30"]
RINGS = {  # ring -> (what it is, the pytest arguments of its make target)
    "unit": ("make test-fast: tests/unit/ but `postgres` and `slow`", ["-m", "not postgres and not slow", "tests/unit"]),
    "all": ("make test (pytest part): both rings", []),
}
SECTION = "## Test suite (bench_tests.py)"


def _counts(summary: str) -> dict[str, int]:
    """``{"passed": 412, "deselected": 11, ...}`` from pytest's last line ("412 passed, 11 deselected in ...")."""
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|errors?|skipped|deselected|xfailed)", summary)}


def run_ring(ring: str) -> dict:
    """Run one ring's pytest command once; what it cost and what it said."""
    before_load = [round(x, 2) for x in os.getloadavg()]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    done = subprocess.run([*PYTEST, *RINGS[ring][1]], cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = done.stdout.strip().splitlines()
    slowest = [{"seconds": float(m[1]), "phase": m[2], "test": m[3]} for line in lines
               if (m := re.match(r"^(\d+\.\d+)s (call|setup|teardown) +(\S+)", line))]
    return {
        "ring": ring, "what": RINGS[ring][0], "command": " ".join(["pytest", *PYTEST[3:], *RINGS[ring][1]]),
        "exit_code": done.returncode, "counts": _counts(lines[-1] if lines else ""),
        "wall_s": round(wall, 1),
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
        "load_average_before": before_load, "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "slowest": slowest,
    }


def _table(runs: list[dict], where: dict) -> str:
    rows = ["| ring | tests | wall | CPU (user + sys) | load average before -> after | exit |",
            "|---|---|---|---|---|---|"]
    for r in runs:
        counts = ", ".join(f"{n} {w}" for w, n in r["counts"].items())
        rows.append(f"| {r['what']} | {counts} | {r['wall_s']} s | {r['cpu_s']} s | "
                    f"{r['load_average_before'][0]} -> {r['load_average_after'][0]} | {r['exit_code']} |")
    slow = "\n".join(f"| {p['seconds']} s | {p['phase']} | `{p['test']}` |" for p in runs[0]["slowest"][:10])
    return (f"{SECTION}\n\n{where['date']}, {where['cpu_cores']} cores, {where['memory_gb']} GB, "
            f"{where['arch']}, GPU: {where['gpu'] or 'none'}. The load average before and after says whether "
            "other jobs shared the machine (wall time grows with it, CPU time much less). The goal for the unit ring: under three "
            "minutes on this machine when it is not shared.\n\n" + "\n".join(rows)
            + f"\n\nSlowest phases of the {runs[0]['ring']} ring:\n\n| time | phase | test |\n|---|---|---|\n{slow}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ring", choices=sorted(RINGS), action="append",
                        help="ring to time (repeat for both; default: unit)")
    parser.add_argument("--docs", action="store_true", help="put the table in docs/benchmarks.md")
    args = parser.parse_args()
    where = machine()
    runs = []
    for ring in args.ring or ["unit"]:
        log(f"running the {ring} ring")
        runs.append(run_ring(ring))
        log(f"{ring}: {runs[-1]['counts']} in {runs[-1]['wall_s']} s wall, {runs[-1]['cpu_s']} s CPU")
    publish("test_suite", {"machine": where, "runs": runs}, _table(runs, where), SECTION, args.docs)


if __name__ == "__main__":
    main()
