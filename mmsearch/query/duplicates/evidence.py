"""The hash evidence of a pair of pictures: how many bits their perceptual hashes
(:mod:`mmsearch.analysis.perceptual_hash`) differ by, over every hash each side holds. Pure numpy.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mmsearch.analysis.perceptual_hash import NO_HASH


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bits that differ between two arrays of uint64 hashes (elementwise)."""
    return np.bitwise_count(np.bitwise_xor(a, b)).astype(np.int16)


def hash_matrix(hashes: Sequence[Sequence[int]]) -> np.ndarray:
    """(n, width) uint64 of every picture's hashes, padded with 0 (none)."""
    width = max([len(h) for h in hashes] + [1])
    out = np.zeros((len(hashes), width), np.uint64)
    for i, h in enumerate(hashes):
        out[i, : len(h)] = h
    return out


def pair_bits(hashes: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Smallest hash distance over every hash of i and of j per pair; -1 where a side has none."""
    out = np.empty(len(i), np.int16)
    width = hashes.shape[1]
    block = max(1_000, 4_000_000 // (width * width))  # pairs per step: a few tens of MB at most
    for lo in range(0, len(i), block):
        a, b = hashes[i[lo:lo + block]], hashes[j[lo:lo + block]]
        d = hamming(a[:, :, None], b[:, None, :]).reshape(len(a), width * width)
        valid = ((a != NO_HASH)[:, :, None] & (b != NO_HASH)[:, None, :]).reshape(len(a), width * width)
        d = np.where(valid, d, 999)
        best = d.min(axis=1)
        out[lo:lo + block] = np.where(best == 999, -1, best)
    return out
