"""Near-duplicates: files and video scenes that are the same picture or moment (re-encoded, resized,
cropped a little, colour-shifted, re-cut).

The evidence, in two parts:

* **Perceptual hash** (pHash, own code): the picture in grey at 32x32, its 2-D DCT, and one bit per
  low-frequency coefficient of the top-left 8x8 block (the constant one left out: 63 bits, stored as 64)
  set when it is above their median. An image stores two (``detail`` JSON of its ``image`` segment): the
  whole picture (``phash``) and its centre 90 % (``phash90``), so a picture cropped by up to ~10 % around
  its centre still hashes close to the original; their distance is the smallest over the pairs. A video
  scene stores its keyframe's hash and up to :data:`SCENE_HASHES` of its sampled frames' (``frames``); two
  scenes' distance is the smallest over their frames, so a re-encoded or trimmed copy (whose samples
  fall at other times) still meets the original. A picture too flat to hash (a blank or black frame,
  grey spread under :data:`FLAT_STD` levels) gets no hash.
* **Stored vectors** (the ``clip`` space): every picture's :data:`NEIGHBOURS` nearest neighbours,
  found by one batched FAISS search over the pictures' vectors projected to :data:`SEARCH_DIM` dimensions
  (exact up to :data:`EXACT_UP_TO` items, an IVF index visiting :data:`IVF_PROBES` lists above), are the
  candidate pairs; pairs sharing one 16-bit band of a hash are candidates too (a file whose vectors are
  pending). A vector distance is read on the library's own scale, never
  one model's cosine scale: ``relative = (1 - cos(a, b)) / (1 - background)``, where ``background`` is
  the mean cosine of a and b with a random sample of the library's pictures (1: as far apart as a
  typical pair; 0: the same vector).

The rule (:func:`is_duplicate`): a pair with hashes on both sides is a duplicate when its hash
distance is at most ``threshold`` bits (default :data:`DEFAULT_THRESHOLD` = 12 of 63) and its vectors,
when both have them, do not contradict it (``relative <= MAX_RELATIVE`` = 0.75: clearly closer than a
typical pair). A
pair where a side has no hash (a flat picture, a video indexed before hashes were stored) is judged by
the vectors alone, strictly: ``relative <= ALONE_RELATIVE`` (scaled by ``threshold / DEFAULT_THRESHOLD``),
except that a flat picture is never a copy of one with a hash (resizing, re-encoding or cropping keeps
texture; a colour-histogram model would put a black frame next to a night photo).
Images indexed before hashes were stored get theirs computed from the file when asked (not stored);
such videos fall back to their vectors.

Duplicate pairs are joined into groups (union-find). Each group names the copy to keep: the largest
picture (width x height), then the longest file, then the biggest, then the first path. Video scenes
only pair across files; a video all of whose scenes duplicate scenes of one other video is reported as
a duplicate *file* of it (kind ``video``).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import MediaError
from .kinds import MediaKind, SegmentKind, Space

if TYPE_CHECKING:
    from .context import Context

DEFAULT_THRESHOLD = 12  # hash bits (of 63) two copies may differ by
NEIGHBOURS = 16  # vector candidates per picture
# A hash match whose vectors are not clearly closer than a typical pair is a coincidence of hashes (copies
# measured at most 0.68 with the toy encoder, 0.53 with a random-init ViT-B-32; random pairs sit about 1).
MAX_RELATIVE = 0.75
ALONE_RELATIVE = 0.02  # vectors alone (no hash): 50 times closer than a typical pair
FLAT_STD = 2.0  # grey levels: below this spread a picture has no structure to hash
SCENE_HASHES = 32  # frame hashes kept per scene
EXACT_UP_TO = 5_000  # exact neighbour search up to this many pictures, an IVF index above
SEARCH_DIM = 64  # vectors are projected to this many dimensions for the neighbour search
IVF_PROBES = 8  # lists an IVF search visits: copies sit far closer than anything else, so few suffice
BACKGROUND_SAMPLE = 512  # pictures the background cosine is measured against
BANDS = 4  # 16-bit bands of a hash for band candidates
MAX_BAND_BUCKET = 32  # a band value shared by more pictures than this says nothing (flat-ish pictures)
_NO_HASH = np.uint64(0)  # hashes always have the constant bit 63 set, so 0 is free to mean "none"


# -- the hash ------------------------------------------------------------------------------------------
def _dct_matrix(n: int = 32) -> np.ndarray:
    k = np.arange(n)[:, None]
    m = np.cos(np.pi * (2 * np.arange(n)[None, :] + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m.astype(np.float64)


_DCT = _dct_matrix()


def grey_hash(grey: np.ndarray) -> int | None:
    """The pHash of a 32x32 grey array: 63 bits of the top-left 8x8 DCT block (the constant left out)
    above their median, with bit 63 always set (so a hash is never 0). None for a flat picture."""
    g = np.asarray(grey, np.float64)
    if g.std() < FLAT_STD:
        return None
    low = (_DCT @ g @ _DCT.T)[:8, :8].ravel()[1:]
    bits = np.concatenate([[True], low > np.median(low)])
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def picture_hash(image: Any, centre: float = 1.0) -> int | None:
    """The pHash of a PIL image (of its centre ``centre`` fraction, each side)."""
    from PIL import Image

    if image.mode != "L":
        image = image.convert("L")
    if centre < 1.0:
        w, h = image.size
        dx, dy = w * (1 - centre) / 2, h * (1 - centre) / 2
        image = image.crop((round(dx), round(dy), round(w - dx), round(h - dy)))
    grey = image.resize((32, 32), Image.Resampling.BOX)
    return grey_hash(np.asarray(grey, np.float32))


def image_detail(image: Any) -> str:
    """The ``detail`` JSON of an image segment: its whole and centre-90 % hashes (``"phash": null``: too
    flat to hash, which tells it from an image indexed before hashes were stored)."""
    grey = image.convert("L")  # once for both
    whole, centre = picture_hash(grey), picture_hash(grey, 0.9)
    facts = {k: f"{v:016x}" for k, v in (("phash", whole), ("phash90", centre)) if v is not None}
    return json.dumps(facts or {"phash": None})


def scene_detail(keyframe: int | None, frames: Sequence[int | None]) -> str:
    """The ``detail`` JSON of a scene: its keyframe's hash and up to SCENE_HASHES of its frames' (evenly)."""
    kept = [h for h in frames if h is not None]
    if len(kept) > SCENE_HASHES:
        kept = [kept[i] for i in np.linspace(0, len(kept) - 1, SCENE_HASHES).round().astype(int)]
    facts: dict[str, Any] = {"phash": f"{keyframe:016x}" if keyframe is not None else None}
    if kept:
        facts["frames"] = [f"{h:016x}" for h in kept]
    return json.dumps(facts)


def hashed(detail: str | None) -> bool:
    """Whether a segment was hashed when indexed (its ``detail`` names ``phash``, null for a flat picture)."""
    try:
        facts = json.loads(detail) if detail else None
    except ValueError:
        return False
    return isinstance(facts, dict) and "phash" in facts


def hashes_of(detail: str | None) -> list[int]:
    """Every hash a segment's ``detail`` holds (none when it has none, or is not JSON)."""
    if not detail:
        return []
    try:
        facts = json.loads(detail)
    except ValueError:
        return []
    if not isinstance(facts, dict):
        return []
    found = [facts.get("phash"), facts.get("phash90")] + list(facts.get("frames") or [])
    out: list[int] = []
    for h in found:
        try:
            value = int(h, 16) if isinstance(h, str) else 0
        except ValueError:
            value = 0
        if value and value not in out:
            out.append(value)
    return out


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bits that differ between two arrays of uint64 hashes (elementwise)."""
    return np.bitwise_count(np.bitwise_xor(a, b)).astype(np.int16)


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


@dataclass(frozen=True)
class Evidence:
    """What is known of one candidate pair: hash bits apart (None: a side has no hash) and the vectors'
    relative distance (None: a side has no vector)."""

    bits: int | None
    relative: float | None


def is_duplicate(evidence: Evidence, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """The rule (see the module's docstring): the hash decides, the vectors may veto; without a hash,
    the vectors decide strictly."""
    if evidence.bits is not None:
        return evidence.bits <= threshold and (evidence.relative is None or evidence.relative <= MAX_RELATIVE)
    if evidence.relative is None:
        return False
    return evidence.relative <= ALONE_RELATIVE * max(threshold, 0) / DEFAULT_THRESHOLD


def hash_matrix(pictures: Sequence[Picture]) -> np.ndarray:
    """(n, width) uint64 of every picture's hashes, padded with 0 (none)."""
    width = max([len(p.hashes) for p in pictures] + [1])
    out = np.zeros((len(pictures), width), np.uint64)
    for i, p in enumerate(pictures):
        out[i, : len(p.hashes)] = p.hashes
    return out


def pair_bits(hashes: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Smallest hash distance over every hash of i and of j per pair; -1 where a side has none."""
    out = np.empty(len(i), np.int16)
    width = hashes.shape[1]
    block = max(1_000, 4_000_000 // (width * width))  # pairs per step: a few tens of MB at most
    for lo in range(0, len(i), block):
        a, b = hashes[i[lo:lo + block]], hashes[j[lo:lo + block]]
        d = hamming(a[:, :, None], b[:, None, :]).reshape(len(a), width * width)
        valid = ((a != _NO_HASH)[:, :, None] & (b != _NO_HASH)[:, None, :]).reshape(len(a), width * width)
        d = np.where(valid, d, 999)
        best = d.min(axis=1)
        out[lo:lo + block] = np.where(best == 999, -1, best)
    return out


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
    return _unique_pairs(rows[keep], cols[keep])


def band_pairs(hashes: np.ndarray) -> np.ndarray:
    """(m, 2) pairs ``i < j`` whose first hashes share one of BANDS 16-bit bands (buckets of at most
    MAX_BAND_BUCKET pictures), vectorised: after sorting a band, a pair is two positions ``d`` apart
    with the same value."""
    first = hashes[:, 0]
    rows = np.flatnonzero(first != _NO_HASH)
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
    return _unique_pairs(pairs[:, 0], pairs[:, 1])


def _unique_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
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


def duplicate_pairs(pictures: Sequence[Picture], vectors: np.ndarray, has_vector: np.ndarray,
                    threshold: float = DEFAULT_THRESHOLD, *, across_files: bool = False) -> list[tuple[int, int, int]]:
    """The duplicate pairs ``(i, j, bits)`` among ``pictures`` (rows of ``vectors``; ``has_vector`` marks
    the rows that hold one; bits -1 where judged without a hash). ``across_files``: only pairs of
    different files (video scenes)."""
    if len(pictures) < 2:
        return []
    hashes = hash_matrix(pictures)
    with_vectors = np.flatnonzero(has_vector)
    candidates = [band_pairs(hashes)]
    if len(with_vectors) > 1:
        near = neighbour_pairs(vectors[with_vectors])
        candidates.append(with_vectors[near])
    pairs = np.concatenate(candidates) if candidates else np.zeros((0, 2), np.int64)
    pairs = _unique_pairs(pairs[:, 0], pairs[:, 1]) if len(pairs) else pairs
    if across_files and len(pairs):
        media = np.array([p.media_id for p in pictures])
        pairs = pairs[media[pairs[:, 0]] != media[pairs[:, 1]]]
    if not len(pairs):
        return []
    bits = pair_bits(hashes, pairs[:, 0], pairs[:, 1])
    flat = np.array([p.hashed and not p.hashes for p in pictures], bool)
    textured = np.array([bool(p.hashes) for p in pictures], bool)
    # a flat picture is no copy of a textured one: resizing, re-encoding or cropping keeps the texture
    apart = (flat[pairs[:, 0]] & textured[pairs[:, 1]]) | (textured[pairs[:, 0]] & flat[pairs[:, 1]])
    pairs, bits = pairs[~apart], bits[~apart]
    maybe = bits <= threshold  # bits -1 (a side unhashed) included; the vectors are read for these only
    pairs, bits = pairs[maybe], bits[maybe]
    rel = relative_distances(vectors, has_vector, pairs)
    limit = ALONE_RELATIVE * max(threshold, 0) / DEFAULT_THRESHOLD
    hashed = bits >= 0
    vetoed = ~np.isnan(rel) & (rel > MAX_RELATIVE)  # NaN compares False: no vector, no veto
    keep = np.where(hashed, (bits <= threshold) & ~vetoed, ~np.isnan(rel) & (np.nan_to_num(rel, nan=np.inf) <= limit))
    return [(int(a), int(b), int(c)) for (a, b), c in zip(pairs[keep], bits[keep])]


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


# -- the report ----------------------------------------------------------------------------------------
@dataclass
class DuplicateItem(Extent):
    path: str
    media_id: int
    segment_id: int | None
    kind: str  # image | scene | video
    bits: int | None = None  # hash distance to the kept copy (None: unknown or judged by vectors)


@dataclass
class DuplicateGroup:
    kind: str  # image | scene | video
    keep: DuplicateItem
    copies: list[DuplicateItem]


@dataclass
class DuplicateReport:
    threshold: float
    groups: list[DuplicateGroup]
    compared: dict[str, int]  # pictures compared by kind
    unhashed: dict[str, int]  # of them, without a hash (judged by vectors alone)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _item(p: Picture, kind: str, bits: int | None = None) -> DuplicateItem:
    return DuplicateItem(p.path, p.media_id, p.segment_id, kind, bits=bits, **p.extent())


def group_pictures(pictures: Sequence[Picture], vectors: np.ndarray, has_vector: np.ndarray,
                   threshold: float = DEFAULT_THRESHOLD, *, across_files: bool = False) -> list[list[int]]:
    """Groups (best copy first) of duplicate pictures, largest groups first."""
    uf = UnionFind(len(pictures))
    for a, b, _ in duplicate_pairs(pictures, vectors, has_vector, threshold, across_files=across_files):
        uf.union(a, b)
    groups = [sorted(g, key=lambda i: keep_order(pictures[i])) for g in uf.groups()]
    return sorted(groups, key=lambda g: (-len(g), pictures[g[0]].path))


def _bits_to(pictures: Sequence[Picture], keep: int, other: int) -> int | None:
    hashes = hash_matrix([pictures[keep], pictures[other]])
    bits = int(pair_bits(hashes, np.array([0]), np.array([1]))[0])
    return None if bits < 0 else bits


def image_groups(pictures: Sequence[Picture], vectors: np.ndarray, has_vector: np.ndarray,
                 threshold: float) -> list[DuplicateGroup]:
    out = []
    for g in group_pictures(pictures, vectors, has_vector, threshold):
        keep = pictures[g[0]]
        out.append(DuplicateGroup(MediaKind.IMAGE, _item(keep, SegmentKind.IMAGE),
                                  [_item(pictures[i], SegmentKind.IMAGE, _bits_to(pictures, g[0], i)) for i in g[1:]]))
    return out


def video_groups(scenes: Sequence[Picture], vectors: np.ndarray, has_vector: np.ndarray,
                 threshold: float) -> list[DuplicateGroup]:
    """Scene groups (the same moment in different files), then duplicate files: a video every one of
    whose scenes is grouped with a scene of one other video is a copy of it."""
    groups = group_pictures(scenes, vectors, has_vector, threshold, across_files=True)
    out = []
    partners: dict[int, dict[int, int]] = {}  # media -> other media -> its scenes grouped with that one
    group_of: dict[int, int] = {}
    for n, g in enumerate(groups):
        keep = scenes[g[0]]
        out.append(DuplicateGroup(SegmentKind.SCENE, _item(keep, SegmentKind.SCENE),
                                  [_item(scenes[i], SegmentKind.SCENE, _bits_to(scenes, g[0], i)) for i in g[1:]]))
        for i in g:
            group_of[i] = n
    scenes_of: dict[int, list[int]] = {}
    for i, p in enumerate(scenes):
        scenes_of.setdefault(p.media_id, []).append(i)
    for media, rows in scenes_of.items():
        counts: dict[int, int] = {}
        for i in rows:
            if i in group_of:
                for other in {scenes[j].media_id for j in groups[group_of[i]]} - {media}:
                    counts[other] = counts.get(other, 0) + 1
        partners[media] = {other: c for other, c in counts.items() if c == len(rows)}
    uf = UnionFind(len(scenes_of))
    media_ids = list(scenes_of)
    pos = {m: n for n, m in enumerate(media_ids)}
    for media, others in partners.items():
        for other in others:
            uf.union(pos[media], pos[other])
    first = {m: scenes[rows[0]] for m, rows in scenes_of.items()}
    for g in uf.groups():
        files = sorted((first[media_ids[n]] for n in g), key=keep_order)
        out.append(DuplicateGroup(MediaKind.VIDEO, _file_item(files[0]), [_file_item(p) for p in files[1:]]))
    return out


def _file_item(p: Picture) -> DuplicateItem:
    return DuplicateItem(p.path, p.media_id, None, MediaKind.VIDEO, width=p.width, height=p.height,
                         duration=p.duration)


# -- on a library --------------------------------------------------------------------------------------
KIND_SEGMENTS: dict[MediaKind, SegmentKind] = {MediaKind.IMAGE: SegmentKind.IMAGE, MediaKind.VIDEO: SegmentKind.SCENE}
GROUPERS = {MediaKind.IMAGE: image_groups, MediaKind.VIDEO: video_groups}


def lazy_image_hashes(pictures: Iterable[Picture]) -> int:
    """Hash, from the file, the images indexed before hashes were stored (not stored back); the count.
    A file that cannot be read stays without a hash (judged by its vectors)."""
    from .media.images import load_image

    done = 0
    for p in pictures:
        if p.hashed or p.kind != SegmentKind.IMAGE:
            continue
        try:
            image, _w, _h = load_image(p.path)
        except (MediaError, OSError) as exc:  # a moved or broken file: its vectors still speak
            logging.getLogger(__name__).warning("duplicates: %s not hashed (%s); judged by its vectors", p.path, exc)
            continue
        p.hashes = hashes_of(image_detail(image))
        done += 1
    return done


def find_duplicates(ctx: Context, kind: str | None = None, threshold: float | None = None) -> DuplicateReport:
    """Groups of near-duplicate images (``kind`` image), video scenes and videos (``kind`` video), or
    both (None), in the library of ``ctx``. Raises ValueError for another kind."""
    kinds = [MediaKind(kind)] if kind else list(KIND_SEGMENTS)
    if any(k not in KIND_SEGMENTS for k in kinds):
        raise ValueError(f"unknown kind {kind!r}; choose image or video")
    threshold = DEFAULT_THRESHOLD if threshold is None else float(threshold)
    report = DuplicateReport(threshold, [], {}, {})
    for k in kinds:
        rows, vectors, has_vector = ctx.catalog.duplicate_candidates(KIND_SEGMENTS[k], Space.CLIP)
        pictures = [Picture(**{n: v for n, v in r.items() if n != "detail"}, hashes=hashes_of(r["detail"]),
                            hashed=hashed(r["detail"])) for r in rows]
        if k == MediaKind.IMAGE:
            lazily = lazy_image_hashes(pictures)
            if lazily:
                report.notes.append(f"{lazily} images indexed before hashes were stored: hashed from their files")
        report.compared[k] = len(pictures)
        report.unhashed[k] = sum(1 for p in pictures if not p.hashes)
        if k == MediaKind.VIDEO and report.unhashed[k]:
            report.notes.append(f"{report.unhashed[k]} video scenes without a hash: judged by their vectors alone")
        report.groups += GROUPERS[k](pictures, vectors, has_vector, threshold)
    return report
