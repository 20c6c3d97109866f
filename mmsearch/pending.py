"""Work that waits for a model, said the same way everywhere: a line after the CLI's hits, a notice on the
page, the ``pending`` field of the HTTP API and :meth:`mmsearch.Engine.pending`.

The rule: a space or job with pending files is named with their count and the setting that brings its
model, unless the user turned that model off (their choice, nothing to nag about). A video's text (``ocr``)
that waits for its scenes is covered by the ``clip`` line. A model this process failed to load for a query
(no file pending, e.g. ``similar`` on a picture) is named too.
"""
from __future__ import annotations

from dataclasses import dataclass

from mmsearch.context import Context
from mmsearch.kinds import Job, JobState, Space
from mmsearch.models import setting_hint

# a video's text is read per scene, its scenes cut on the clip vectors
_WAITS_ON: dict[str, str] = {Job.OCR: Space.CLIP}
_NO_MODEL = {Job.METADATA}  # read by the decoder: pending only until the next index run


@dataclass(frozen=True)
class Pending:
    """``files`` whose ``work`` (a space or job) waits for its model, and the line that says so."""

    work: str
    files: int
    line: str

    def to_dict(self) -> dict:
        return {"work": self.work, "files": self.files, "line": self.line}


def pending(ctx: Context) -> list[Pending]:
    """What in ``ctx``'s library waits for a model (see the module docstring), by space or job name."""
    models = ctx.models
    counts = {name: states.get(JobState.PENDING, 0) for name, states in ctx.catalog.job_counts().items()}
    out: list[Pending] = []
    for name, n in sorted(counts.items()):
        if not n or _covered(name, counts):
            continue
        if name in _NO_MODEL:
            out.append(Pending(name, n, f"{_files(n)} wait{_s(n)} for `mmsearch index` to read their {name}"))
        elif not models.is_off(name):
            out.append(Pending(name, n, f"{_files(n)} wait{_s(n)} for the {name} model: set "
                                        f"{models.setting_hint(name)}, then run `mmsearch index`"))
    named = {p.work for p in out}
    for name, why in sorted(models.unavailable.items()):
        if name not in named and not models.is_off(name):
            out.append(Pending(name, 0, f"the {name} model cannot be loaded ({why})"))
    return out


def _covered(name: str, counts: dict[str, int]) -> bool:
    return counts.get(_WAITS_ON.get(name, ""), 0) > 0


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def _s(n: int) -> str:
    return "s" if n == 1 else ""


__all__ = ["Pending", "pending", "setting_hint"]
