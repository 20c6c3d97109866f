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
(``Family.resident_bytes`` in families/); this module only compares it with the budget. The parameters
(:class:`~mmsearch.vectors.policy.IndexPolicy`) are in policy.py.
"""
from __future__ import annotations

from mmsearch.vectors.families import FAMILIES
from mmsearch.vectors.policy import FamilyName, IndexPolicy, default_policy


def estimate_bytes(family: str, n: int, dim: int, policy: IndexPolicy | None = None) -> int:
    """Resident memory of ``n`` vectors in a family (what the budget is compared with)."""
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
