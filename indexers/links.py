"""The scan's decision on symbolic links (the rule itself is :func:`mmsearch.roots.outside_roots`).

A file link whose target lies outside the indexed folder holding it is not indexed, and neither is the
target reached through it: the reason goes to the library's errors. Links to folders are never followed
by the walk; one that points outside its folder is reported the same way, so the user sees what was left out.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mmsearch.roots import outside_roots


@dataclass(frozen=True)
class LinkRule:
    """The recorded roots links are judged against, and whether a link may cross into another root."""

    roots: Sequence[str]
    between_roots: bool = False

    def refused(self, path: str, *, named: bool = False) -> str | None:
        """Why the link ``path`` may not be indexed, or None (also None for a path that is no link:
        the walk reaches only real entries of a root, which belong to it). ``named``: a file named to ``index``
        itself, which may lie under a linked folder the walk would not enter: judged whatever its own type."""
        if not named and not os.path.islink(path):
            return None
        return outside_roots(path, self.roots, between_roots=self.between_roots)

    def report_folder_links(self, folder: str, names: Sequence[str], on_error: Callable[[str, str], None]) -> None:
        """Report each link among the sub-folders ``names`` of ``folder`` that points out of its root."""
        for name in names:
            path = os.path.join(folder, name)
            why = self.refused(path)
            if why is not None:
                on_error(path, why.replace("symbolic link to a place", "symbolic link to a folder", 1))
