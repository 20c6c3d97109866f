"""Recall calibration: the smallest search effort that reaches the recall target.

After a build, ``efSearch`` (hnsw), ``nprobe`` (ivf, ivfpq) and the re-rank depth (ivfpq,
``rerank`` x k candidates, 4 to 64) are the smallest values whose recall@10 against exact search is at
least ``target_recall + margin`` (0.95 + 0.02) in *each* of three groups of calibration queries:
stored vectors moved away by noise to cosine ~0.9, ~0.7 and ~0.45 of their origin (near-duplicate,
same-topic and cross-modal queries, the last being what a text query is to images), with the exact
top-10 computed by brute force over the float16 vectors. The worst group's recall is kept in the
snapshot header (``info()["recall"]``). (A first version averaged the groups: at 10M vectors that
chose nprobe 4 / rerank 32 and measured 0.93 on text-like queries; see docs/benchmarks.md.)

Each family tunes its own knob (``Ann.tune`` in families/) with the ladders below; this module
makes the queries, the exact truth and the recall measure, and walks the ladders. It sits below the
families: it sees a family only through :class:`Tunable`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from mmsearch.vectors.policy import IndexPolicy

K = 10  # recall@10
EF_LADDER = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
NOISE_NORMS = (0.5, 1.0, 2.0)  # cosine ~0.9, ~0.7 and ~0.45 to the stored vector

Recall = Callable[[np.ndarray], float]  # found ids (queries x >= K) -> the worst group's recall@K


class Sampled(Protocol):
    """What calibration queries are drawn from: a family's rows (families/base.py ``Family``)."""

    @property
    def rows(self) -> int: ...

    def row_vectors(self, rows: np.ndarray) -> np.ndarray: ...


class Tunable(Sampled, Protocol):
    """A family whose search effort calibration tunes (families/base.py ``Ann``)."""

    params: dict

    def exact_search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    def tune(self, queries: np.ndarray, recall: Recall, goal: float) -> float: ...


def calibration_queries(family: Sampled, policy: IndexPolicy, count: int | None = None) -> np.ndarray:
    """Stored vectors moved away by Gaussian noise, in equal parts of norm 0.5, 1 and 2 (cosine
    ~0.9, ~0.7 and ~0.45 to their origin: near-duplicate, same-topic and cross-modal queries)."""
    count = count or policy.calibration_queries
    rng = np.random.default_rng(policy.seed + 1)
    rows = np.sort(rng.choice(family.rows, min(count, family.rows), replace=False))
    base = family.row_vectors(rows)
    noise = rng.standard_normal(base.shape).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    scale = np.array(NOISE_NORMS, np.float32)[np.arange(len(rows)) % len(NOISE_NORMS)]
    q = base + noise * scale[:, None]
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def calibrate(family: Tunable, policy: IndexPolicy, calibration: np.ndarray | None = None) -> None:
    """Tune ``family``'s search parameters on :func:`calibration_queries` (or on the given
    ``calibration`` queries, one group) and keep the recall reached in ``params["recall"]``."""
    queries = calibration_queries(family, policy) if calibration is None else np.asarray(calibration, np.float32)
    _, truth = family.exact_search(queries, K)
    groups = np.arange(len(queries)) % len(NOISE_NORMS) if calibration is None else np.zeros(len(queries), int)

    def recall(found: np.ndarray) -> float:
        """The worst group's recall: near, same-topic and cross-modal queries must all reach it."""
        per = np.array([len(set(a[:K]) & set(b)) / len(b) for a, b in zip(found, truth)])
        return float(min(per[groups == g].mean() for g in np.unique(groups)))

    goal = min(1.0, policy.target_recall + policy.margin)
    family.params["recall"] = round(family.tune(queries, recall, goal), 4)


def tune_ef_search(search: Callable[[int], np.ndarray], recall: Recall, goal: float) -> tuple[int, float]:
    """The smallest efSearch of the ladder reaching ``goal`` (else the best one), and its recall.
    ``search(ef)`` returns the found ids at that efSearch."""
    best: tuple[float, int] = (-1.0, EF_LADDER[0])
    for ef in EF_LADDER:
        r = recall(search(ef))
        if r >= goal:
            return ef, r
        if r > best[0]:
            best = (r, ef)
    return best[1], best[0]


def tune_nprobe(
    nlist: int,
    factors: tuple[int, ...],
    candidates: Callable[[int, int], np.ndarray],
    top: Callable[[np.ndarray], np.ndarray],
    recall: Recall,
    goal: float,
) -> tuple[int, int, float]:
    """The smallest (nprobe, re-rank factor) reaching ``goal``, nprobe first (re-ranking more is
    cheaper than probing more lists), else the best pair; and its recall. ``candidates(nprobe,
    fetch)`` returns candidate rows, ``top(rows)`` the found ids of the first ``K * factor`` of them."""
    ladder = sorted({min(nlist, 1 << i) for i in range(17)})
    best: tuple[float, int, int] = (-1.0, ladder[0], factors[0])
    for nprobe in ladder:
        rows = candidates(nprobe, K * factors[-1])
        for factor in factors:
            r = recall(top(rows[:, : K * factor]))
            if r >= goal:
                return nprobe, factor, r
            if r > best[0]:
                best = (r, nprobe, factor)
    return best[1], best[2], best[0]
