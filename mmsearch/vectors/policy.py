"""The size rule's parameters: :class:`IndexPolicy` (thresholds, memory budget, HNSW/IVF/PQ shapes,
calibration target), the family names, and the IVF/PQ shape formulas every family and the rule share.

The rule itself (which family a space of ``n`` vectors gets) is in size_rule.py, above the families whose
memory formulas it compares with the budget; this module sits below them all.
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
    """The size rule's parameters (the rule: size_rule.py). Tests lower the thresholds."""

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
