"""Offline and missing files: the rules that decide when the library may forget a file.

- A *place* (an indexed root, or a mount point inside one) is **offline** when it is not there, is empty while
  the catalog holds files under it, sits on another device than when it was indexed and none of its files is
  there unchanged (a mount point whose drive is absent, or another drive mounted there), or cannot be read.
  Its files keep their rows, vectors and job marks; their hits come back marked ``offline``.
- A file gone from an online place is **missing**: kept (its hits marked ``missing``) until more than
  ``missing_grace_runs`` runs found it gone and ``missing_grace_days`` have passed, then forgotten — unless that
  would forget more than ``missing_max_share`` of its place's files in one run: then all are kept and the run
  says so in one line. ``index --prune`` and ``remove`` forget at once.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mmsearch.config import Settings
from mmsearch.hits import Hit

if TYPE_CHECKING:
    from mmsearch.catalog import Catalog

ONLINE, OFFLINE = "online", "offline"


@dataclass(frozen=True)
class PlaceState:
    """Where a place stands after a look at it: ``why`` says what made it offline."""

    path: str
    dev: int | None  # st_dev and statvfs f_fsid when online (None: unknown)
    fsid: int | None = None
    state: str = ONLINE
    why: str | None = None
    error: str | None = None  # it could not be read: the error, for `mmsearch errors`


def inside(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or below it."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def place_of(path: str, places: Iterable[str]) -> str | None:
    """The innermost of ``places`` that holds ``path``."""
    holding = [p for p in places if inside(path, p)]
    return max(holding, key=len) if holding else None


def due(runs_before: int | None, since: dt.datetime | None, settings: Settings, now: dt.datetime) -> bool:
    """Whether a file this run found gone may be forgotten: this run included, more than ``missing_grace_runs``
    runs found it gone, and ``missing_grace_days`` passed since the first."""
    runs = (runs_before or 0) + 1
    age_days = (now - since).total_seconds() / 86400 if since is not None else 0.0
    return runs > settings.missing_grace_runs and age_days >= settings.missing_grace_days


def over_share(forget: int, total: int, settings: Settings) -> bool:
    """Whether forgetting ``forget`` of a place's ``total`` files in one run passes the bound."""
    return forget > settings.missing_max_share * total


def mark_hits(catalog: Catalog, hits: Sequence[Hit]) -> list[Hit]:
    """Set each hit's ``offline`` (its place is offline: it cannot be opened until the drive is back) and
    ``missing`` (its file is gone, not forgotten yet) flags: one query for the places, one for the files."""
    if not hits:
        return list(hits)
    offline, gone = catalog.presence_of([h.media_id for h in hits])
    for hit in hits:
        hit.offline = any(inside(hit.path, p) for p in offline)
        hit.missing = hit.media_id in gone
    return list(hits)
