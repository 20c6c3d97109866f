"""Moment retrieval quality: ``video,start,end,query`` manifests (text -> the right moment of a video).

Each row is a described moment. The videos are indexed with the real ingest path, then each query is
ranked twice, as the retrieval task does:

- ``engine``: ``Engine.search(query, kinds=["video"])``, the whole path (index family, frame->scene
  pooling, merging of overlapping moments, every space);
- ``exact``: brute-force cosine of the query against every stored clip-space segment of the videos
  (scenes and frames, no pooling), distinct moments in score order.

A hit counts when it is the right video and its span overlaps the described one by at least half of
the shorter of the two (scenes are coarser than hand-made annotations, so IoU would punish a correct
scene that also holds a little more). Times are seconds, or ``HH:MM:SS(.s)``.
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
from mmsearch.kinds import Space
from mmsearch.query import search

from ..run import run_index
from .base import KS, ManifestError, recall_from_ranks


@dataclass(frozen=True)
class Moment:
    video: Path
    start: float
    end: float
    query: str


def _seconds(text: str) -> float:
    parts = [float(p) for p in str(text).strip().split(":")]
    value = 0.0
    for p in parts:
        value = value * 60 + p
    return value


def build_moments(rows: list[dict], root: Path) -> list[Moment]:
    out = []
    for i, row in enumerate(rows, 1):
        try:
            start, end = _seconds(row["start"]), _seconds(row["end"])
        except (KeyError, ValueError):
            raise ManifestError(f"row {i}: start and end must be seconds or HH:MM:SS") from None
        if end <= start or not str(row.get("query", "")).strip():
            raise ManifestError(f"row {i}: needs end > start and a query")
        video = Path(row["video"]).expanduser()
        path = (video if video.is_absolute() else root / video).absolute()
        out.append(Moment(path, start, end, row["query"].strip()))
    return out


def matches(path: str, start: float | None, end: float | None, m: Moment) -> bool:
    if path != str(m.video) or start is None or end is None:
        return False
    overlap = min(end, m.end) - max(start, m.start)
    return overlap > 0 and overlap >= 0.5 * min(end - start, m.end - m.start)


def run_moments(ctx: Context, manifest: Any, ks: Sequence[int] = KS,
                progress: Callable[[str], None] | None = None, **_: Any) -> dict:
    t0 = time.monotonic()
    moments: list[Moment] = manifest.records
    videos = sorted({m.video for m in moments})
    missing = [v for v in videos if not v.is_file()]
    if missing:
        raise ManifestError(f"video not found: {missing[0]}")
    if progress:
        progress(f"indexing {len(videos)} videos")
    report = run_index(ctx, videos)
    depth = max(ks)
    engine_ranks, exact_ranks = [], []
    enc = ctx.models.encoder(Space.CLIP)
    space = ctx.catalog.space("clip")
    if space is None:
        raise MmsearchError("the library has no clip space: no video frame was encoded with the CLIP model")
    media = {found for found in map(ctx.catalog.media_by_path, map(str, videos)) if found is not None}
    seg_ids = [s.id for m in media for s in ctx.catalog.segments_of_media(m.id)]
    rows = ctx.catalog.segments(seg_ids)
    ids: list[int] = []
    parts: list[np.ndarray] = []
    for batch_ids, batch in ctx.catalog.iter_vectors(space.id, space.dim):
        keep = np.isin(batch_ids, seg_ids)
        ids += batch_ids[keep].tolist()
        parts.append(batch[keep])
    vectors = np.concatenate(parts) if parts else np.zeros((0, space.dim), np.float32)
    queries = enc.encode_text([m.query for m in moments])
    for m, q in zip(moments, queries):
        hits = search.search(ctx, m.query, k=depth, kinds=["video"])
        engine_ranks.append(next((i for i, h in enumerate(hits) if matches(h.path, h.start, h.end, m)), np.inf))
        seen: list[tuple] = []
        rank = np.inf
        for j in np.argsort(-(vectors @ q), kind="stable"):
            row = rows[int(ids[j])]
            moment = (row.path, row.start, row.end)
            if moment in seen:
                continue
            seen.append(moment)
            if matches(*moment, m):
                rank = len(seen) - 1  # 0-based, as recall_from_ranks counts
                break
            if len(seen) >= depth:
                break
        exact_ranks.append(rank)
    return {
        "task": "moments",
        "videos": len(videos),
        "queries": len(moments),
        "failed_videos": report.failed,
        "model": enc.model_id,
        "match": "right video, overlap >= half of the shorter span",
        "text_to_moment": {"exact": recall_from_ranks(exact_ranks, ks), "engine": recall_from_ranks(engine_ranks, ks)},
        "seconds": round(time.monotonic() - t0, 2),
    }

