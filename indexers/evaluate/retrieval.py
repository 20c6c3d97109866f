"""Retrieval quality on a labelled set: recall@K through the engine beside exact search.

``image,caption`` manifest rows (base.py) are this task (the table in ``__init__``).

The ``retrieval`` task indexes the images and the captions (one text file per caption, so captions
are found the way any text is) into a library with the real ingest path, then measures:

- text -> image: each caption queries ``Engine.search(caption, kinds=["image"])``; a hit when its
  image is in the top K;
- image -> text: each image queries ``Engine.similar(image, kinds=["text"])``; a hit when one of its
  captions is in the top K.

Each is reported twice: ``engine`` (the whole query path: encoder, the space's index family with its
approximations, catalog join, grouping) and ``exact`` (brute-force cosine ranking of the same stored
vectors). Equal figures mean the index and the query path lose nothing; a gap is what they cost.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mmsearch.context import Context
from mmsearch.errors import MmsearchError
from mmsearch.query import search

from ..run import run_index
from .base import KS, Manifest, ManifestError, recall_from_ranks


@dataclass(frozen=True)
class Pair:
    """An image and its captions."""

    image: Path
    captions: tuple[str, ...]


def build_pairs(rows: list[dict], root: Path) -> list[Pair]:
    """Group ``image,caption`` rows by image (first-seen order); check the images exist."""
    by_image: dict[Path, list[str]] = {}
    for i, row in enumerate(rows, 1):
        image, caption = str(row.get("image") or "").strip(), str(row.get("caption") or "").strip()
        if not image or not caption:
            raise ManifestError(f"row {i}: needs both image and caption")
        p = Path(image).expanduser()
        p = (p if p.is_absolute() else root / p).absolute()
        by_image.setdefault(p, []).append(caption)
    missing = [p for p in by_image if not p.is_file()]
    if missing:
        raise ManifestError(f"{len(missing)} image(s) of the manifest do not exist, e.g. {missing[0]}; "
                            "point --images at the folder they are in")
    return [Pair(p, tuple(c)) for p, c in by_image.items()]


def exact_ranks(
    text_vecs: np.ndarray, image_vecs: np.ndarray, caption_image: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """0-based ranks of the right answer by brute-force cosine: per caption (text -> image) and per
    image (image -> text, best of its captions). Ties count in the answer's favour."""
    sims = text_vecs @ image_vecs.T  # captions x images
    right = sims[np.arange(len(caption_image)), caption_image]
    t2i = (sims > right[:, None]).sum(axis=1).astype(np.float64)
    sims_t = sims.T  # images x captions
    best_right = np.full(len(image_vecs), -np.inf)
    np.maximum.at(best_right, caption_image, right)
    i2t = (sims_t > best_right[:, None]).sum(axis=1).astype(np.float64)
    return t2i, i2t


def run_retrieval(ctx: Context, manifest: Manifest, ks: Sequence[int] = KS,
                  progress: Callable[[str], None] | None = None, captions_dir: Path | None = None) -> dict:
    """Index the pairs into the library of ``ctx`` and measure text->image and image->text recall."""
    say = progress or (lambda _m: None)
    pairs: list[Pair] = manifest.records
    started = time.monotonic()
    if captions_dir is None:
        captions_dir = ctx.library.root.parent / f"{ctx.library.root.name}-eval-captions"
    captions_dir.mkdir(parents=True, exist_ok=True)
    caption_files: list[Path] = []
    caption_image: list[int] = []
    for gi, pair in enumerate(pairs):
        for ci, text in enumerate(pair.captions):
            f = (captions_dir / f"{gi:06d}_{ci:02d}.txt").absolute()
            if not f.exists() or f.read_text(encoding="utf-8") != text:
                f.write_text(text, encoding="utf-8")
            caption_files.append(f)
            caption_image.append(gi)
    wanted = set(caption_files)
    for stale in captions_dir.glob("*.txt"):  # from a larger earlier run of the same library
        if stale.absolute() not in wanted:
            stale.unlink()
    say(f"indexing {len(pairs)} images and {len(caption_files)} captions")
    report = run_index(ctx, [p.image for p in pairs] + [captions_dir])
    if report.failed:
        bad = [f"{Path(p).name}: {why}" for p, why in report.failures[:3]]
        raise ManifestError(f"{report.failed} file(s) could not be indexed, e.g. {'; '.join(bad)}")

    catalog = ctx.catalog
    image_vecs, text_vecs = _stored_vectors(catalog, [p.image for p in pairs]), _stored_vectors(catalog, caption_files)
    cap_img = np.asarray(caption_image)
    ex_t2i, ex_i2t = exact_ranks(text_vecs, image_vecs, cap_img)

    kmax = max(ks)
    image_index = {str(p.image): i for i, p in enumerate(pairs)}
    caption_owner = {str(f): gi for f, gi in zip(caption_files, caption_image)}
    say(f"text -> image: {len(caption_files)} queries")
    en_t2i = []
    for f, gi in zip(caption_files, caption_image):
        hits = search.search(ctx, f.read_text(encoding="utf-8"), k=kmax, kinds=["image"])
        ranks = [r for r, h in enumerate(hits) if image_index.get(h.path) == gi]
        en_t2i.append(ranks[0] if ranks else np.inf)
    say(f"image -> text: {len(pairs)} queries")
    en_i2t = []
    for gi, pair in enumerate(pairs):
        hits = search.similar(ctx, pair.image, k=kmax, kinds=["text"])
        ranks = [r for r, h in enumerate(hits) if caption_owner.get(h.path) == gi]
        en_i2t.append(ranks[0] if ranks else np.inf)

    space = catalog.space("clip")
    if space is None:
        raise MmsearchError("the library has no clip space: no image was encoded with the CLIP model")
    index = ctx.library.index(space)
    return {
        "task": "retrieval",
        "manifest": str(manifest.path),
        "images": len(pairs),
        "captions": len(caption_files),
        "model": space.model_id,
        "index": {"family": index.family, **{k: v for k, v in index.params.items() if k != "trained_n"}},
        "text_to_image": {"exact": recall_from_ranks(ex_t2i, ks), "engine": recall_from_ranks(en_t2i, ks)},
        "image_to_text": {"exact": recall_from_ranks(ex_i2t, ks), "engine": recall_from_ranks(en_i2t, ks)},
        "seconds": round(time.monotonic() - started, 1),
    }


def _stored_vectors(catalog: Any, paths: Sequence[Path]) -> np.ndarray:
    """The catalog's clip vector of each file (a text's first passage), float32 rows."""
    out = []
    for p in paths:
        media = catalog.media_by_path(str(p))
        vecs = catalog.vectors_of_media(media.id).get("clip") if media is not None else None
        if vecs is None or not len(vecs):
            raise ManifestError(f"{p} has no vector in the library")
        out.append(vecs[0])
    return np.stack(out).astype(np.float32)
