"""Shared helpers of the benchmarks: machine facts, timing, synthetic data, results files."""
from __future__ import annotations

import atexit
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing, too

CACHE = Path(os.environ.get("MMSEARCH_BENCH_CACHE", Path(tempfile.gettempdir()) / "mmsearch-bench"))


def scratch(prefix: str) -> Path:
    """A new temporary folder, removed when the benchmark's process exits, however main() returns.

    A benchmark writes a random-init checkpoint (~580 MB for ViT-B-32) and libraries there; left behind,
    a few dozen runs fill the disk that the next fresh-clone install needs.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def machine() -> dict:
    """What the numbers were measured on."""
    import faiss
    import torch

    mem = 0
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        pass
    return {
        "cpu_cores": os.cpu_count(),
        "arch": platform.machine(),
        "memory_gb": round(mem / 2**30, 1),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "faiss_gpus": int(getattr(faiss, "get_num_gpus", lambda: 0)()),
        "python": platform.python_version(),
        "faiss": faiss.__version__,
        "torch": torch.__version__,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "date": dt.datetime.now().isoformat(timespec="seconds"),
    }


def percentiles(samples_s: Sequence[float]) -> dict:
    ms = np.asarray(samples_s) * 1e3
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3),
            "mean_ms": round(float(ms.mean()), 3), "n": int(len(ms))}


def time_each(fn: Callable, items: Iterable, warmup: int = 3) -> list[float]:
    """Seconds of ``fn(item)`` for each item after the first ``warmup``. The rule: the warm-up items are run
    once, untimed, and never timed again (timing them a second time would count cache hits as queries)."""
    items = list(items)
    if len(items) <= warmup:
        raise ValueError(f"time_each needs more than {warmup} items (the first {warmup} only warm up)")
    for it in items[:warmup]:
        fn(it)
    out = []
    for it in items[warmup:]:
        t = time.perf_counter()
        fn(it)
        out.append(time.perf_counter() - t)
    return out


class Clustered:
    """Deterministic synthetic embeddings with structure like real ones: unit vectors around
    ``clusters`` centres in a low-dimensional subspace plus isotropic noise, float16 (as stored)."""

    def __init__(self, dim: int = 512, clusters: int = 2000, intrinsic: int = 64, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.dim, self.seed = dim, seed
        self.basis = (rng.standard_normal((intrinsic, dim)) / np.sqrt(intrinsic)).astype(np.float32)
        self.centres = rng.standard_normal((clusters, intrinsic)).astype(np.float32)

    def block(self, start: int, count: int) -> np.ndarray:
        rng = np.random.default_rng((self.seed, start))
        z = self.centres[rng.integers(0, len(self.centres), count)]
        z = z + 0.7 * rng.standard_normal(z.shape).astype(np.float32)
        x = z @ self.basis + 0.35 * rng.standard_normal((count, self.dim)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x.astype(np.float16)

    def array(self, n: int, block: int = 250_000) -> np.ndarray:
        out = np.empty((n, self.dim), np.float16)
        for i in range(0, n, block):
            out[i : i + block] = self.block(i, min(block, n - i))
        return out

    def to_file(self, path: Path, n: int, block: int = 250_000) -> np.memmap:
        """Write ``n`` vectors to a float16 file (reused when present with the right size)."""
        want = n * self.dim * 2
        if not (path.exists() and path.stat().st_size == want):
            path.parent.mkdir(parents=True, exist_ok=True)
            mm = np.memmap(path, dtype=np.float16, mode="w+", shape=(n, self.dim))
            for i in range(0, n, block):
                mm[i : i + block] = self.block(i, min(block, n - i))
            mm.flush()
            del mm
        return np.memmap(path, dtype=np.float16, mode="r", shape=(n, self.dim))

    def queries(self, count: int, seed: int = 99, noise: float = 1.0) -> np.ndarray:
        """Text-like queries: a cluster centre's direction, far from any one vector (cosine ~0.3-0.5)."""
        rng = np.random.default_rng(seed)
        z = self.centres[rng.integers(0, len(self.centres), count)]
        x = z @ self.basis + noise * rng.standard_normal((count, self.dim)).astype(np.float32) / np.sqrt(self.dim) * 8
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def exact_topk(vectors: np.ndarray, queries: np.ndarray, k: int = 10, block: int = 262_144) -> np.ndarray:
    """Exact top-k row numbers by brute force over float16 ``vectors`` (any size, in blocks)."""
    best_s = np.full((len(queries), 0), -np.inf, np.float32)
    best_i = np.zeros((len(queries), 0), np.int64)
    for i in range(0, len(vectors), block):
        s = queries @ np.asarray(vectors[i : i + block], np.float32).T
        top = np.argpartition(-s, min(k, s.shape[1] - 1), axis=1)[:, :k]
        best_s = np.concatenate([best_s, np.take_along_axis(s, top, 1)], axis=1)
        best_i = np.concatenate([best_i, top + i], axis=1)
        keep = np.argpartition(-best_s, min(k, best_s.shape[1] - 1), axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(best_s, keep, 1), np.take_along_axis(best_i, keep, 1)
    order = np.argsort(-best_s, axis=1)
    return np.take_along_axis(best_i, order, 1)


def recall_at_k(found: np.ndarray, truth: np.ndarray, k: int = 10) -> float:
    return round(float(np.mean([len(set(a[:k].tolist()) & set(b[:k].tolist())) / k for a, b in zip(found, truth)])), 4)


def rss_bytes() -> int:
    return _status("VmRSS")


def peak_rss_bytes() -> int:
    return _status("VmHWM")


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux); False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _status(key: str) -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def random_vit_b32() -> str:
    """A real ViT-B-32 architecture with random weights, saved once as a checkpoint; its model spec.
    (Speed does not depend on the weights.)"""
    path = CACHE / "vit-b-32-random.pt"
    if not path.exists():
        import open_clip
        import torch

        CACHE.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(0)
        model = open_clip.create_model("ViT-B-32")
        tmp = path.with_suffix(".tmp")
        torch.save({"state_dict": model.state_dict()}, tmp)
        tmp.replace(path)
    return f"ViT-B-32:{path}"


def provenance() -> dict:
    """Where a results file comes from: the commit (``+dirty`` when the work tree had changes), the UTC time
    it was written, the machine in one line, the load average at writing and the command line. The ledger of
    published figures (benchmarks/claims.py) requires these four in every results file it quotes."""
    return {"commit": _git_commit(), "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {_memory_gb()} GB, {platform.node()}",
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])}


def _git_commit() -> str | None:
    """HEAD of the checkout the benchmark ran from, ``+dirty`` with uncommitted changes; None outside git."""
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=HERE, capture_output=True, text=True, check=True).stdout.strip()

    try:
        head = git("rev-parse", "HEAD")
        return head + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def _memory_gb() -> float:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        return 0.0


def write_result(name: str, payload: dict) -> Path:
    """Write ``payload`` to results/NAME.json with a ``provenance`` block (see ``provenance``) added when the
    payload has none: every results file says which commit, when, on what machine and under what load."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {**payload, "provenance": {**provenance(), **payload.get("provenance", {})}}
    path.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
    return path


def _jsonable(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, Path):
        return str(x)
    raise TypeError(type(x))


def table(rows: list[dict], columns: Sequence[str]) -> str:
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) if cells else len(c) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(out)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


DOCS = HERE.parent / "docs" / "benchmarks.md"


def _heading_level(line: str) -> int:
    """The level of a markdown ATX heading line (``## x`` -> 2), 0 for any other line."""
    hashes = len(line) - len(line.lstrip("#"))
    return hashes if 0 < hashes <= 6 and line[hashes:hashes + 1] == " " else 0


def section_span(doc: str, section: str) -> tuple[list[str], int, int]:
    """``doc``'s lines (ends kept) and the line range ``[start, end)`` of the section headed by the line
    ``section``. The rule: a section runs from its heading line to the next heading of the same or a higher
    level (fewer or as many ``#``) outside code fences, or to the end of the document. Raises ``ValueError``
    when ``section`` is not a heading line or is missing or appears more than once."""
    level = _heading_level(section)
    if not level or "\n" in section:
        raise ValueError(f"not a markdown heading line: {section!r}")
    lines = doc.splitlines(keepends=True)
    fenced = False
    headings: list[tuple[int, int]] = []  # (line number, level) of every heading outside code fences
    for number, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and _heading_level(line):
            headings.append((number, _heading_level(line)))
    starts = [number for number, _ in headings if lines[number].rstrip("\r\n") == section]
    if len(starts) != 1:
        raise ValueError(f"section {section!r} appears {len(starts)} times in the document, expected once")
    start = starts[0]
    end = next((number for number, lvl in headings if number > start and lvl <= level), len(lines))
    return lines, start, end


def replace_section(doc: str, section: str, text: str) -> str:
    """``doc`` with the section headed by the line ``section`` replaced by ``text`` (which starts with that line).

    The section's extent is ``section_span``'s rule; every byte outside it stays as it was. Raises
    ``ValueError`` when ``text`` does not start with ``section``, when ``section`` is not a heading, or
    when the heading is missing or appears more than once: the updater never appends or guesses."""
    if not _heading_level(section) or "\n" in section:
        raise ValueError(f"not a markdown heading line: {section!r}")
    if text.split("\n", 1)[0] != section:
        raise ValueError(f"the new text does not start with its heading {section!r}")
    lines, start, end = section_span(doc, section)
    block = text.rstrip("\n") + "\n" + ("\n" if end < len(lines) else "")
    return "".join(lines[:start]) + block + "".join(lines[end:])


def replace_doc_section(section: str, text: str, path: Path = DOCS) -> None:
    """Put ``text`` (which starts with the heading line ``section``) in docs/benchmarks.md in place of the one
    section with that heading (see ``replace_section``: nothing else changes; a missing or doubled heading
    raises, so add the heading by hand the first time a benchmark publishes)."""
    path.write_text(replace_section(path.read_text(), section, text))


def publish(name: str, result: dict, text: str, section: str, to_docs: bool) -> None:
    """Write ``result`` to results/NAME.json, print its markdown ``text``, and with ``to_docs`` put it in
    docs/benchmarks.md as ``section``."""
    write_result(name, result)
    print(text)
    if to_docs:
        replace_doc_section(section, text)


def write_frames(out, stream, frames: Iterable) -> None:
    """Encode PyAV ``frames`` (their pts set) into ``stream``, flush the encoder and close the container ``out``."""
    for frame in frames:
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
    out.close()
