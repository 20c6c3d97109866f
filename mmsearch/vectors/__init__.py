"""One FAISS index per embedding space: add, remove, search, atomic snapshots, rebuilds by size.

Vectors are unit length, so inner product is cosine similarity. Ids are catalog segment ids.
Each rule lives in the module it governs:

- policy.py: :class:`IndexPolicy`, the size rule's parameters, and the family names (below everything).
- size_rule.py: the size rule (which family a space of ``n`` vectors gets, the memory budget,
  hysteresis).
- families/: one module per family (flat, hnsw, ivf, ivfpq) on base.py's hooks, named in
  :data:`FAMILIES`: build, add, remove, search, re-ranking, removal by dead rows, snapshot sections.
- rows.py: ivfpq's float16 re-ranking vectors, memory-mapped from the snapshot.
- calibration.py: efSearch / nprobe / re-rank depth for recall@10 >= target + margin in each
  group of calibration queries.
- snapshot.py: the MMSIDX01 (read) and MMSIDX02 (read and written) file formats, atomic replacement.
- rebuild.py: when an index is rebuilt, and the background builder with its journal.
- gpu.py: FAISS GPU copies and exact torch search.
- index.py: :class:`VectorIndex`, the facade composing them.
"""
from mmsearch.vectors.families import ANN_MAX_K, FAMILIES, Family
from mmsearch.vectors.gpu import gpu_count, torch_topk
from mmsearch.vectors.index import VectorIndex
from mmsearch.vectors.policy import FamilyName, IndexPolicy, default_policy, nlist_for, policy_for, pq_m_for
from mmsearch.vectors.size_rule import choose_family, estimate_bytes
from mmsearch.vectors.snapshot import MAGIC, MAGIC2

__all__ = [
    "ANN_MAX_K", "FAMILIES", "MAGIC", "MAGIC2", "Family", "FamilyName", "IndexPolicy", "VectorIndex", "choose_family",
    "default_policy", "estimate_bytes", "gpu_count", "nlist_for", "policy_for", "pq_m_for", "torch_topk",
]
