"""What the library holds: counts, spaces and their models, errors, a file's scenes and transcript."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mmsearch.catalog import shown_url
from mmsearch.context import Context
from mmsearch.kinds import MediaKind, SegmentKind
from mmsearch.query.search import media_of


def stats(ctx: Context) -> dict[str, Any]:
    """Counts of files, segments and vectors, the spaces and their models, the library's place."""
    counts = ctx.catalog.counts()
    unavailable = ctx.models.unavailable
    spaces: list[dict[str, Any]] = []
    for space in ctx.catalog.spaces():
        spaces.append({
            "name": space.name,
            "model": space.model_id,
            "spec": space.spec,
            "dim": space.dim,
            "vectors": int(counts["vectors"].get(space.name, 0)),
            "indexed": ctx.library.index(space).ntotal,
            "active": space.name not in unavailable,
        })
    known = {s["name"] for s in spaces}
    for name, why in unavailable.items():
        if name not in known:
            spaces.append({"name": name, "model": None, "vectors": 0, "active": False, "reason": why})
    return {
        "library": str(ctx.library.root),
        "database": shown_url(ctx.settings.database),
        "files": sum(counts["media"].values()),
        "by_kind": counts["media"],
        "segments": counts["segments"],
        "bytes": counts["bytes"],
        "errors": counts["errors"],
        "spaces": spaces,
        "jobs": ctx.catalog.job_counts(),  # per space/job: files done, pending (model missing), failed
        "places": places(ctx),
    }


def places(ctx: Context) -> list[dict[str, Any]]:
    """Each indexed root (and offline folder): online or offline and why since when, its files, how many missing."""
    rows = ctx.catalog.places()
    out = []
    for path in sorted(set(ctx.catalog.roots()) | set(rows)):
        row = rows.get(path)
        files, missing = ctx.catalog.count_under(path)
        out.append({"path": path, "state": row.state if row else "online", "why": row.why if row else None,
                    "since": row.since.isoformat(timespec="seconds") if row else None, "files": files,
                    "missing": missing})
    return out


def errors(ctx: Context) -> list[dict[str, Any]]:
    """Files that could not be indexed, with the stage that failed and why."""
    return [
        {"path": e.path, "stage": e.stage, "message": e.message, "time": e.created.isoformat(timespec="seconds")}
        for e in ctx.catalog.errors()
    ]


def scenes(ctx: Context, video: str | Path) -> list[dict[str, Any]]:
    """A video's scenes in time order: start, end, keyframe time (seconds)."""
    media = media_of(ctx, video, MediaKind.VIDEO)
    return [
        {"start": s.start, "end": s.end, "keyframe": s.keyframe, "segment_id": s.id}
        for s in ctx.catalog.segments_of_media(media.id, kinds=[SegmentKind.SCENE])
    ]


def transcript(ctx: Context, path: str | Path) -> list[dict[str, Any]]:
    """The timed speech transcript of an audio or video file (empty when nothing was said)."""
    media = media_of(ctx, path)
    return [{"start": s.start, "end": s.end, "text": s.text}
            for s in ctx.catalog.segments_of_media(media.id, kinds=[SegmentKind.SPEECH])]
