"""The size rule: which index family a space of ``n`` vectors gets, and what it costs in memory.

With ``n`` live vectors of dimension ``d`` and a memory budget ``B`` (default: a quarter of the
machine's RAM; the ``index_memory_mb`` setting overrides it):

1. ``flat``  while ``n < exact_max`` (50,000): exact search, ``IndexIDMap2(IndexFlatIP)``, float32.
   Nothing to train, recall 1.0, and a query scans 50k x 512 floats in ~10-30 ms on one core.
2. ``hnsw``  while ``n < hnsw_max`` (250,000) and the graph fits ``B``: HNSW (M=32) over float16
   vectors. No training, so a growing library pays one build when it crosses ``exact_max`` and then
   inserts incrementally; the best latency at high recall. Capped because a (re)build costs
   ~1.5 ms per vector on a 2-core machine.
3. ``ivf``   while the float16 vectors fit ``B``: IVF-Flat (vectors kept at float16, the catalog's
   precision, so scores are exact), ``nlist`` = the power of two nearest ``4*sqrt(n)``, trained
   on a sample of the stored vectors and retrained when the space has grown ``ivf_regrow`` (4x)
   since training.
4. ``ivfpq`` beyond: IVF-PQ (``d/8`` bytes per vector) whose candidates are re-ranked exactly.

Moving back down (a space that shrank) waits until the smaller family is right for 4/3 of the
current size too (:func:`wanted_family`), so a space hovering at a threshold is not rebuilt back
and forth.

What each family costs (:func:`estimate_bytes`) is the family class's own formula
(``Family.resident_bytes`` in families.py); this module only compares it with the budget.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any


class FamilyName(StrEnum):
    """Index families, by the name snapshots and ``info()`` store."""

    FLAT = "flat"
    HNSW = "hnsw"
    IVF = "ivf"
    IVFPQ = "ivfpq"


def _physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 << 30


@dataclass(frozen=True)
class IndexPolicy:
    """The size rule's parameters (see the module docstring). Tests lower the thresholds."""

    exact_max: int = 50_000
    hnsw_max: int = 250_000
    memory_budget: int | None = None  # bytes; None: RAM / 4
    hnsw_m: int = 32
    ef_construction: int = 64
    target_recall: float = 0.95
    margin: float = 0.02
    calibration_queries: int = 200
    dead_fraction: float = 0.2  # compact an ANN index past this fraction of removed rows
    ivf_regrow: float = 4.0  # retrain IVF once the space is this many times its trained size
    hysteresis: float = 4 / 3
    pq_dims_per_byte: int = 8
    max_nlist: int = 65_536  # IVF lists; k-means costs n_train x nlist x d: lower it on a small CPU
    kmeans_iterations: int = 10
    train_per_list: int = 32  # training vectors per IVF list (FAISS warns below 39, works from ~30)
    seed: int = 1234
    catch_up_rows: int = 500  # a background rebuild leaves at most about this many journaled rows to the swap

    def budget(self) -> int:
        if self.memory_budget is not None:
            return int(self.memory_budget)
        return _physical_memory() // 4


DEFAULT_POLICY = IndexPolicy()


def default_policy() -> IndexPolicy:
    """The policy of indexes built without one."""
    return DEFAULT_POLICY


def policy_for(settings: Any) -> IndexPolicy:
    """The size rule with a library's settings: ``index_exact_max`` and ``index_memory_mb`` (0 = RAM / 4)."""
    budget = int(settings.index_memory_mb) << 20 if settings.index_memory_mb > 0 else None
    return replace(DEFAULT_POLICY, exact_max=int(settings.index_exact_max), memory_budget=budget)


def nlist_for(n: int, policy: IndexPolicy | None = None) -> int:
    """IVF lists: the power of two nearest 4*sqrt(n), at least 16, at most ``max_nlist`` and n/39
    (FAISS wants ~39 training points per centroid)."""
    cap = (policy or DEFAULT_POLICY).max_nlist
    target = 4 * math.sqrt(max(n, 1))
    nlist = 1 << max(0, round(math.log2(target)))
    return int(max(1, min(max(16, nlist), cap, max(1, n // 39))))


def pq_m_for(dim: int, policy: IndexPolicy) -> int:
    """PQ sub-quantizers: the largest divisor of ``dim`` not above ``dim / pq_dims_per_byte``."""
    m = max(1, dim // policy.pq_dims_per_byte)
    while dim % m:
        m -= 1
    return m


def estimate_bytes(family: str, n: int, dim: int, policy: IndexPolicy | None = None) -> int:
    """Resident memory of ``n`` vectors in a family (what the budget is compared with)."""
    from mmsearch.vectors.families import FAMILIES  # (the families use this module's helpers)

    try:
        kind = FAMILIES[family]
    except KeyError:
        raise ValueError(f"unknown index family {family!r}") from None
    return kind.resident_bytes(n, dim, policy or default_policy())


def choose_family(n: int, dim: int, policy: IndexPolicy | None = None) -> FamilyName:
    """The family a space of ``n`` vectors gets (the rule of the module docstring)."""
    policy = policy or default_policy()
    if n < policy.exact_max:
        return FamilyName.FLAT
    budget = policy.budget()
    if n < policy.hnsw_max and estimate_bytes(FamilyName.HNSW, n, dim, policy) <= budget:
        return FamilyName.HNSW
    if estimate_bytes(FamilyName.IVF, n, dim, policy) <= budget:
        return FamilyName.IVF
    return FamilyName.IVFPQ


def wanted_family(current: str, n: int, dim: int, policy: IndexPolicy) -> str:
    """The rule's family for ``n`` live vectors, keeping ``current`` inside the hysteresis band."""
    want = choose_family(n, dim, policy)
    if want != current and current == choose_family(int(n * policy.hysteresis), dim, policy):
        return current
    return want
