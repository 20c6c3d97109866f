"""A real vector distribution for the query-at-scale benchmark: sentences people wrote, embedded by the
bundled sentence model (all-MiniLM-L6-v2, the product's ``text`` space, 384 dimensions).

    .venv/bin/python benchmarks/real_text.py [--count 100000]     # build (or extend) the cache only

The sentences are the docstrings of Python's standard library and of every package installed in this
environment (English prose written by their authors), split into sentences: 40-240 characters, six words
or more, no code-like characters, each kept once, in a fixed order (files sorted by path, then by position).
The list is shuffled with a fixed seed so that a prefix of any length mixes every source; the last
``QUERY_COUNT`` sentences of the shuffled list are never indexed: they are the queries.

Embedding is the slow part on a small CPU (~40-70 sentences a second on this 2-core machine), so vectors
are cached in blocks under benchmarks/results/tmp/real-text/ and a later run only embeds what is missing.
The sentence list records the Python version and a hash of the installed package set: a different install
yields a different (still real) list, and the cache is rebuilt for it.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import sys
import sysconfig
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from _common import CACHE, log

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FOLDER = CACHE / "real-text"
BLOCK = 5_000
QUERY_COUNT = 200
DIM = 384
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_CODE_LIKE = re.compile(r"[{}=<>|\\_`*#@$%~^]|::|>>>|\.\.\.|https?:")


def _sentences_of(docstring: str) -> list[str]:
    out = []
    for para in re.split(r"\n\s*\n", docstring):
        text = " ".join(para.split())
        for s in _SPLIT.split(text):
            if 40 <= len(s) <= 240 and len(s.split()) >= 6 and not _CODE_LIKE.search(s):
                out.append(s)
    return out


def install_signature() -> str:
    names = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions())
    return hashlib.sha256("\n".join([sys.version, *names]).encode()).hexdigest()[:16]


def collect() -> list[str]:
    """Every distinct docstring sentence of the stdlib and the installed packages, shuffled (seed 7)."""
    seen: dict[str, None] = {}
    paths = sysconfig.get_paths()
    for root in sorted({Path(paths["stdlib"]), Path(paths["purelib"]), Path(paths["platlib"])}):
        for p in sorted(root.rglob("*.py")):
            try:
                tree = ast.parse(p.read_bytes())
            except (SyntaxError, ValueError, OSError, RecursionError):
                continue  # not Python 3 source (test fixtures, templates): no docstrings to read
            for node in ast.walk(tree):
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    doc = ast.get_docstring(node)
                    if doc:
                        seen.update(dict.fromkeys(_sentences_of(doc)))
    found = list(seen)
    np.random.default_rng(7).shuffle(found)  # type: ignore[arg-type]
    return found


def sentences() -> list[str]:
    """The cached sentence list for this install (collected on first use, ~2-3 min)."""
    FOLDER.mkdir(parents=True, exist_ok=True)
    sig = install_signature()
    path = FOLDER / "sentences.json"
    if path.exists():
        cached = json.loads(path.read_text())
        if cached["install"] == sig:
            return list(cached["sentences"])
        for old in FOLDER.glob("block-*.npy"):
            old.unlink()  # vectors of another list
    t = time.perf_counter()
    found = collect()
    path.write_text(json.dumps({"install": sig, "sentences": found}))
    log(f"real text: {len(found)} sentences collected in {time.perf_counter() - t:.0f}s")
    return found


def vectors(count: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """(the first ``count`` corpus vectors, the query vectors, a description), float32 unit rows."""
    from mmsearch.encoders.sentence import SentenceEncoder

    found = sentences()
    corpus_max = len(found) - QUERY_COUNT
    if count > corpus_max:
        raise SystemExit(f"only {corpus_max} real sentences here (asked for {count}): the docstrings of this "
                         "install hold no more distinct ones")
    encoder = SentenceEncoder("bundled")
    blocks = []
    for b in range(0, count, BLOCK):
        path = FOLDER / f"block-{b // BLOCK:04d}.npy"
        if not path.exists():
            t = time.perf_counter()
            texts = found[b : b + BLOCK]
            order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths batch with little padding
            part = np.empty((len(texts), encoder.dim), np.float16)
            part[order] = encoder.encode_text([texts[i] for i in order]).astype(np.float16)
            np.save(path, part)
            log(f"real text: block {b // BLOCK} ({len(texts)} sentences) in {time.perf_counter() - t:.0f}s")
        blocks.append(np.load(path))
    x = np.concatenate(blocks)[:count].astype(np.float32)
    q = encoder.encode_text(found[corpus_max:]).astype(np.float32)
    about = {"source": "docstring sentences of the Python stdlib and installed packages",
             "model": encoder.model_id, "install": install_signature(), "available": corpus_max,
             "dim": int(x.shape[1]), "queries": len(q)}
    return x, q, about


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100_000)
    args = ap.parse_args()
    x, q, about = vectors(args.count)
    print(json.dumps({**about, "vectors": len(x)}))


if __name__ == "__main__":
    main()
