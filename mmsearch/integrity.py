"""Library integrity: verify the catalog against the vector indexes and stored vectors; repair from the catalog.

The catalog is the source of truth (see ``mmsearch.library``). :func:`check` compares, per space, the set of
segment ids that carry a vector in the catalog with the ids of the live index and of the snapshot file on
disk, the counts, the stored vectors (length = dim float16 values, finite), the snapshot's epoch, model and
dimension; it finds catalog rows that point nowhere (segments without media or space, children without their
parent) and, as information only, media whose files are gone from disk.

:func:`repair` fixes what :func:`check` finds, from the catalog alone: rows that point nowhere are deleted,
a file whose stored vectors are damaged is forgotten (the next index run embeds it again), every index is
rebuilt from the stored vectors and saved, stray temporary and unknown index files are deleted. Files on
disk are never touched. It takes the writer lock, so it refuses while an index run is writing.

*Problems* are inconsistencies that give wrong answers or lose data until repaired (``ok`` is False and the
CLI exits 1). *Warnings* are states the engine already handles (a snapshot behind the catalog is replayed on
open) or that only the user can act on (a file missing on disk stays searchable until the next index run).
"""
from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from mmsearch.catalog import SCHEMA_VERSION, Space
from mmsearch.context import Context
from mmsearch.errors import LibraryError
from mmsearch.library_marker import MARKER
from mmsearch.vectors import VectorIndex

log = logging.getLogger(__name__)

__all__ = ["Issue", "Report", "check", "repair"]

_EXAMPLES = 10  # ids or paths quoted per issue
_BATCH = 20_000  # vectors read per query


@dataclass
class Issue:
    code: str  # stable, for scripts: "index-ids", "orphan-segments", ...
    message: str  # one line for people
    space: str | None = None
    count: int = 0
    examples: list = field(default_factory=list)


@dataclass
class Report:
    """What :func:`check` found (and, after :func:`repair`, what was done: ``repaired``)."""

    library: str = ""
    schema: int = 0
    media: int = 0
    segments: int = 0
    spaces: dict[str, dict] = field(default_factory=dict)
    problems: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ok"] = self.ok
        return d

    def _problem(self, code: str, message: str, space: str | None = None, items: Any = ()) -> None:
        items = list(items)
        self.problems.append(Issue(code, message, space, len(items), [_plain(i) for i in items[:_EXAMPLES]]))

    def _warning(self, code: str, message: str, space: str | None = None, items: Any = ()) -> None:
        items = list(items)
        self.warnings.append(Issue(code, message, space, len(items), [_plain(i) for i in items[:_EXAMPLES]]))


def check(ctx: Context) -> Report:
    """Verify the library of ``ctx``; never changes anything."""
    return _check(ctx)[0]


def repair(ctx: Context) -> Report:
    """Fix what :func:`check` finds from the catalog; returns the check of the repaired library."""
    library, catalog = ctx.library, ctx.catalog
    if not library.is_library:
        raise LibraryError(f"{library.root} is not an mmsearch library (it holds no {MARKER} file): check --repair "
                           "changes nothing there (give the library folder with --library)")
    held = library.is_writer
    library.acquire_writer()  # LibraryLockedError while an index run is writing
    try:
        report, found = _check(ctx)
        done: list[str] = []
        dead_segments = sorted(set(found["orphans"]) | set(found["no_space"]) | set(found["no_parent"]))
        if dead_segments:
            catalog.delete_segments(dead_segments)
            done.append(f"deleted {len(dead_segments)} segments that pointed to no file, space or parent")
        damaged = sorted(set(found["damaged_media"]))
        if damaged:
            catalog.remove_media(damaged)
            done.append(f"forgot {len(damaged)} files with damaged stored vectors "
                        "(the next index run embeds them again)")
        for space in catalog.spaces():
            n = library.rebuild(space).ntotal
            done.append(f"rebuilt index {space.name!r} from {n} stored vectors")
        library.save(force=True)
        for path in found["stray_files"]:
            try:
                path.unlink()
                done.append(f"deleted stray file {path.name}")
            except OSError as exc:
                done.append(f"could not delete {path}: {exc.strerror}")
        final = check(ctx)
        final.repaired = done
        return final
    finally:
        if not held:
            library.release_writer()


# -- the checks ------------------------------------------------------------------------------------
def _check(ctx: Context) -> tuple[Report, dict]:
    library, catalog = ctx.library, ctx.catalog
    report = Report(library=str(library.root), schema=catalog.schema_version())
    found: dict[str, list] = {"orphans": [], "no_space": [], "no_parent": [], "damaged_media": [], "stray_files": []}
    if report.schema != SCHEMA_VERSION:
        report._problem("schema", f"catalog schema {report.schema}, this mmsearch writes {SCHEMA_VERSION}")

    facts = catalog.integrity_facts()
    report.media, report.segments = facts.media, facts.segments
    orphans, no_space, no_parent = facts.orphans, facts.no_space, facts.no_parent
    empty_media, paths = facts.empty_media, facts.paths
    if orphans:
        report._problem("orphan-segments", f"{len(orphans)} segments belong to no file", items=orphans)
        found["orphans"] = list(orphans)
    if no_space:
        report._problem("segments-without-space", f"{len(no_space)} segments point to a space that does not exist",
                        items=no_space)
        found["no_space"] = list(no_space)
    if no_parent:
        report._problem("segments-without-parent", f"{len(no_parent)} segments point to a parent segment that does "
                        "not exist", items=no_parent)
        found["no_parent"] = list(no_parent)
    if empty_media:
        report._warning("media-without-segments", f"{len(empty_media)} files have no segments (nothing of them "
                        "can be found)", items=empty_media)
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        report._warning("missing-files", f"{len(missing)} files are gone from disk (index runs keep them as missing "
                        "or offline, then forget the missing ones: docs/reliability.md)", items=missing)

    spaces = catalog.spaces()
    for space in spaces:
        _check_space(ctx, space, report, found)

    known = {library.index_path(sp.name).name for sp in spaces}
    if library.index_dir.is_dir():
        for entry in sorted(library.index_dir.iterdir()):
            if entry.name.endswith(".tmp") and entry.name.startswith("."):
                found["stray_files"].append(entry)
                report._warning("stray-temp-file", f"unfinished snapshot {entry.name} (left by a killed run)",
                                items=[entry.name])
            elif entry.name.endswith(".index") and entry.name not in known:
                found["stray_files"].append(entry)
                report._warning("unknown-index-file", f"index file {entry.name} belongs to no space",
                                items=[entry.name])
    return report, found


def _check_space(ctx: Context, space: Space, report: Report, found: dict) -> None:
    library, catalog = ctx.library, ctx.catalog
    name, dim = space.name, space.dim
    ids: list[int] = []
    bad_length: list[int] = []
    not_finite: list[int] = []
    damaged_media: set[int] = set()
    for rows in catalog.iter_raw_vectors(space.id, _BATCH):
        good_rows = []
        for sid, media_id, blob in rows:
            ids.append(sid)
            if blob is None or len(blob) != 2 * dim:
                bad_length.append(sid)
                damaged_media.add(media_id)
            else:
                good_rows.append((sid, media_id, blob))
        if good_rows:
            vecs = np.frombuffer(b"".join(bytes(r[2]) for r in good_rows), dtype=np.float16).reshape(-1, dim)
            for row in np.flatnonzero(~np.isfinite(vecs).all(axis=1)):
                sid, media_id, _ = good_rows[row]
                not_finite.append(sid)
                damaged_media.add(media_id)
    catalog_ids = set(ids)
    info: dict[str, Any] = {"model": space.model_id, "dim": dim, "epoch": space.epoch, "catalog_vectors": len(ids)}
    report.spaces[name] = info
    if bad_length:
        report._problem("vector-size", f"{len(bad_length)} stored vectors are not {dim} float16 values", name,
                        bad_length)
    if not_finite:
        report._problem("vector-values", f"{len(not_finite)} stored vectors hold NaN or infinite values", name,
                        not_finite)
    found["damaged_media"] += sorted(damaged_media)

    # The snapshot file: what the next open will trust when its epoch matches the catalog's.
    path = library.index_path(name)
    if not path.exists():
        info["snapshot"] = None
        if ids:
            report._warning("snapshot-missing", f"space {name!r} has no index snapshot; it is rebuilt from the "
                            "stored vectors on every open", name)
    else:
        try:
            snap, meta = VectorIndex.load(path)
        except LibraryError as exc:
            info["snapshot"] = "damaged"
            report._warning("snapshot-damaged", f"{exc}", name)
        else:
            info["snapshot"] = {"epoch": meta.get("epoch"), "vectors": snap.ntotal, "model": meta.get("model_id")}
            if meta.get("model_id") != space.model_id or snap.dim != dim:
                report._warning("snapshot-other-model", f"index snapshot of {name!r} was made for model "
                                f"{meta.get('model_id')!r} dim {snap.dim}; it is ignored and rebuilt on open", name)
            elif (meta.get("epoch"), meta.get("generation")) != catalog.space_generations().get(name):
                report._warning("snapshot-stale", f"index snapshot of {name!r} does not reflect the catalog (epoch "
                                f"{meta.get('epoch')}, catalog {space.epoch}, or another generation: a killed run, "
                                "another writer, a catalog restored from before); it is replayed from the stored "
                                "vectors on open", name)
            else:
                _compare(report, name, "index snapshot", snap, catalog_ids, catalog, space)

    # The live index this engine answers queries with.
    try:
        live = library.index(space)
    except Exception as exc:  # noqa: BLE001 - a check reports, it does not crash
        report._problem("index-unreadable", f"index of {name!r} cannot be loaded: {exc}", name)
        return
    info["index_vectors"] = live.ntotal
    now = catalog.space(name)
    if now is None or now.epoch != space.epoch:  # a writer committed while this space was read: no like for like
        report._warning("catalog-moving", f"space {name!r} changed while it was checked (a writer is running); its "
                        "live index was not compared (readers reload on the next query)", name)
        return
    _compare(report, name, "index", live, catalog_ids, catalog, space)


def _compare(report: Report, name: str, what: str, idx: VectorIndex, catalog_ids: set[int], catalog: Any,
             space: Space) -> None:
    """Problems when ``idx`` does not hold exactly the catalog's vectors of the space."""
    index_ids = idx.ids()
    as_set = set(int(i) for i in index_ids)
    if idx.dim != space.dim:
        report._problem("index-dim", f"{what} of {name!r} has dimension {idx.dim}, the space {space.dim}", name)
        return
    if len(as_set) != len(index_ids):
        report._problem("index-duplicates", f"{what} of {name!r} holds {len(index_ids) - len(as_set)} duplicate ids",
                        name, _duplicates(index_ids))
    extra = sorted(as_set - catalog_ids)
    lost = sorted(catalog_ids - as_set)
    if extra:
        report._problem("index-extra", f"{what} of {name!r} holds {len(extra)} vectors the catalog does not have",
                        name, extra)
    if lost:
        report._problem("index-missing", f"{what} of {name!r} lacks {len(lost)} vectors of the catalog", name, lost)
    if idx.ntotal != len(catalog_ids) and not extra and not lost and len(as_set) == len(index_ids):
        report._problem("index-count", f"{what} of {name!r} counts {idx.ntotal} vectors, the catalog "
                        f"{len(catalog_ids)}", name)
    _compare_values(report, name, what, idx, sorted(catalog_ids & as_set), catalog, space)


def _compare_values(report: Report, name: str, what: str, idx: VectorIndex, ids: list[int], catalog: Any,
                    space: Space) -> None:
    """Spot-check that the index holds the stored vectors themselves (not stale or foreign ones). Every index
    family keeps the float16 vectors it was given, so they compare to the catalog's copies exactly."""
    if not ids:
        return
    sample = ids if len(ids) <= 256 else [ids[int(i)] for i in np.linspace(0, len(ids) - 1, 256)]
    try:
        got = np.stack([idx.reconstruct(int(i)) for i in sample])
    except (KeyError, NotImplementedError, RuntimeError) as exc:  # an id gone meanwhile, a family (or FAISS)
        # that cannot give its vectors back: compared by ids only
        log.warning("check: %s of %r cannot give its vectors back (%s); compared by ids only", what, name, exc)
        return
    blobs = catalog.vector_blobs(sample)
    wrong = []
    for i, vec in zip(sample, got):
        blob = blobs.get(i)
        if blob is None or len(blob) != 2 * space.dim:
            continue
        stored = np.frombuffer(bytes(blob), dtype=np.float16).astype(np.float32)
        if np.all(np.isfinite(stored)) and not np.allclose(vec, stored, atol=1e-2):
            wrong.append(i)
    if wrong:
        report._problem("index-values", f"{what} of {name!r}: {len(wrong)} of {len(sample)} sampled vectors differ "
                        "from the stored ones", name, wrong)


def _duplicates(ids: np.ndarray) -> list[int]:
    values, counts = np.unique(ids, return_counts=True)
    return [int(v) for v in values[counts > 1]]


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, (np.integer,)) else value
