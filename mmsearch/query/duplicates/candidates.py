"""Candidate pairs of near-duplicates and their vector distance (mmsearch/query/duplicates/rule.py): which pairs of
pictures are worth judging at all, found without comparing every pair.

* Every picture's :data:`NEIGHBOURS` nearest neighbours in the ``clip`` space, by one batched FAISS search
  over the vectors projected to :data:`SEARCH_DIM` dimensions (exact up to :data:`EXACT_UP_TO` pictures,
  an IVF index visiting :data:`IVF_PROBES` lists above).
* And, with vectors or without, the pairs the hashes propose (:func:`hash_pairs`): every pair of hashed
  pictures when they are at most :data:`EXHAUSTIVE_UP_TO` (their hashes are compared, a few million bit
  counts), else the pairs sharing one 16-bit band of a hash (buckets of at most :data:`MAX_BAND_BUCKET`);
  every pair of pictures too flat to hash, up to as many. Vectors add candidates, never remove any: a
  picture's copies can fall out of its nearest neighbours (among ~50 slides of one template, or with a
  weak model), so with vectors there are never fewer candidates than without.

A vector distance is read on the library's own scale, never one model's cosine scale:
``relative = (1 - cos(a, b)) / (1 - background)``, where ``background`` is the mean cosine of a and b
with a random sample of the library's pictures (1: as far apart as a typical pair; 0: the same vector).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from mmsearch.analysis.perceptual_hash import NO_HASH

NEIGHBOURS = 16  # vector candidates per picture
EXACT_UP_TO = 5_000  # exact neighbour search up to this many pictures, an IVF index above
SEARCH_DIM = 64  # vectors are projected to this many dimensions for the neighbour search
IVF_PROBES = 8  # lists an IVF search visits: copies sit far closer than anything else, so few suffice
BACKGROUND_SAMPLE = 512  # pictures the background cosine is measured against
BANDS = 4  # 16-bit bands of a hash for band candidates
MAX_BAND_BUCKET = 32  # a band value shared by more pictures than this says nothing (flat-ish pictures)
EXHAUSTIVE_UP_TO = 3_000  # hashed (or flat) pictures compared pair by pair up to this many


def all_pairs(rows: np.ndarray) -> np.ndarray:
    """(m, 2) every pair ``i < j`` of ``rows`` (sorted)."""
    rows = np.sort(np.asarray(rows, np.int64))
    i, j = np.triu_indices(len(rows), k=1)
    return np.stack([rows[i], rows[j]], axis=1)


def hash_pairs(hashes: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """Candidate pairs from the hashes alone, whatever the vectors say (vectors may add pairs, never take
    any away): every pair of hashed pictures up to EXHAUSTIVE_UP_TO of them (their hashes, corner hashes
    included, are compared: a few million bit counts), band pairs above; and every pair of ``flat``
    pictures (too flat to hash: judged by their colours) up to EXHAUSTIVE_UP_TO of them."""
    bands = band_pairs(hashes)
    found = [bands] if len(bands) else []
    for rows in (np.flatnonzero(hashes[:, 0] != NO_HASH), np.flatnonzero(flat)):
        if 1 < len(rows) <= EXHAUSTIVE_UP_TO:
            found.append(all_pairs(rows))
    if not found:
        return np.zeros((0, 2), np.int64)
    pairs = np.concatenate(found)
    return unique_pairs(pairs[:, 0], pairs[:, 1])


def neighbour_pairs(vectors: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
    """(m, 2) pairs ``i < j`` of each row's ``k`` nearest rows by inner product: one batched FAISS search,
    exact up to EXACT_UP_TO rows, an inverted-file index (IVF_PROBES lists) above."""
    import faiss

    n = len(vectors)
    if n < 2:
        return np.zeros((0, 2), np.int64)
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.shape[1] > SEARCH_DIM:  # candidates only (the rule reads full cosines): a random projection keeps
        # near neighbours near (Johnson-Lindenstrauss) at a fraction of the search's cost
        rng = np.random.default_rng(0)
        x = x @ (rng.standard_normal((x.shape[1], SEARCH_DIM)) / np.sqrt(SEARCH_DIM)).astype(np.float32)
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    kk = min(k + 1, n)
    index: Any
    if n <= EXACT_UP_TO:
        index = faiss.IndexFlatIP(x.shape[1])
        index.add(x)
    else:
        nlist = int(np.sqrt(n * IVF_PROBES))  # balances the centroid scan and the lists' scan
        quantizer = faiss.IndexFlatIP(x.shape[1])
        index = faiss.IndexIVFFlat(quantizer, x.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(x[np.random.default_rng(1).choice(n, min(n, nlist * 40), replace=False)])
        index.add(x)
        index.nprobe = IVF_PROBES
    _, found = index.search(x, kk)
    rows = np.repeat(np.arange(n), kk)
    cols = found.ravel()
    keep = (cols >= 0) & (cols != rows)
    return unique_pairs(rows[keep], cols[keep])


def band_pairs(hashes: np.ndarray) -> np.ndarray:
    """(m, 2) pairs ``i < j`` whose first hashes share one of BANDS 16-bit bands (buckets of at most
    MAX_BAND_BUCKET pictures), vectorised: after sorting a band, a pair is two positions ``d`` apart
    with the same value."""
    first = hashes[:, 0]
    rows = np.flatnonzero(first != NO_HASH)
    found: list[np.ndarray] = []
    for band in range(BANDS):
        values = (first[rows] >> np.uint64(16 * band)) & np.uint64(0xFFFF)
        order = np.argsort(values, kind="stable")
        v = values[order]
        starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
        sizes = np.diff(np.r_[starts, len(v)])
        size_at = np.repeat(sizes, sizes)
        for d in range(1, min(MAX_BAND_BUCKET, len(v))):
            same = (v[d:] == v[:-d]) & (size_at[d:] <= MAX_BAND_BUCKET)
            if not same.any():
                break
            k = np.flatnonzero(same)
            found.append(np.stack([rows[order[k]], rows[order[k + d]]], axis=1))
    if not found:
        return np.zeros((0, 2), np.int64)
    pairs = np.concatenate(found)
    return unique_pairs(pairs[:, 0], pairs[:, 1])


def unique_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lo, hi = np.minimum(a, b).astype(np.int64), np.maximum(a, b).astype(np.int64)
    if not len(lo):
        return np.zeros((0, 2), np.int64)
    keys = np.unique((lo << 32) | hi)  # row numbers stay far below 2**31
    return np.stack([keys >> 32, keys & 0xFFFFFFFF], axis=1)


def relative_distances(vectors: np.ndarray, has_vector: np.ndarray, pairs: np.ndarray,
                       sample: np.ndarray | None = None) -> np.ndarray:
    """Per pair ``(1 - cos) / (1 - background)`` (see the module's docstring); NaN where a side has no
    vector. ``sample``: the background pictures (default: up to BACKGROUND_SAMPLE of ``vectors``)."""
    if sample is None:
        rows = np.flatnonzero(has_vector)
        rng = np.random.default_rng(0)
        sample = vectors[rng.choice(rows, min(len(rows), BACKGROUND_SAMPLE), replace=False)] if len(rows) else None
    out = np.full(len(pairs), np.nan)
    if sample is None or len(sample) < 2 or not len(pairs):
        return out
    # the mean cosine with the sample is the cosine with the sample's mean: one product per row in a pair
    rows = np.unique(pairs)
    background = np.zeros(len(vectors), np.float32)
    background[rows] = vectors[rows] @ sample.mean(axis=0)
    i, j = pairs[:, 0], pairs[:, 1]
    cos = np.einsum("ij,ij->i", vectors[i], vectors[j])
    spread = np.maximum(1.0 - (background[i] + background[j]) / 2, 1e-6)
    rel = (1.0 - cos) / spread
    return np.where(has_vector[i] & has_vector[j], np.maximum(rel, 0.0), np.nan)
