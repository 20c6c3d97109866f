"""Evaluation: quality on a labelled set, recall@K through the engine beside exact search.

Which evaluation runs is decided by the manifest's columns through one table, :data:`TASKS` (below):
``image,caption`` rows are the ``retrieval`` task (retrieval.py), ``video,start,end,query`` rows the
``moments`` task (moments.py). A task turns rows into records and measures them with an Engine's context;
another modality is a module with a ``build`` and a ``run`` and one row here (the manifest readers in
base.py stay as they are). ``mmsearch eval`` (cli/eval_cmd.py) reads the same table for the figures it prints.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mmsearch.context import Context

from .base import KS, Manifest, ManifestError, Task, read_rows, recall_from_ranks
from .moments import Moment, build_moments, matches, run_moments
from .retrieval import Pair, build_pairs, exact_ranks, run_retrieval

# The task table: (name, the columns that select it, rows -> records, the measurement, its figures).
TASKS: dict[str, Task] = {task.name: task for task in (
    Task("retrieval", frozenset({"image", "caption"}), build_pairs, run_retrieval,
         "text->image and image->text recall@K on image,caption pairs",
         (("text -> image", "text_to_image"), ("image -> text", "image_to_text"))),
    Task("moments", frozenset({"video", "start", "end", "query"}), build_moments, run_moments,
         "text -> video moment recall", (("text -> moment", "text_to_moment"),)),
)}

__all__ = [
    "KS", "TASKS", "Manifest", "ManifestError", "Moment", "Pair", "Task", "build_moments", "build_pairs", "evaluate",
    "exact_ranks", "load_manifest", "matches", "read_rows", "recall_from_ranks",
]


def load_manifest(path: str | Path, images: str | Path | None = None, split: str | None = None,
                  limit: int | None = None) -> Manifest:
    """Read a manifest and pick its task by its columns (the table above)."""
    path = Path(path).expanduser()
    rows, _ = read_rows(path, split)
    if not rows:
        raise ManifestError(f"{path}: no rows")
    columns = set(rows[0])
    matching = [t for t in TASKS.values() if t.columns <= columns]
    if not matching:
        known = "; ".join(f"{t.name}: {','.join(sorted(t.columns))}" for t in TASKS.values())
        raise ManifestError(f"{path}: columns {','.join(sorted(columns))} match no evaluation; known: {known}")
    task = max(matching, key=lambda t: len(t.columns))
    root = Path(images).expanduser() if images else path.parent
    records = task.build(rows, root)
    if limit:
        records = records[: int(limit)]
    if not records:
        raise ManifestError(f"{path}: nothing to evaluate")
    return Manifest(path=path, task=task.name, root=root, records=records)


def evaluate(ctx: Context, manifest: Manifest, ks: Sequence[int] = KS,
             progress: Callable[[str], None] | None = None, **options: Any) -> dict:
    """Run the manifest's task with ``ctx``; returns the task's report (a JSON-able dict)."""
    task = TASKS.get(manifest.task)
    if task is None:
        raise ManifestError(f"no evaluation registered for task {manifest.task!r}")
    return task.run(ctx, manifest, ks, progress, **options)
