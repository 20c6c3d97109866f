"""Writes that are not an ingest: forget files, rebuild indexes from the stored vectors."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mmsearch.catalog import WriteResult
from mmsearch.context import Context
from mmsearch.errors import MmsearchError


def remove(ctx: Context, paths: Iterable[str | Path]) -> int:
    """Forget files (or everything under folders) without touching them on disk; returns how many. Each
    path is remembered as excluded: later scans skip it until ``index`` names it (or a path inside) again.
    A path that holds nothing in the library is an error, and then nothing is removed."""
    ids: list[int] = []
    named: list[str] = []
    for p in paths:
        full = str(Path(p).expanduser().absolute())
        inside = full.rstrip("/") + "/"
        found = [m.id for m in ctx.catalog.all_media(prefix=full) if m.path == full or m.path.startswith(inside)]
        if not found:
            raise MmsearchError(f"not in the library: {p} (nothing removed)")
        ids += found
        named.append(full)
    with ctx.library.writing():
        removed = ctx.catalog.remove_media(ids)
        ctx.library.apply(WriteResult([], {}, removed))
        ctx.library.save(force=True)
        ctx.catalog.set_excluded(ctx.catalog.excluded() + named)
    return len(ids)


def reindex(ctx: Context) -> dict[str, int]:
    """Rebuild every space's FAISS index from the stored vectors (no decoding, no embedding)."""
    with ctx.library.writing():
        counts = {s.name: ctx.library.rebuild(s).ntotal for s in ctx.catalog.spaces()}
        ctx.library.save(force=True)
        return counts
