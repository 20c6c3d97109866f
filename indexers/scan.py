"""Walk folders, classify files by extension, and diff them against the catalog."""
from __future__ import annotations

import errno
import fnmatch
import hashlib
import os
import stat
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from mmsearch.catalog import Catalog, Media
from mmsearch.kinds import MediaKind, kind_of_path

from .items import FileEntry
from .kinds import HANDLERS
from .links import LinkRule

__all__ = ["FileEntry", "Plan", "diff", "file_hash", "kind_of", "scan"]


@dataclass
class Plan:
    """What an index run has to do."""

    unchanged: int = 0
    skipped_bad: int = 0  # failed before and unchanged since
    work: list[tuple[FileEntry, Media | None]] = field(default_factory=list)  # new or changed
    missing: dict[str, Media] = field(default_factory=dict)  # in the catalog, gone from disk
    held: dict[str, Media] = field(default_factory=dict)  # not seen, in an offline place or unreadable: kept
    back: list[int] = field(default_factory=list)  # marked missing before, there again unchanged
    entries: list[FileEntry] = field(default_factory=list)


def kind_of(path: str) -> MediaKind | None:
    """The kind of a file by its extension (the kind table), or None: not indexed."""
    return kind_of_path(path)


def scan(roots: Iterable[Path], skip: Path | None, on_error: Callable[[str, str], None],
         unreadable: list[tuple[str, str]] | None = None, links: LinkRule | None = None,
         excluded: Collection[str] = ()) -> list[FileEntry]:
    """Every supported file under ``roots`` (files may be named directly). Hidden files and folders,
    the library folder itself, the ``excluded`` paths (what ``remove`` forgot) and what a ``.mmsearchignore``
    file (glob patterns, applying to its folder and below) names are skipped; symbolic links to folders are
    not followed (no loops), and a file link out of its root is not indexed (``links``: the recorded roots it
    is judged against; default ``roots`` themselves; see indexers/links.py). Each folder whose walk fails is
    told to ``on_error`` and added to ``unreadable`` (path, why): its files are unknown."""
    found: dict[str, FileEntry] = {}
    skip_s = str(skip) if skip else None
    roots = [Path(os.path.abspath(os.path.expanduser(r))) for r in roots]
    links = links or LinkRule([str(r) for r in roots])
    add = partial(_add, links=links)
    out = set(excluded)
    for root in roots:
        root = Path(os.path.abspath(os.path.expanduser(root)))
        if any(str(root) == e or str(root).startswith(e.rstrip("/") + "/") for e in out):
            continue
        if root.is_file():
            add(str(root), found, on_error, named=True)
            continue
        rules: dict[str, list[tuple[str, str]]] = {}
        failed = partial(_walk_error, on_error, str(root), unreadable if unreadable is not None else [])
        for folder, dirs, files in os.walk(root, onerror=failed):
            mine = rules.get(folder, []) + _ignore_rules(folder, files)
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and os.path.join(folder, d) != skip_s
                             and os.path.join(folder, d) not in out and not _ignored(os.path.join(folder, d), mine))
            for d in dirs:
                rules[os.path.join(folder, d)] = mine
            links.report_folder_links(folder, dirs, on_error)
            for name in sorted(files):
                if not name.startswith(".") and os.path.join(folder, name) not in out \
                        and not _ignored(os.path.join(folder, name), mine):
                    add(os.path.join(folder, name), found, on_error)
    entries = sorted(found.values(), key=lambda e: e.path)
    _link_captions(entries)
    return entries


IGNORE_FILE = ".mmsearchignore"


def _ignore_rules(folder: str, files: list[str]) -> list[tuple[str, str]]:
    """Glob patterns of a folder's ``.mmsearchignore`` (one a line, ``#`` comments), with their base."""
    if IGNORE_FILE not in files:
        return []
    try:
        with open(os.path.join(folder, IGNORE_FILE), encoding="utf-8", errors="replace") as fh:
            lines = [line.strip() for line in fh]
    except OSError:
        return []
    return [(folder, line.rstrip("/")) for line in lines if line and not line.startswith("#")]


def _ignored(path: str, rules: list[tuple[str, str]]) -> bool:
    """As in .gitignore: a pattern without ``/`` matches a name at any depth (``*.tmp``, ``raw``);
    one with ``/`` matches the path relative to its file's folder (``raw/*.png``)."""
    for base, pattern in rules:
        target = os.path.relpath(path, base) if "/" in pattern else os.path.basename(path)
        if fnmatch.fnmatchcase(target, pattern.lstrip("/")):
            return True
    return False


def _add(path: str, found: dict[str, FileEntry], on_error: Callable[[str, str], None], links: LinkRule,
         named: bool = False) -> None:
    kind = kind_of(path)
    if kind is None:
        return
    if _shown(path) != path:  # undecodable bytes: the catalog (UTF-8) cannot hold this name
        on_error(_shown(path), "file name is not valid UTF-8; rename the file to index it")
        return
    refused = links.refused(path, named=named)
    if refused is not None:
        on_error(path, refused)
        return
    try:
        st = os.stat(path)
    except OSError as exc:
        on_error(path, "broken symbolic link" if exc.errno == errno.ENOENT and os.path.islink(path) else _why(exc))
        return
    if not stat.S_ISREG(st.st_mode):  # FIFO, device, socket: opening could block or never end
        if not stat.S_ISDIR(st.st_mode):
            on_error(path, "not a regular file")
        return
    if not os.access(path, os.R_OK):
        on_error(path, "permission denied")
        return
    found[path] = FileEntry(path, st.st_size, st.st_mtime, kind)


def _link_captions(entries: list[FileEntry]) -> None:
    """Point each file of a kind that describes others at the media it describes, by the names on disk
    (the kind's ``link_keys``, each tried as a path, then as a stem): ``photo.jpg.txt`` or ``photo.txt``
    beside ``photo.jpg`` is that photo's caption; ``clip.srt`` / ``clip.en.srt`` beside ``clip.mp4`` are
    that video's subtitles."""
    describable = frozenset().union(*(h.describes for h in HANDLERS.values()))
    media_by_stem: dict[str, str] = {}
    kinds = {e.path: e.kind for e in entries}
    for e in entries:
        if e.kind in describable:
            media_by_stem.setdefault(os.path.splitext(e.path)[0], e.path)
    for e in entries:
        handler = HANDLERS[e.kind]
        if not handler.describes:
            continue
        e.link = None
        for key in handler.link_keys(e.path):
            target = key if kinds.get(key) in handler.describes else media_by_stem.get(key)
            if target is not None:
                e.link = target if kinds[target] in handler.describes else None
                break


def diff(entries: list[FileEntry], catalog: Catalog, roots: Iterable[Path],
         held: Callable[[str], bool] = lambda path: False) -> Plan:
    """Split what is on disk into unchanged, new-or-changed and missing, against the catalog; a catalogued
    file not seen for which ``held`` is true (its place offline, its folder unreadable) is not missing."""
    plan = Plan(entries=entries)
    known: dict[str, Media] = {}
    for root in roots:
        root_s = os.path.abspath(os.path.expanduser(root))
        for row in catalog.all_media(prefix=root_s):
            if row.path == root_s or row.path.startswith(root_s.rstrip(os.sep) + os.sep):
                known[row.path] = row
    failed = catalog.error_states()
    seen = set()
    for e in entries:
        seen.add(e.path)
        m = known.get(e.path)
        if m is not None and m.size == e.size and m.mtime == e.mtime:
            plan.unchanged += 1
            if m.missing_since is not None:
                plan.back.append(m.id)
        elif m is None and failed.get(e.path) == (e.size, e.mtime):
            plan.skipped_bad += 1
        else:
            plan.work.append((e, m))
    for p, m in known.items():
        if p not in seen:
            (plan.held if held(p) else plan.missing)[p] = m
    return plan


def file_hash(path: str, data: bytes | None = None) -> str:
    """Content hash (BLAKE2b-128) of a file, or of its bytes when already read."""
    h = hashlib.blake2b(digest_size=16)
    if data is not None:
        h.update(data)
    else:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _shown(path: str) -> str:
    """A path as text that can be stored: undecodable bytes of a file name become ``\\xNN``."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _walk_error(on_error: Callable[[str, str], None], root: str, unreadable: list[tuple[str, str]],
                exc: OSError) -> None:
    on_error(_shown(exc.filename or root), _why(exc))
    unreadable.append((os.fsdecode(exc.filename or root), _why(exc)))


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)
