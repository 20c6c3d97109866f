"""An index run's look at its places, and what it forgets (the rules: :mod:`mmsearch.presence`).

Before the scan, each place the run touches (the recorded root holding each of its roots, and the places
recorded below them) is looked at: not there, empty while the catalog holds files under it, unreadable, or
on another device with none of its files there unchanged: offline. The scan leaves offline places out; a
folder whose walk fails becomes an offline place of its own. After the work, files gone from online places
are marked missing, and those past their grace are forgotten within the share bound (or all, ``prune``).
"""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mmsearch.catalog import Catalog, Media, utcnow
from mmsearch.config import Settings
from mmsearch.presence import OFFLINE, ONLINE, PlaceState, due, inside, over_share, place_of

SAMPLE = 50  # catalogued files looked at to tell a remounted drive (new device number) from another drive


@dataclass
class Look:
    """The places of one run and their state; ``roots`` are the recorded roots (a file's share is its root's)."""

    states: dict[str, PlaceState] = field(default_factory=dict)
    roots: list[str] = field(default_factory=list)

    def held(self, path: str) -> str | None:
        """Why ``path`` must not be taken for gone (it is in an offline place), or None."""
        for place, st in self.states.items():
            if st.state == OFFLINE and inside(path, place):
                return st.why
        return None

    def unreadable(self, folders: Iterable[tuple[str, str]]) -> None:
        """Folders whose walk failed (path, why): offline places of their own."""
        for folder, why in folders:
            if self.held(folder) is None:
                self.states[folder] = PlaceState(folder, None, None, OFFLINE, f"cannot be read: {why}")

    def mounts(self, folders: Iterable[str], roots: Sequence[str]) -> None:
        """Mount points below ``roots`` that hold ``folders`` (a drive mounted inside a root) become places of
        their own: the day that drive is absent, its files are offline, not deleted."""
        seen: set[str] = set()
        for folder in folders:
            while folder not in seen and folder not in roots and any(inside(folder, r) for r in roots):
                seen.add(folder)
                if folder not in self.states and os.path.ismount(folder):
                    self.states[folder] = PlaceState(folder, os.stat(folder).st_dev, _fsid(folder))
                folder = os.path.dirname(folder)

    def errors(self) -> list[tuple[str, str]]:
        """(path, why) of each place that could not even be looked at (its walk's errors are the scan's)."""
        return [(p, st.error) for p, st in self.states.items() if st.error]

    def offline(self, catalog: Catalog) -> list[dict]:
        """Each offline place with why, and how many catalogued files it holds (kept)."""
        held = [{"path": p, "why": st.why, "files": catalog.count_under(p)[0]}
                for p, st in sorted(self.states.items()) if st.state == OFFLINE]
        return [h for h in held if h["files"]]

    def record(self, catalog: Catalog) -> None:
        """Write each place's device and state; a folder that was unreadable and is back is no place any more."""
        for path, st in self.states.items():
            if st.state == ONLINE and path not in self.roots and not os.path.ismount(path):
                catalog.forget_places([path])  # a folder readable again
            elif st.state == OFFLINE and path not in self.roots and not catalog.count_under(path)[0]:
                continue  # an unreadable folder nothing was indexed from: the error says it
            else:
                catalog.set_place(path, st.dev, st.fsid, st.state, st.why)


def look(catalog: Catalog, roots: Sequence[str]) -> Look:
    """Look at every place the run over ``roots`` touches (see module docstring)."""
    recorded = catalog.roots()
    known = catalog.places()
    names = set(recorded) | set(known)
    places = {place_of(r, recorded) or r for r in roots} | {p for p in names if any(inside(p, r) for r in roots)}
    out = Look(roots=recorded)  # the run's roots are recorded already (or lie inside recorded ones)
    for p in sorted(places):
        row = known.get(p)
        out.states[p] = _look_at(catalog, p, (row.dev, row.fsid) if row is not None else (None, None))
    return out


def _look_at(catalog: Catalog, path: str, device: tuple[int | None, int | None]) -> PlaceState:
    """A place's state; ``device``: its (st_dev, f_fsid) when last online. A remounted drive may get another
    st_dev (another loop or device number), another drive the same one: either differing is a change, and a
    change with none of its files there unchanged is another drive (or none)."""
    try:
        st = os.stat(path)
        fsid = _fsid(path)
        if os.path.isdir(path):
            with os.scandir(path) as it:
                empty = next(it, None) is None
        else:
            empty = False
    except FileNotFoundError:
        return PlaceState(path, None, None, OFFLINE, "not found (a drive not mounted?)")
    except OSError as exc:
        why = exc.strerror or str(exc)
        return PlaceState(path, None, None, OFFLINE, f"cannot be read: {why}", error=why)
    if empty and catalog.count_under(path)[0]:
        return PlaceState(path, None, None, OFFLINE,
                          "empty while the library holds files there (a drive not mounted?)")
    moved = any(old is not None and old != new for old, new in zip(device, (st.st_dev, fsid)))
    if moved and not _same_files(catalog, path):
        return PlaceState(path, None, None, OFFLINE, "on another device than when indexed, without its files "
                                                    "(a drive not mounted, or another one?)")
    return PlaceState(path, st.st_dev, fsid)


def _fsid(path: str) -> int:
    return os.statvfs(path).f_fsid & (2**63 - 1)  # a signed 64-bit column


def _same_files(catalog: Catalog, path: str) -> bool:
    """Whether any of the first catalogued files under ``path`` is there unchanged: the same drive, remounted."""
    for m in catalog.all_media(prefix=path)[:SAMPLE]:
        try:
            st = os.stat(m.path)
        except OSError:
            continue
        if st.st_size == m.size and st.st_mtime == m.mtime:
            return True
    return False


@dataclass
class Forgetting:
    """What a run does with the files it found gone: forget some, keep the rest as missing."""

    forget: list[Media] = field(default_factory=list)
    keep: list[Media] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def forgetting(catalog: Catalog, gone: Sequence[Media], look: Look, settings: Settings, prune: bool,
               now: dt.datetime | None = None) -> Forgetting:
    """Split files gone from online places into forgotten (past their grace, within the share bound of their
    root; all of them with ``prune``) and kept as missing; one warning line per root that passed the bound."""
    if prune:
        return Forgetting(forget=list(gone))
    now = now or utcnow()
    out = Forgetting()
    by_root: dict[str, list[Media]] = {}
    for m in gone:
        if due(m.missing_runs, m.missing_since, settings, now):
            by_root.setdefault(place_of(m.path, look.roots) or os.path.dirname(m.path), []).append(m)
        else:
            out.keep.append(m)
    for root, files in sorted(by_root.items()):
        total = catalog.count_under(root)[0]
        if over_share(len(files), total, settings):
            out.keep += files
            out.warnings.append(
                f"kept {len(files)} files gone from {root}: {100 * len(files) / max(total, 1):.0f} % of its {total}, "
                f"over the {100 * settings.missing_max_share:.0f} % one run may forget "
                "(`mmsearch index --prune` forgets them, `mmsearch remove PATH` forgets some)")
        else:
            out.forget += files
    return out
