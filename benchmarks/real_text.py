"""A real vector distribution for the query-at-scale benchmark: sentences people wrote, embedded by the
bundled sentence model (all-MiniLM-L6-v2, the product's ``text`` space, 384 dimensions).

    .venv/bin/python benchmarks/real_text.py --count 1000000    # build (or extend) the cache only
    .venv/bin/python benchmarks/real_text.py --count 0                # the sentence list only (~5 min)
    for i in 0 1; do nice -n 19 .venv/bin/python benchmarks/real_text.py --count 1000000 --threads 1 \
        --shard $i/2 & done                                              # two one-thread processes share it

The sentences come from several named sources (benchmarks/real_text_sources.py): the docstrings of Python's
standard library and installed packages, and Debian packages fetched at run time (a public-domain
dictionary, WordNet, programming manuals, the Jargon File, fortune cookies ...). One rule for all: paragraphs
are split into sentences of 40-240 characters, six words or more, no code-like characters, each kept once
(the first source that has it keeps it), in a fixed order (sources in table order, files sorted by path).
The list is shuffled with a fixed seed so that a prefix of any length mixes every source; the last
``QUERY_COUNT`` sentences of the shuffled list are never indexed: they are the queries.

Embedding is the slow part on a small CPU, so vectors are cached in blocks of ``BLOCK`` sentences under
``$MMSEARCH_REAL_TEXT`` (default benchmarks/results/tmp/real-text/, ignored by git) and a later run only
embeds what is missing (an interrupted run resumes at its last whole block). On a CPU with native bfloat16
(AVX512-BF16 or AMX) the model runs under ``torch.autocast(bfloat16)`` (about twice the speed); each run
that embeds measures the cosine of those vectors to float32 ones on ``CHECK_COUNT`` sentences and records it.
The sentence list records the Python version and a hash of the installed package set: a different install
yields a different (still real) list, and the cache is rebuilt for it (the old one is moved to ``stale-*/``).
To reuse a cache built by another environment (its list is still real text), set ``MMSEARCH_REAL_TEXT_KEEP=1``:
the cached list is used as it is, and the results record the signature it was built with.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import sys
import sysconfig
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import real_text_sources
from real_text_sources import SOURCES, fetch

from _common import RESULTS, log

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from mmsearch.encoders.precision import native_bf16  # bf16 autocast only where the CPU has it natively

FOLDER = Path(os.environ.get("MMSEARCH_REAL_TEXT", RESULTS / "tmp" / "real-text"))
BLOCK = 5_000
QUERY_COUNT = 200
CHECK_COUNT = 1_000
DIM = 384
SEED = 7
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
    """Python version, installed packages, the sources' readers and the sentence rule: what the list depends on."""
    site = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    # the environment's packages only: not what the current folder adds to sys.path (a checkout's *.egg-info)
    names = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions(path=site))
    readers = Path(real_text_sources.__file__).read_text()
    rule = [_SPLIT.pattern, _CODE_LIKE.pattern, str(SEED)]
    return hashlib.sha256("\n".join([sys.version, *names, readers, *rule]).encode()).hexdigest()[:16]


def collect() -> tuple[list[str], dict]:
    """Every distinct sentence of every source, shuffled (seed ``SEED``), and ``{source: about it}``."""
    seen: dict[str, None] = {}
    about = {}
    for name, (package, what, reader) in SOURCES.items():
        t = time.perf_counter()
        before = len(seen)
        for para in reader(fetch(package, FOLDER)):
            seen.update(dict.fromkeys(_sentences_of(para)))
        deb = sorted((FOLDER / "debs").glob(f"{package}_*.deb"))[-1].name if package else None
        about[name] = {"what": what, "debian_package": deb, "sentences": len(seen) - before}
        log(f"real text: {name}: {len(seen) - before} new sentences in {time.perf_counter() - t:.0f}s")
    found = list(seen)
    np.random.default_rng(SEED).shuffle(found)  # type: ignore[arg-type]
    return found, about


def sentences() -> tuple[list[str], dict, str]:
    """The cached sentence list for this install, its sources, and the signature it was built with (collected
    on first use, a few minutes; ``MMSEARCH_REAL_TEXT_KEEP=1`` takes a cached list of another install)."""
    FOLDER.mkdir(parents=True, exist_ok=True)
    sig = install_signature()
    path = FOLDER / "sentences.json"
    if path.exists():
        cached = json.loads(path.read_text())
        if cached["install"] == sig or os.environ.get("MMSEARCH_REAL_TEXT_KEEP"):
            return list(cached["sentences"]), cached["sources"], cached["install"]
        stale = FOLDER / f"stale-{cached['install']}"  # another list's vectors: kept aside, not deleted
        stale.mkdir(exist_ok=True)
        for old in [path, *FOLDER.glob("block-*.npy"), *FOLDER.glob("queries-*.npy"), *FOLDER.glob("precision-*")]:
            old.replace(stale / old.name)
        log(f"real text: another install or sentence rule; the cached list and vectors moved to {stale}")
    t = time.perf_counter()
    found, about = collect()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"install": sig, "sources": about, "sentences": found}))
    tmp.replace(path)
    log(f"real text: {len(found)} sentences collected in {time.perf_counter() - t:.0f}s")
    return found, about, sig


def _autocast(precision: str) -> contextlib.AbstractContextManager:
    import torch

    table = {"bfloat16-autocast": lambda: torch.autocast("cpu", dtype=torch.bfloat16),
             "float32": contextlib.nullcontext}
    return table[precision]()


def _encode(encoder, texts: list[str], precision: str) -> np.ndarray:
    """Unit float32 rows of ``texts``, embedded in length order (similar lengths batch with little padding)."""
    order = np.argsort([len(t) for t in texts], kind="stable")
    out = np.empty((len(texts), encoder.dim), np.float32)
    with _autocast(precision):
        out[order] = encoder.encode_text([texts[i] for i in order])
    return out


def _check(encoder, texts: list[str], precision: str) -> dict:
    """Cosine of ``precision`` vectors to float32 ones of the same sentences (min, mean), measured now."""
    fast = _encode(encoder, texts, precision)
    exact = _encode(encoder, texts, "float32")
    cos = np.sum(fast * exact, axis=1) / np.linalg.norm(fast, axis=1) / np.linalg.norm(exact, axis=1)
    return {"sentences": len(texts), "cosine_min": round(float(cos.min()), 6),
            "cosine_mean": round(float(cos.mean()), 6)}


def vectors(count: int, threads: int | None = None, shard: tuple[int, int] = (0, 1)
            ) -> tuple[np.ndarray, np.ndarray, dict] | None:
    """(the first ``count`` corpus vectors, the query vectors, a description), float32 unit rows.

    ``shard=(i, n)``: embed only the missing blocks whose number is i modulo n, so that n processes of one
    thread each share the work; a shard returns None unless every block is there when it ends."""
    import torch

    from mmsearch.encoders.sentence import SentenceEncoder

    if threads:
        torch.set_num_threads(threads)
    found, sources, signature = sentences()
    if count < 1:
        raise SystemExit(f"real text: {len(found)} sentences listed; asked for no vectors")
    corpus_max = len(found) - QUERY_COUNT
    if count > corpus_max:
        raise SystemExit(f"only {corpus_max} real sentences here (asked for {count}): the sources in "
                         "benchmarks/real_text_sources.py hold no more distinct ones")
    precision = "bfloat16-autocast" if native_bf16() else "float32"
    encoder = SentenceEncoder("bundled")
    meta_path = FOLDER / f"precision-{precision}.json"
    missing = [b for b in range(0, count, BLOCK) if (b // BLOCK) % shard[1] == shard[0]
               and not (FOLDER / f"block-{precision}-{b // BLOCK:04d}.npy").exists()]
    if missing and precision != "float32" and shard[0] == 0:
        meta_path.write_text(json.dumps(_check(encoder, found[:CHECK_COUNT], precision)))
    for b in missing:
        path = FOLDER / f"block-{precision}-{b // BLOCK:04d}.npy"
        if not path.exists():  # another shard's process may have written it meanwhile
            t = time.perf_counter()
            part = _encode(encoder, found[b : b + BLOCK], precision).astype(np.float16)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                np.save(f, part)
            tmp.replace(path)  # whole blocks only: a killed run resumes here
            log(f"real text: block {b // BLOCK} ({len(part)} sentences) in {time.perf_counter() - t:.0f}s "
                f"({len(part) / (time.perf_counter() - t):.0f}/s, load {os.getloadavg()[0]:.2f})")
    paths = [FOLDER / f"block-{precision}-{b // BLOCK:04d}.npy" for b in range(0, count, BLOCK)]
    if not all(p.exists() for p in paths):
        return None  # a shard's part is done; the others are still running
    x = np.concatenate([np.load(p) for p in paths])[:count].astype(np.float32)
    q_path = FOLDER / f"queries-{precision}.npy"
    if not q_path.exists():
        tmp = q_path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.save(f, _encode(encoder, found[corpus_max:], precision))
        tmp.replace(q_path)
    q = np.load(q_path)
    check = json.loads(meta_path.read_text()) if meta_path.exists() else None
    about = {"source": "sentences of docstrings and Debian documentation, dictionaries and quotations "
                       "(benchmarks/real_text_sources.py)", "sources": sources,
             "model": encoder.model_id, "precision": precision, "cosine_to_float32": check,
             "install": signature, "available": corpus_max, "dim": int(x.shape[1]), "queries": len(q)}
    return x, q, about


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100_000, help="vectors to have embedded (0: list the sentences only)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--shard", default="0/1", help="i/n: embed the blocks numbered i modulo n (n processes)")
    args = ap.parse_args()
    if args.count == 0:  # collect the list only
        found, sources, signature = sentences()
        print(json.dumps({"sentences": len(found), "install": signature, "sources": sources}))
        return
    i, n = (int(v) for v in args.shard.split("/"))
    got = vectors(args.count, args.threads, (i, n))
    if got is None:
        log(f"real text: shard {args.shard} done; other shards still embedding")
        return
    x, q, about = got
    print(json.dumps({**about, "vectors": len(x)}))


if __name__ == "__main__":
    main()
