"""The index run: a look at its places -> scan -> diff -> decode in worker threads -> writer (batched encode,
one transaction per batch) -> files gone: kept as missing, or forgotten (:mod:`.presence`) -> caption links
-> snapshot; then the deferred pass (OCR, indexers/deferred.py) over the committed files -> final snapshot.

Decoding (file read, hashing, image decode and model preprocessing) runs in a thread pool a bounded
number of files ahead of the writer, so the encoder is never waiting on disk and memory stays bounded.
"""
from __future__ import annotations

import os
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from mmsearch.catalog import Catalog, Media
from mmsearch.context import Context
from mmsearch.errors import MmsearchError
from mmsearch.kinds import TIMED_KINDS, Job, JobState, MediaKind, Space
from mmsearch.models import is_off
from mmsearch.presence import place_of

from . import presence
from .decode import decode
from .deferred import release_kept, run_deferred, without_deferred
from .items import FileEntry
from .kinds import HANDLERS, DecodeInputs
from .links import LinkRule
from .report import IndexReport, Progress, Tally
from .scan import diff, scan
from .spaces import RunModels
from .writer import Writer

if TYPE_CHECKING:
    from .cluster.ray_run import RayCluster

AHEAD = 4  # decoded files waiting for the writer, per worker


def run_index(ctx: Context, roots: list[Path], progress: Progress | None = None, *,
              strict: bool = False, ray_address: str = "", prune: bool = False,
              named: bool | None = None) -> IndexReport:
    """Index ``roots`` into ``ctx``'s library (see module docstring); no roots: the folders and files the
    library was indexed from before. ``strict``: fail when any work is left pending. ``ray_address``: decode
    and encode on that Ray cluster (indexers/cluster/); the scan, the diff and every commit stay here.
    ``prune``: forget files gone from online places now, without grace or share bound. ``named`` (default:
    roots were given): the user named the roots, which lifts a ``remove``'s exclusion of them (or of a
    folder they are in); a watcher's roots are not named."""
    if named is None:
        named = bool(roots)
    if not ray_address:
        return _run_index(ctx, roots, progress, strict, None, prune, named)
    from .cluster import open_cluster

    cluster = open_cluster(ray_address)  # first: a missing extra or an unreachable cluster fails at once
    try:
        return _run_index(ctx, roots, progress, strict, cluster, prune, named)
    finally:
        cluster.close()


def _run_index(ctx: Context, roots: list[Path], progress: Progress | None, strict: bool,
               cluster: RayCluster | None, prune: bool = False, named: bool = False) -> IndexReport:
    t0, cpu0 = time.monotonic(), time.process_time()
    recorded = ctx.catalog.roots()
    if not roots:
        roots = [Path(r) for r in recorded]
        if not roots:
            raise MmsearchError("name the folders to index (this library has none recorded yet)")
    roots = [Path(os.path.abspath(os.path.expanduser(r))) for r in roots]
    for root in roots:  # a recorded place that is not there is offline, anything else a typo
        if not root.exists() and place_of(str(root), recorded) is None:
            raise MmsearchError(f"no such file or folder: {root}")
    library, catalog = ctx.library, ctx.catalog
    library.acquire_writer()
    tally = Tally(progress)
    try:
        catalog.add_roots([str(r) for r in roots])
        places = presence.look(catalog, [str(r) for r in roots])
        scan_errors: list[tuple[str, str]] = []
        unreadable: list[tuple[str, str]] = []
        online = [r for r in roots if places.held(str(r)) is None]
        for root in roots:
            catalog.clear_scan_errors(str(root))  # looked at again: what still fails is recorded again
        scan_errors += places.errors()
        links = LinkRule(catalog.roots(), ctx.settings.links_between_roots)  # judged by the recorded roots
        entries = scan(online, library.root, lambda p, why: scan_errors.append((p, why)), unreadable, links,
                       excluded=_excluded(catalog, roots, named))
        for path, why in scan_errors:
            catalog.record_error(path, "scan", why)
            tally.unreadable(path, why)
        places.unreadable(unreadable)
        places.mounts({os.path.dirname(e.path) for e in entries}, [str(r) for r in online])
        # A file that could not be read is held; a link refused by the rule is gone from its root (missing).
        failed_files = {p for p, _ in scan_errors if links.refused(p) is None}
        plan = diff(entries, catalog, roots, lambda p: p in failed_files or places.held(p) is not None)
        models = RunModels(ctx, tally)
        if plan.work or _needs_clip(ctx):
            models.open_clip()
        missing_by_hash: dict[str, Media] = {}
        for m in plan.missing.values():
            missing_by_hash.setdefault(m.content_hash, m)
        tally.planned(plan.unchanged, plan.skipped_bad, len(plan.work))
        writer = Writer(ctx, models, tally)
        inputs = DecodeInputs(ctx.settings, models.encoder)
        workers = ctx.settings.decode_workers
        if cluster is not None:
            tally.report.cluster = cluster.index(ctx, plan.work, models, writer, missing_by_hash).to_dict()
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mmsearch-decode") as pool:
                pending: deque[Future] = deque()
                for entry, old in plan.work:
                    pending.append(pool.submit(decode, entry, old, inputs, missing_by_hash))
                    if len(pending) >= workers * AHEAD:
                        writer.take(pending.popleft().result())
                while pending:
                    writer.take(pending.popleft().result())
        writer.flush()
        verdict = presence.forgetting(catalog, [m for p, m in plan.missing.items() if p not in writer.moved_from],
                                      places, ctx.settings, prune)
        catalog.mark_missing([m.id for m in verdict.keep], present=plan.back)
        gone = [m.id for m in verdict.forget]
        if gone:
            writer.remove(gone)
        tally.gone(len(verdict.keep), places.offline(catalog), verdict.warnings)
        places.record(catalog)
        # After the work: files re-indexed whole have new rows and fresh marks; what is left pending is
        # work on unchanged files that a model which is here now can do.
        waiting = {m: names for m, names in without_deferred(catalog.pending()).items()
                   if _under(catalog.media_by_id(m), roots)}
        _backfill(catalog, models, writer, waiting, set(gone))
        _link_captions(ctx, plan.entries, roots)
        library.save(force=True)
        tally.pass_done("main", time.monotonic() - t0, len(plan.work), time.process_time() - cpu0)
        run_deferred(ctx, models, tally, roots, _under)
        library.save(force=True)
        tally.report.jobs = catalog.job_counts()
        _check_anything_ran(models, tally, strict, had_work=bool(plan.work))
    finally:
        release_kept()
        if progress:
            progress.stop()
        library.release_writer()
    tally.report.seconds = time.monotonic() - t0
    return tally.report


def _excluded(catalog: Catalog, roots: list[Path], named: bool) -> list[str]:
    """The removed paths this scan skips; named roots lift the exclusion of themselves and of what holds them."""
    excluded = catalog.excluded()
    if not named or not excluded:
        return excluded
    lifted = [e for e in excluded if any(str(r) == e or str(r).startswith(e.rstrip("/") + "/") for r in roots)]
    if lifted:
        catalog.set_excluded([e for e in excluded if e not in lifted])
    return [e for e in excluded if e not in lifted]


def _under(media: Media | None, roots: list[Path]) -> bool:
    if media is None:
        return False
    return any(media.path == str(r) or media.path.startswith(str(r).rstrip("/") + "/") for r in roots)


def _backfill(catalog: Catalog, models: RunModels, writer: Writer, pending: dict[int, set[str]],
              gone: set[int]) -> None:
    """Do the pending work that has become possible, file by file, for files unchanged on disk (changed
    ones were re-indexed whole by this run; gone ones removed)."""
    for media_id, names in sorted(pending.items()):
        maybe = {n for n in names if n not in models.ctx.models.unavailable}  # known missing: no look
        media = catalog.media_by_id(media_id) if maybe and media_id not in gone else None
        if media is None:
            continue
        doable = {n for n in maybe if models.can_do(n, MediaKind(media.kind))}  # loads the models it needs
        if not doable:
            continue  # waits on other work (a video's text on its scenes): not a backfill, nothing to say
        try:
            st = os.stat(media.path)
        except OSError:
            continue  # gone since the scan: the next run removes it
        if st.st_size != media.size or abs(st.st_mtime - media.mtime) > 1e-6:
            continue  # changed since the scan: the next run re-indexes it whole
        writer.backfill(media, doable)


def _needs_clip(ctx: Context) -> bool:
    """Whether pending work needs the clip model: clip work itself, or a video's text (read per scene, and
    its scenes are cut on the clip vectors) while the text reader is not turned off."""
    pending = ctx.catalog.pending([Space.CLIP, Job.OCR])
    if any(Space.CLIP in names for names in pending.values()):
        return True
    if not pending or is_off(ctx.models.spec(Job.OCR)):
        return False
    return any(m is not None and MediaKind(m.kind) in TIMED_KINDS for m in map(ctx.catalog.media_by_id, pending))


def _check_anything_ran(models: RunModels, tally: Tally, strict: bool, had_work: bool) -> None:
    """Exit non-zero when this run had files to index, work is pending and no model at all could run; or,
    with ``strict``, whenever work is pending. A run with nothing new (an up-to-date library, only
    deletions: what a watched folder does all day) is not an error for want of a model."""
    pending = {name for name, states in tally.report.jobs.items() if states.get(JobState.PENDING)}
    if not pending:
        return
    if strict:
        raise MmsearchError(f"work is pending for {', '.join(sorted(pending))} (--strict): "
                            + "; ".join(tally.report.warnings))
    if had_work and not any(_could_run(models, name) for name in tally.report.jobs):
        raise MmsearchError("no embedding model could run: " + "; ".join(tally.report.warnings))


def _could_run(models: RunModels, name: str) -> bool:
    """Whether ``name``'s model can run: the metadata job has none (it says nothing), and a clip model this
    run did not need (nothing new to embed) was not tried, so it is not known to be missing."""
    if name == Job.METADATA:
        return False
    if name == Space.CLIP and models.encoder is None and Space.CLIP not in models.ctx.models.unavailable:
        return True
    return models.available(name)


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
