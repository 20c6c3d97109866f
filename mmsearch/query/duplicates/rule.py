"""The near-duplicate rule: which pairs of pictures are the same picture or moment (re-encoded, resized,
cropped a little, colour-shifted, re-cut), and never two different pictures; the groups and the report that
apply it to a library are in mmsearch/query/duplicates/report.py.

The evidence (a pair must pass every part that applies):

* **Hash** (mmsearch/analysis/perceptual_hash.py; compared by mmsearch/query/duplicates/evidence.py): a
  64-bit perceptual hash per picture (an image also of its centre and four corner 90 % crops, a scene also
  of its frames); two
  pictures' distance is the smallest over their hashes, and must be at most ``threshold`` bits (default
  :data:`DEFAULT_THRESHOLD` = 12 of 63).
* **Vectors** (the ``clip`` space, when both have one) add candidate pairs to the hashes' (never fewer
  than without vectors: mmsearch/query/duplicates/candidates.py) and veto a pair only far beyond any copy
  measured (``relative > MAX_RELATIVE``, a ratio to the library's own typical pair). They never make a
  copy on their own.
* **The pixel check** (mmsearch/query/duplicates/confirm.py): every image candidate (hash within the threshold, no
  veto) is a copy only when both files, decoded now, agree pixel by pixel once aligned (crop and resize
  searched, tone curve fitted): a 64-bit hash of a drawing or an object on a plain background, a slide of
  a template or a page of text is set by a few shapes, so different such pictures hash alike.
* **Flat pictures** (too flat to hash: a plain colour, a faint gradient) are compared with each other and
  with nearly flat hashed pictures (flat share from :data:`NEAR_FLAT`) only, by their colours
  (mmsearch/query/duplicates/flat.py): the same colours everywhere up to one brightness gain, and the
  same shape up to a crop; a nearly flat hashed one must pass the pixel check as well.
* **How much the hash can say**, for the pairs the check cannot see (a file moved or unreadable; video
  scenes, whose frames are not decoded again): an image stores its *flat share* (the share of its 32x32
  grey without structure), and its hash alone is trusted only up to :func:`trusted_bits` bits: a quarter
  of the threshold for a picture with structure everywhere, nothing from a flat share of
  :data:`RICH_FLAT` on. Video scenes do not store it: their hash is trusted up to ``threshold``.

A flat picture is never a copy of one with a hash; a picture without a hash that is not known to be flat
(a video scene indexed before hashes were stored, an image whose file cannot be read) is never a copy.
Images indexed before hashes (or flat shares) were stored are hashed from their files when asked.

Every reported copy carries ``why`` (:class:`Evidence`): its bits, the bits its hash alone is trusted for,
the vectors' relative distance, the pixel check's score, and which of them decided. Duplicate pairs are
joined into groups (union-find); each names the copy to keep: the largest picture (width x height), then
the longest file, then the biggest, then the first path. Video scenes only pair across files; a video all
of whose scenes duplicate scenes of one other video is reported as a duplicate *file* of it.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields

import numpy as np

from mmsearch.query.duplicates.candidates import hash_pairs, neighbour_pairs, relative_distances, unique_pairs
from mmsearch.query.duplicates.confirm import Check
from mmsearch.query.duplicates.evidence import hash_matrix, pair_bits

DEFAULT_THRESHOLD = 12  # hash bits (of 63) two copies may differ by
# The vectors veto a pair only far beyond any copy: twice the farthest copy measured on dev (session 10,
# 1395 true pairs: 1.71 of a typical pair with the toy encoder, whose colour vectors move with brightness,
# 0.51 with a random-init ViT-B-32). A ratio to the library's own typical pair, never a model's cosine.
MAX_RELATIVE = 3.4
RICH_FLAT = 0.25  # flat share from which the hash alone is trusted for nothing
# flat share from which a hashed picture may be a copy of a flat one: darkening a faint gradient by 15 %
# can take its grey spread under the hash's FLAT_STD (dev: a near-black wallpaper, flat share 0.94)
NEAR_FLAT = 0.9
TRUSTED_SHARE = 0.25  # of the threshold: the most bits a hash alone is trusted for (a picture with no flat cell)
Confirm = Callable[[int, int], "Check | None"]  # the pixel check of pictures i and j (None: not possible)


def trusted_bits(flat: float | None, threshold: float = DEFAULT_THRESHOLD) -> int:
    """Hash bits up to which the hash alone may call a pair a copy when no pixel check can be made, for the
    pair's larger flat share: ``TRUSTED_SHARE * threshold`` at 0, falling linearly to -1 (never) at
    RICH_FLAT; ``threshold`` when unknown (a video scene, whose frames are not re-decoded)."""
    if flat is None:
        return int(threshold)
    share = 1.0 - flat / RICH_FLAT
    return int(np.floor(threshold * TRUSTED_SHARE * share)) if share > 0 else -1


# -- the pictures and the pairs ---------------------------------------------------------------------
@dataclass(kw_only=True)
class Extent:
    """Where in its file a picture is and how big it is (an image: no times; a scene: its span)."""

    start: float | None = None
    end: float | None = None
    keyframe: float | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None

    def extent(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(Extent)}


@dataclass
class Picture(Extent):
    """One image or video scene to compare: where it is, how big, and its evidence."""

    segment_id: int
    media_id: int
    path: str
    kind: str  # SegmentKind.IMAGE or SegmentKind.SCENE
    size: int | None = None
    hashes: list[int] = field(default_factory=list)
    hashed: bool = True  # hashed when indexed (False: indexed before hashes were stored)
    flat: float | None = None  # flat share (None: not measured: the hash is trusted up to the threshold)


@dataclass(frozen=True)
class Evidence:
    """Why a pair is (or is not) a copy: hash bits apart (None: a side has no hash), the bits its hash
    alone is trusted for (:func:`trusted_bits`), the vectors' relative distance (None: a side has none),
    and the pixel check (None: not needed, or not possible)."""

    bits: int | None
    relative: float | None
    trusted: int = DEFAULT_THRESHOLD
    check: Check | None = None

    def decided_by(self) -> str:
        """What made the pair a copy: ``check`` (pixels, or colours of two flat pictures) or ``hash`` (within
        its trusted bits)."""
        return "check" if self.check is not None else "hash"

    def to_dict(self, threshold: float, flat: float | None = None) -> dict:
        return {"decided_by": self.decided_by(), "bits": self.bits, "threshold": threshold,
                "trusted_bits": self.trusted, "flat": flat, "relative": _round(self.relative),
                "max_relative": MAX_RELATIVE, "check": self.check.to_dict() if self.check else None}


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 3)


def needs_check(evidence: Evidence, threshold: float = DEFAULT_THRESHOLD, flat: bool = False) -> bool:
    """Whether a pair is a candidate worth the pixel check: vectors that do not veto it, and a hash on both
    sides within the threshold, or (``flat``) both pictures too flat to hash (their colours are checked)."""
    b, rel = evidence.bits, evidence.relative
    return (flat or (b is not None and b <= threshold)) and (rel is None or rel <= MAX_RELATIVE)


def is_duplicate(evidence: Evidence, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """The rule (see the module's docstring): not vetoed by the vectors, and confirmed by the check (of the
    pixels; of the colours for two flat pictures), or (no check made) within the threshold and the bits its
    hash alone is trusted for. The vectors alone never make a copy."""
    b, rel = evidence.bits, evidence.relative
    if rel is not None and rel > MAX_RELATIVE:
        return False
    if evidence.check is not None:
        return evidence.check.confirmed and (b is None or b <= threshold)
    return b is not None and b <= threshold and b <= evidence.trusted


@dataclass(frozen=True)
class Pair:
    """A duplicate pair: rows i < j of the pictures, and why."""

    i: int
    j: int
    evidence: Evidence


@dataclass
class PairStats:
    """What the judging of one run did: pairs pixel-checked, and those that could not be."""

    checked: int = 0
    unchecked: int = 0


class UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[int]]:
        by_root: dict[int, list[int]] = {}
        for x in range(len(self.parent)):
            by_root.setdefault(self.find(x), []).append(x)
        return [g for g in by_root.values() if len(g) > 1]


def keep_order(p: Picture) -> tuple:
    """Sort key, best copy first: largest picture, longest, biggest file, first path."""
    return (-(p.width or 0) * (p.height or 0), -(p.duration or 0.0), -(p.size or 0), p.path, p.start or 0.0)


def duplicate_pairs(pictures: Sequence[Picture], vectors: np.ndarray, has_vector: np.ndarray,
                    threshold: float = DEFAULT_THRESHOLD, *, across_files: bool = False,
                    confirm: Confirm | None = None, stats: PairStats | None = None) -> list[Pair]:
    """The duplicate pairs among ``pictures`` (rows of ``vectors``; ``has_vector`` marks the rows that hold
    one). ``across_files``: only pairs of different files (video scenes). ``confirm``: the pixel check
    (None: the hash within its trusted bits decides). A candidate whose pictures are already joined
    through other pairs is not checked (nor returned): it would change no group."""
    if len(pictures) < 2:
        return []
    hashes = hash_matrix([p.hashes for p in pictures])
    flat = np.array([p.hashed and not p.hashes for p in pictures], bool)
    low = flat | np.array([bool(p.hashes) and (p.flat or 0.0) >= NEAR_FLAT for p in pictures], bool)
    candidates = [hash_pairs(hashes, low)]
    with_vectors = np.flatnonzero(has_vector)
    if len(with_vectors) > 1:
        candidates.append(with_vectors[neighbour_pairs(vectors[with_vectors])])
    pairs = np.concatenate(candidates)
    pairs = unique_pairs(pairs[:, 0], pairs[:, 1]) if len(pairs) else pairs
    if across_files and len(pairs):
        media = np.array([p.media_id for p in pictures])
        pairs = pairs[media[pairs[:, 0]] != media[pairs[:, 1]]]
    if not len(pairs):
        return []
    bits = pair_bits(hashes, pairs[:, 0], pairs[:, 1])
    i, j = pairs[:, 0], pairs[:, 1]
    both_flat = (flat[i] & low[j]) | (low[i] & flat[j])  # checked by their colours (and pixels, if hashed)
    # a hash on both sides within the threshold, or flat and flat or nearly flat; a flat picture is no copy
    # of a textured one (resizing, re-encoding or cropping keeps the texture), nor is a picture without a
    # hash that could not be hashed (its file unreadable): the vectors alone never decide
    maybe = both_flat | ((bits >= 0) & (bits <= threshold))
    pairs, bits, both_flat = pairs[maybe], bits[maybe], both_flat[maybe]
    rel = relative_distances(vectors, has_vector, pairs)
    out = []
    joined = UnionFind(len(pictures))
    order = np.argsort(bits, kind="stable")  # the surest pairs first, so fewer need a check
    for (a, b), n, r, f in zip(pairs[order].tolist(), bits[order].tolist(), rel[order].tolist(),
                               both_flat[order].tolist()):
        shares = [pictures[a].flat, pictures[b].flat]
        evidence = Evidence(None if n < 0 else n, None if np.isnan(r) else r,
                            trusted_bits(None if None in shares else max(shares), threshold))
        if confirm is not None and needs_check(evidence, threshold, f):
            if joined.find(a) == joined.find(b):
                continue  # already in one group through confirmed pairs: a check would change no group
            check = confirm(a, b)
            if stats is not None:
                stats.checked += check is not None
                stats.unchecked += check is None
            evidence = Evidence(evidence.bits, evidence.relative, evidence.trusted, check)
        if is_duplicate(evidence, threshold):
            out.append(Pair(min(a, b), max(a, b), evidence))
            joined.union(a, b)
    return out
