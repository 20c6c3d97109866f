"""The near-duplicate rule on synthetic pictures (mmsearch/query/duplicates/rule.py, candidates.py, flat.py):
which pairs become candidates, what the vectors may and may not do, and the check of two flat pictures."""
from __future__ import annotations

import numpy as np
from PIL import Image

from mmsearch.query.duplicates import candidates as cands
from mmsearch.query.duplicates import flat
from mmsearch.query.duplicates import rule as dups
from mmsearch.query.duplicates.confirm import Check

SAME = Check(0.1, 0.99, (0.0, 0.0, 0.0, 0.0))
OTHER = Check(1.5, 0.5, (0.0, 0.0, 0.0, 0.0))


def test_vectors_never_decide_alone_and_veto_only_far_beyond_any_copy():
    t = dups.DEFAULT_THRESHOLD
    assert not dups.is_duplicate(dups.Evidence(bits=None, relative=0.0))  # vectors alone: never
    assert not dups.is_duplicate(dups.Evidence(bits=None, relative=None))
    assert dups.is_duplicate(dups.Evidence(bits=None, relative=0.5, check=SAME))  # two flat pictures, checked
    assert dups.is_duplicate(dups.Evidence(bits=t, relative=dups.MAX_RELATIVE, check=SAME))
    assert not dups.is_duplicate(dups.Evidence(bits=t, relative=dups.MAX_RELATIVE + 0.01, check=SAME))
    assert not dups.is_duplicate(dups.Evidence(bits=t + 1, relative=0.0, check=SAME))
    assert not dups.is_duplicate(dups.Evidence(bits=0, relative=0.0, check=OTHER))  # the check decides
    assert dups.MAX_RELATIVE >= 2.0  # copies were measured up to 1.71 of a typical pair (toy encoder)
    assert dups.Evidence(bits=None, relative=None, check=SAME).decided_by() == "check"


def _pictures(hashes):
    return [dups.Picture(i, i, f"{i}.png", "image", hashes=h, hashed=True) for i, h in enumerate(hashes)]


def test_a_copy_outside_its_vector_neighbours_is_still_a_candidate():
    """Two crowds of pictures, more than a picture's neighbours each; the first picture lies in one, its copy
    (hash 2 bits off; a weak model put it elsewhere) in the other: the vectors do not propose the pair, the
    hashes do, so it is checked and found, as with vectors off."""
    rng = np.random.default_rng(0)
    half = cands.NEIGHBOURS + 4
    n = 2 * half
    centres = rng.standard_normal((2, 64))
    vectors = np.stack([centres[min(k // half, 1)] + 0.05 * rng.standard_normal(64) for k in range(n + 1)])
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    hashes = rng.integers(0, 2**63, n + 1, dtype=np.uint64) | np.uint64(1 << 63)
    hashes[n] = hashes[0] ^ np.uint64(0b101)
    pictures = _pictures([[int(h)] for h in hashes])
    neighbours = {tuple(p) for p in cands.neighbour_pairs(vectors).tolist()}
    assert (0, n) not in neighbours  # the vectors alone would not propose it
    checked = []

    def confirm(i, j):
        checked.append((i, j))
        return SAME if {i, j} == {0, n} else OTHER

    for has in (np.ones(n + 1, bool), np.zeros(n + 1, bool)):
        pairs = dups.duplicate_pairs(pictures, vectors, has, confirm=confirm)
        assert [(p.i, p.j) for p in pairs] == [(0, n)]


def test_flat_pictures_are_judged_by_their_colours_never_against_a_textured_one():
    v = np.ones((4, 4), np.float32) / 2
    pictures = [dups.Picture(0, 0, "black.png", "image", hashes=[], hashed=True),
                dups.Picture(1, 1, "night.jpg", "image", hashes=[(1 << 63) | 12345]),
                dups.Picture(2, 2, "black2.png", "image", hashes=[], hashed=True),
                dups.Picture(3, 3, "old.png", "image", hashes=[], hashed=False)]  # not hashed: unknown
    asked = []

    def confirm(i, j):
        asked.append((i, j))
        return SAME

    pairs = dups.duplicate_pairs(pictures, v, np.ones(4, bool), confirm=confirm)
    assert [(p.i, p.j) for p in pairs] == [(0, 2)] and asked == [(0, 2)]
    assert dups.duplicate_pairs(pictures, v, np.ones(4, bool)) == []  # no check possible: vectors alone never
    pictures[1].flat = dups.NEAR_FLAT  # a faint gradient with a hash: a darker copy may have none
    asked.clear()
    pairs = dups.duplicate_pairs(pictures, v, np.ones(4, bool), confirm=confirm)
    assert (0, 1) in asked or (1, 0) in asked  # checked (by colours and pixels), never by vectors alone


def _plain(colour, size=(320, 200)):
    return Image.new("RGB", size, colour)


def _gradient(c0, c1, size=(320, 200)):
    t = np.linspace(0, 1, size[0])[None, :, None]
    a = (1 - t) * np.array(c0, float) + t * np.array(c1, float)
    return Image.fromarray(np.repeat(a, size[1], axis=0).round().astype(np.uint8))


def test_the_flat_check_joins_a_plain_colours_copies_and_never_two_colours():
    import io

    def jpeg(im, q=60):
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=q)
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")

    for original in (_plain((37, 31, 49)), _plain((119, 118, 123)), _plain((240, 240, 236)),
                     _gradient((47, 178, 131), (49, 181, 134))):
        w, h = original.size
        copies = {"q60": jpeg(original), "two_thirds": original.resize((w * 2 // 3, h * 2 // 3)),
                  "crop": original.crop((w // 10, h // 10, w, h)),
                  "brighter": Image.fromarray(np.clip(np.asarray(original, np.float32) * 1.15, 0, 255).astype(np.uint8)),
                  "darker": Image.fromarray((np.asarray(original, np.float32) * 0.85).astype(np.uint8))}
        for name, copy in copies.items():
            assert flat.flat_compare(original, copy).confirmed, name
    apart = [((37, 31, 49), (31, 37, 49)), ((119, 118, 123), (119, 118, 140)), ((200, 10, 10), (10, 10, 200)),
             ((100, 100, 100), (100, 100, 130)), ((120, 120, 120), (170, 170, 170))]
    for a, b in apart:
        assert not flat.flat_compare(_plain(a), _plain(b)).confirmed, (a, b)
    assert not flat.flat_compare(_plain((9, 9, 9)), _plain((9, 9, 9), (200, 320))).confirmed  # not the same shape
