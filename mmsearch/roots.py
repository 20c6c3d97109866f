"""Which files belong to the library: the one rule that the scan and the web server both apply.

A file belongs to the library when its *real* path (every symbolic link resolved) lies inside the real
path of a recorded root that holds the file's own (unresolved) path. So a link in ``~/Photos`` pointing
at ``~/.ssh/id_ed25519`` does not belong, whatever its name says; a link to another file of the same root
does. With ``links_between_roots`` (mmsearch/config.py, off by default) a link may also point into any
other recorded root.

The scan (indexers/scan.py) does not index a file that does not belong (the reason goes to the library's
errors); the server (cli/web/files.py) neither serves it nor returns anything read from it, whatever
the catalog says about it.
"""
from __future__ import annotations

import os
from collections.abc import Iterable

__all__ = ["inside", "outside_roots"]


def inside(path: str, folder: str) -> bool:
    """True when ``path`` is ``folder`` or lies under it (both already absolute and normalised)."""
    try:
        return os.path.commonpath([folder, path]) == folder
    except ValueError:  # one relative, or different drives
        return False


def outside_roots(path: str, roots: Iterable[str], *, between_roots: bool = False) -> str | None:
    """Why ``path`` does not belong to the library of ``roots`` (see module docstring), or None if it does.

    Args:
        path: an absolute path as indexed (links not resolved).
        roots: the library's recorded roots (absolute, as given to ``index``).
        between_roots: a link may point into any recorded root, not only into the one holding it.
    """
    roots = [os.path.normpath(os.path.abspath(r)) for r in roots]
    path = os.path.normpath(path)
    own = [r for r in roots if inside(path, r)]
    if not roots:
        return "this library records no indexed folders (made by an older version): index its folders again"
    if not own:
        return "not under a folder this library indexes"
    real = os.path.realpath(path)
    allowed = roots if between_roots else own
    if any(inside(real, os.path.realpath(r)) for r in allowed):
        return None
    where = "any folder this library indexes" if between_roots else "its indexed folder"
    return f"symbolic link to a place outside {where}; not indexed or served"  # the target itself is not named
