"""The index families, one module each (flat, hnsw, ivf, ivfpq, on the hooks of base.py), chosen by name
from :data:`FAMILIES`.

Vectors are unit length, so inner product is cosine similarity. Ids are catalog segment ids.

Re-ranking source. ``hnsw`` and ``ivf`` store each vector as float16 inside FAISS. The catalog keeps
vectors at float16 too, so those indexes hold the stored vectors exactly and the scores they return
*are* the exact scores (float32 arithmetic on the stored values): nothing to re-rank and no second
copy. ``ivfpq``'s scores come from compressed codes, so it keeps the float16 vectors itself (a
:class:`~mmsearch.vectors.rows.RowStore`): a query fetches ``rerank * k`` candidates and re-scores
them exactly against those vectors. Every family can give back all its vectors, so a rebuild
(family change, retraining, compaction) never needs the catalog.

A new family is a module with a :class:`~mmsearch.vectors.families.base.Family` subclass and one entry here.
"""
from mmsearch.vectors.families.base import (
    ANN_MAX_K,
    BLOCK,
    Ann,
    Family,
    Section,
    SectionMapper,
    SectionReader,
    exact_topk,
    small_search_threads,
)
from mmsearch.vectors.families.flat import Flat
from mmsearch.vectors.families.hnsw import Hnsw
from mmsearch.vectors.families.ivf import Ivf
from mmsearch.vectors.families.ivfpq import IvfPq

FAMILIES: dict[str, type[Family]] = {kind.name: kind for kind in (Flat, Hnsw, Ivf, IvfPq)}

__all__ = [
    "ANN_MAX_K", "BLOCK", "FAMILIES", "Ann", "Family", "Flat", "Hnsw", "Ivf", "IvfPq", "Section", "SectionMapper",
    "SectionReader", "exact_topk", "small_search_threads",
]
