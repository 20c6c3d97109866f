"""Perceptual hashes of pictures and the ``detail`` JSON that stores them: pure maths on pixels, computed at
ingest (indexers/kinds/image.py, a video's scenes) and read back by the near-duplicates report
(mmsearch/query/duplicates/), which compares them (mmsearch/query/duplicates/evidence.py).

* **Perceptual hash** (pHash, own code): the picture in grey at 32x32, its 2-D DCT, and one bit per
  low-frequency coefficient of the top-left 8x8 block (the constant one left out: 63 bits, stored as 64)
  set when it is above their median. An image stores six (``detail`` JSON of its ``image`` segment): the
  whole picture (``phash``), its centre 90 % (``phash90``) and its four corner 90 % crops (``corners``: a
  copy cropped off-centre, e.g. 10 % off the left and top, hashes like one of them); a video scene its
  keyframe's and up to :data:`SCENE_HASHES` of its sampled frames' (``frames``). A picture too flat to
  hash (grey spread under :data:`FLAT_STD` levels) gets none.
* **Flat share** (``flat``, images): the share of the 32x32 grey's 4x4-pixel cells without structure.
  It says how much a hash can be trusted: a photo's 63 bits come from structure everywhere; a drawing on
  white or a slide of a template hashes from a few shapes, so two different such pictures can hash
  alike (mmsearch/query/duplicates/rule.py then asks the pixel check, mmsearch/query/duplicates/confirm.py).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from mmsearch.media.planes import Picture, box_grey, grey_picture

FLAT_STD = 2.0  # grey levels: below this spread a picture has no structure to hash
FLAT_CELL = 3.0  # grey levels: below this spread a 4x4 cell of the 32x32 grey is flat
SCENE_HASHES = 32  # frame hashes kept per scene
NO_HASH = np.uint64(0)  # hashes always have the constant bit 63 set, so 0 is free to mean "none"


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


def picture_hash(image: Picture, centre: float = 1.0) -> int | None:
    """The pHash of a picture (of its centre ``centre`` fraction, each side)."""
    crop = None
    if centre < 1.0:
        w, h = image.size
        dx, dy = w * (1 - centre) / 2, h * (1 - centre) / 2
        crop = (round(dx), round(dy), round(w - dx), round(h - dy))
    return grey_hash(box_grey(image, (32, 32), crop))


CORNERS = ((0.0, 0.0), (0.1, 0.0), (0.0, 0.1), (0.1, 0.1))  # (left, top) shares of the corner 90 % crops


def corner_hashes(image: Picture) -> list[int]:
    """The pHashes of the picture's four corner 90 % crops (a flat crop has none)."""
    w, h = image.size
    boxes = [(round(w * x), round(h * y), round(w * (0.9 + x)), round(h * (0.9 + y))) for x, y in CORNERS]
    return [v for v in (grey_hash(box_grey(image, (32, 32), b)) for b in boxes) if v is not None]


def flat_share(image: Picture) -> float:
    """How little a picture's hash can say: the share of the 8x8 cells of its 32x32 grey whose grey spread
    is under FLAT_CELL levels (0: structure everywhere, a photo; near 1: a drawing or a slide on a plain
    background, whose 63 bits are set by a few shapes)."""
    a = box_grey(image, (32, 32))
    cells = a.reshape(8, 4, 8, 4).std(axis=(1, 3))
    return float((cells < FLAT_CELL).mean())


def image_detail(image: Picture) -> str:
    """The ``detail`` JSON of an image segment: its whole, centre-90 % and corner-90 % hashes and its flat share
    (``"phash": null``: too flat to hash, which tells it from an image indexed before hashes were stored)."""
    grey = grey_picture(image)  # once for all three
    whole, centre = picture_hash(grey), picture_hash(grey, 0.9)
    facts: dict[str, Any] = {k: f"{v:016x}" for k, v in (("phash", whole), ("phash90", centre)) if v is not None}
    if not facts:
        return json.dumps({"phash": None})
    corners = corner_hashes(grey)
    if corners:
        facts["corners"] = [f"{v:016x}" for v in corners]
    facts["flat"] = round(flat_share(grey), 3)
    return json.dumps(facts)


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


def flat_of(detail: str | None) -> float | None:
    """The flat share a segment's ``detail`` stored (None: not stored, e.g. indexed before it was)."""
    try:
        facts = json.loads(detail) if detail else None
    except ValueError:
        return None
    value = facts.get("flat") if isinstance(facts, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


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
    found = [facts.get("phash"), facts.get("phash90"), *(facts.get("corners") or []), *(facts.get("frames") or [])]
    out: list[int] = []
    for h in found:
        try:
            value = int(h, 16) if isinstance(h, str) else 0
        except ValueError:
            value = 0
        if value and value not in out:
            out.append(value)
    return out
