"""Where the library's files live (mmsearch/presence.py, indexers/presence.py): the indexed roots, the paths
``remove`` excluded, each place's device and online state, and files marked missing."""
from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import delete, func, select, update

from mmsearch.catalog.connection import CatalogConnection, chunks
from mmsearch.catalog.schema import IngestError, Media, Meta, Place, utcnow


class Places(CatalogConnection):
    """Roots, exclusions, places and missing marks."""

    def roots(self) -> list[str]:
        """The folders and files this library has been indexed from (what ``index`` with no paths re-reads)."""
        with self.session() as s:
            row = s.get(Meta, "roots")
            return list(json.loads(row.value)) if row else []

    def add_roots(self, paths: Sequence[str]) -> None:
        """Remember indexed roots; a root inside one already remembered adds nothing."""
        known = self.roots()
        new = [p for p in paths if not any(p == k or p.startswith(k.rstrip("/") + "/") for k in known)]
        if not new:
            return
        kept = [k for k in known if not any(k.startswith(p.rstrip("/") + "/") for p in new)]
        with self._writing() as s:
            s.merge(Meta(key="roots", value=json.dumps(sorted(kept + new))))

    def excluded(self) -> list[str]:
        """Paths ``remove`` forgot: scans skip them until ``index`` names them (or a path inside) again."""
        with self.session() as s:
            row = s.get(Meta, "excluded")
            return list(json.loads(row.value)) if row else []

    def set_excluded(self, paths: Sequence[str]) -> None:
        with self._writing() as s:
            s.merge(Meta(key="excluded", value=json.dumps(sorted(set(paths)))))

    def places(self) -> dict[str, Place]:
        with self.session() as s:
            return {p.path: p for p in s.scalars(select(Place))}

    def set_place(self, path: str, dev: int | None, fsid: int | None, state: str, why: str | None) -> None:
        """Record a place's device (None: keep the one recorded) and state; ``since`` moves when the state does."""
        with self._writing() as s:
            old = s.get(Place, path)
            if old is None:
                s.add(Place(path=path, dev=dev, fsid=fsid, state=state, why=why))
            else:
                old.since = utcnow() if old.state != state else old.since
                old.state, old.why = state, why
                if dev is not None:
                    old.dev, old.fsid = dev, fsid

    def forget_places(self, paths: Sequence[str]) -> None:
        with self._writing() as s:
            s.execute(delete(Place).where(Place.path.in_(list(paths))))

    def mark_missing(self, media_ids: Sequence[int], present: Sequence[int] = ()) -> None:
        """One more run found ``media_ids`` gone (since now, if they were not missing); ``present`` are back."""
        with self._writing() as s:
            for chunk in chunks(list(media_ids)):
                s.execute(update(Media).where(Media.id.in_(chunk)).values(
                    missing_since=func.coalesce(Media.missing_since, utcnow()),
                    missing_runs=func.coalesce(Media.missing_runs, 0) + 1))
            for chunk in chunks(list(present)):
                s.execute(update(Media).where(Media.id.in_(chunk)).values(missing_since=None, missing_runs=None))

    def presence_of(self, media_ids: Sequence[int]) -> tuple[list[str], set[int]]:
        """The offline places' paths, and which of ``media_ids`` are marked missing (one connection)."""
        with self.sql.connect() as conn:
            offline = list(conn.scalars(select(Place.path).where(Place.state == "offline")))
            missing = {int(i) for chunk in chunks(list(dict.fromkeys(media_ids))) for i in conn.scalars(
                select(Media.id).where(Media.id.in_(chunk), Media.missing_since.is_not(None)))}
        return offline, missing

    def count_under(self, prefix: str) -> tuple[int, int]:
        """(files, of them missing) whose path is ``prefix`` or below it."""
        inside = prefix.rstrip("/") + "/"
        with self.session() as s:
            row = s.execute(select(func.count(), func.count(Media.missing_since))
                            .where((Media.path == prefix) | Media.path.startswith(inside, autoescape=True))).one()
        return int(row[0]), int(row[1])

    def clear_scan_errors(self, prefix: str) -> None:
        """Forget the scan errors at or below ``prefix`` (a run looks again and records what still fails)."""
        inside = prefix.rstrip("/") + "/"
        with self._writing() as s:
            s.execute(delete(IngestError).where(IngestError.stage == "scan", (IngestError.path == prefix)
                                                | IngestError.path.startswith(inside, autoescape=True)))
