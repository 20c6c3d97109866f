"""The index run: scan -> diff -> decode in worker threads -> writer (batched encode, one transaction per
batch) -> removals -> caption links -> final snapshot.

Decoding (file read, hashing, image decode and model preprocessing) runs in a thread pool a bounded
number of files ahead of the writer, so the encoder is never waiting on disk and memory stays bounded.
"""
from __future__ import annotations

import os
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from mmsearch.catalog import Media
from mmsearch.context import Context
from mmsearch.errors import MmsearchError

from .decode import decode
from .items import FileEntry
from .kinds import HANDLERS, DecodeInputs
from .report import IndexReport, Progress, Tally
from .scan import diff, scan
from .spaces import RunModels
from .writer import Writer

AHEAD = 4  # decoded files waiting for the writer, per worker


def run_index(ctx: Context, roots: list[Path], progress: Progress | None = None) -> IndexReport:
    """Index ``roots`` into ``ctx``'s library (see module docstring)."""
    t0 = time.monotonic()
    for root in roots:
        if not root.expanduser().exists():
            raise MmsearchError(f"no such file or folder: {root}")
    roots = [Path(os.path.abspath(os.path.expanduser(r))) for r in roots]
    library, catalog = ctx.library, ctx.catalog
    library.acquire_writer()
    tally = Tally(progress)
    try:
        scan_errors: list[tuple[str, str]] = []
        entries = scan(roots, library.root, lambda p, why: scan_errors.append((p, why)))
        for path, why in scan_errors:
            catalog.record_error(path, "scan", why)
            tally.unreadable(path, why)
        plan = diff(entries, catalog, roots)
        models = RunModels(ctx, tally)
        if plan.work:
            models.open_clip()
        missing_by_hash: dict[str, Media] = {}
        for m in plan.missing.values():
            missing_by_hash.setdefault(m.content_hash, m)
        tally.planned(plan.unchanged, plan.skipped_bad, len(plan.work))
        writer = Writer(ctx, models, tally)
        inputs = DecodeInputs(ctx.settings, models.encoder)
        workers = ctx.settings.decode_workers
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mmsearch-decode") as pool:
            pending: deque[Future] = deque()
            for entry, old in plan.work:
                pending.append(pool.submit(decode, entry, old, inputs, missing_by_hash))
                if len(pending) >= workers * AHEAD:
                    writer.take(pending.popleft().result())
            while pending:
                writer.take(pending.popleft().result())
        writer.flush()
        gone = [m.id for p, m in plan.missing.items() if p not in writer.moved_from]
        if gone:
            writer.remove(gone)
        _link_captions(ctx, plan.entries, roots)
        library.save(force=True)
    finally:
        if progress:
            progress.stop()
        library.release_writer()
    tally.report.seconds = time.monotonic() - t0
    return tally.report


def _link_captions(ctx: Context, entries: list[FileEntry], roots: list[Path]) -> None:
    """Point each caption or subtitle file at the media it describes, as the names on disk say now."""
    texts = [e for e in entries if HANDLERS[e.kind].describes]
    if not texts:
        return
    catalog = ctx.catalog
    wanted = {e.path for e in texts} | {e.link for e in texts if e.link}
    by_path = {m.path: m for root in roots for m in catalog.all_media(prefix=str(root)) if m.path in wanted}
    for e in texts:
        text = by_path.get(e.path)
        target = by_path.get(e.link) if e.link else None
        want = target.id if target is not None else None
        if text is not None and text.link_id != want:
            catalog.set_link(text.id, want)
