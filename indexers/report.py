"""What an index run did: :class:`IndexReport`, and :class:`Tally`, the one place that counts it.

Every file the run looks at is counted exactly once: unchanged or skipped (by the diff, or by its hash),
moved, added, updated or failed; files gone from disk are counted as missing (kept) or removed (forgotten),
files of offline places per place. The run, the writer and
the model loading report what happened to a :class:`Tally`; nothing else touches the counts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class Progress(Protocol):
    def start(self, total: int) -> None: ...
    def advance(self, n: int = 1, path: str | None = None) -> None: ...
    def stop(self) -> None: ...


@dataclass
class IndexReport:
    """What an index run did. ``failures`` lists (path, reason) of files recorded as errors."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    moved: int = 0
    removed: int = 0
    failed: int = 0
    skipped_bad: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. a model that could not be loaded
    backfilled: int = 0  # files whose pending work (a model that was missing) was done by this run
    jobs: dict[str, dict[str, int]] = field(default_factory=dict)  # per space/job: done/pending/failed files
    cluster: dict | None = None  # a run on a Ray cluster: what moved and where (indexers/cluster/ray_run.py)
    missing: int = 0  # files gone from online places, kept as missing (mmsearch/presence.py)
    offline: list[dict] = field(default_factory=list)  # offline places: path, why, files kept
    # per pass of the run, in order: {"seconds", "cpu_seconds", "files"} (CPU: this process, every thread);
    # "main" (scan to the last commit of pictures, sounds and speech), then each deferred job's own pass
    # ("ocr", indexers/deferred.py)
    passes: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        if d["cluster"] is None:
            del d["cluster"]
        d["failures"] = [{"path": p, "reason": r} for p, r in self.failures]
        d["seconds"] = round(self.seconds, 3)
        return d


class Tally:
    """Counts into an :class:`IndexReport` and advances the progress bar once per file of the work list."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.report = IndexReport()
        self.progress = progress
        self.written: set[str] = set()  # paths this run indexed (a later pass's work on others is a backfill)

    def planned(self, unchanged: int, skipped_bad: int, work: int) -> None:
        """The diff's verdict: files unchanged on disk, known bad files unchanged, files to look at."""
        self.report.unchanged += unchanged
        self.report.skipped_bad += skipped_bad
        if self.progress:
            self.progress.start(work)

    def unreadable(self, path: str, why: str) -> None:
        """A file the scan could not even look at (not in the work list)."""
        self.report.failed += 1
        self.report.failures.append((path, why))

    def failed(self, path: str, why: str) -> None:
        self.unreadable(path, why)
        self._advance(path)

    def same(self, path: str, moved: bool) -> None:
        """Content unchanged: at a new path (moved) or only touched."""
        self._count("moved" if moved else "unchanged", path)

    def indexed(self, path: str, replaced: bool) -> None:
        """Committed: a changed file (``replaced`` its old row) or a new one."""
        self.written.add(path)
        self._count("updated" if replaced else "added", path)

    def removed(self, n: int) -> None:
        self.report.removed += n

    def gone(self, missing: int, offline: list[dict], warnings: list[str]) -> None:
        """Files kept as missing, the offline places with their files (kept), one line per root over the bound."""
        self.report.missing += missing
        self.report.offline = offline
        self.report.warnings += warnings

    def backfilled(self, path: str) -> None:
        """A file already in the library got its pending work done (not in the work list)."""
        self.report.backfilled += 1

    def warn(self, message: str) -> None:
        self.report.warnings.append(message)

    def pass_done(self, name: str, seconds: float, files: int, cpu_seconds: float) -> None:
        """One pass of the run is over: its wall time, the process's CPU time in it (every thread: what a
        pass costs where other jobs share the cores) and the files it worked on."""
        self.report.passes[name] = {"seconds": round(seconds, 3), "cpu_seconds": round(cpu_seconds, 3), "files": files}

    def start_pass(self, label: str, total: int) -> None:
        """A further pass over ``total`` files: its own progress line (``label`` where the display shows
        one: a progress with ``start_pass``), else the progress restarted for it."""
        if self.progress is None:
            return
        start = getattr(self.progress, "start_pass", None)
        if start is not None:
            start(label, total)
        else:
            self.progress.start(total)

    def pass_file(self, path: str, *, done: bool = True) -> None:
        """A further pass is over with a file (``done``: did its work, a backfill when this run did not
        index the file itself; else it left the work pending)."""
        if done and path not in self.written:
            self.backfilled(path)
        self._advance(path)

    def _count(self, outcome: str, path: str) -> None:
        setattr(self.report, outcome, getattr(self.report, outcome) + 1)
        self._advance(path)

    def _advance(self, path: str) -> None:
        if self.progress:
            self.progress.advance(1, path)
