"""The interface of a media kind: which files it takes, how one is decoded, what segments it becomes.

Two families. *Batched* kinds (image, text, subtitle) decode on the worker threads into encoder inputs
(:class:`~mmsearch.indexers.items.Decoded`); the writer encodes many files in one batch and asks the
handler for each file's segments. *Timed* kinds (video, audio) only get hashed on the workers
(:class:`~mmsearch.indexers.items.Timed`); the writer's thread then has the handler decode, encode and
cut one file at a time (:meth:`KindHandler.index`), since their encoders use every core already.
"""
from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from mmsearch.catalog import NewSegment
from mmsearch.config import Settings
from mmsearch.kinds import KINDS, MediaKind

from ..items import Decoded, Failed, Opened, Timed


class Stage:
    """The step a decode is at, named in the error a failure records ("decode", "preprocess", ...)."""

    def __init__(self, name: str = "read") -> None:
        self.name = name


@dataclass(frozen=True)
class DecodeInputs:
    """What decoding on a worker thread may use: the settings and the run's image/text encoder
    (its preprocessing only; encoding happens on the writer's thread)."""

    settings: Settings
    encoder: Any


@dataclass(frozen=True)
class TimedInputs:
    """What indexing a timed file on the writer's thread uses: the models of the file's work, loaded and
    handed in by the run (``RunModels.timed_inputs``); a model that is None is work left pending (or not
    asked for). A handler never calls back into the run."""

    settings: Settings
    encoder: Any  # the image/text encoder: video frames (None: the clip work is pending)
    batch_size: int
    clap: Any = None  # sound windows: the ``audio`` space
    transcriber: Any = None  # speech: the ``speech`` job, its passages ...
    text_encoder: Any = None  # ... embedded in the sentence space ``text``
    shot_model: Any = None  # the learned shot detector (None: the pixels decide every cut)
    shot_warning: str | None = None  # why there is no shot detector (added to the video's warnings)
    text_reader: Any = None  # the run's OCR reader: a video's kept frames go through its detector in idle time


@dataclass
class TimedResult:
    """A timed file indexed: its segments, and notes on what could not be indexed (kept as its error)."""

    segments: list[NewSegment]
    notes: list[str]
    job_errors: dict[str, str] = field(default_factory=dict)  # jobs that failed for this file: name -> why


class KindHandler:
    """One media kind. Subclasses set :attr:`kind` and implement :meth:`decode` plus :meth:`segments`
    (batched kinds) or :meth:`index` (timed kinds). What the kind *is* (its extensions, whether it has a
    timeline, what it describes) is its row of the kind table, :data:`mmsearch.kinds.KINDS`."""

    kind: ClassVar[MediaKind]
    read_limit: ClassVar[int | None] = None  # read the whole file (at most this many bytes) before decoding

    @property
    def extensions(self) -> frozenset[str]:
        """The file names this kind takes (lower-case, with the dot)."""
        return KINDS[self.kind].extensions

    @property
    def timed(self) -> bool:
        """Decoded and encoded on the writer's thread, one file at a time."""
        return KINDS[self.kind].timed

    @property
    def describes(self) -> frozenset[MediaKind]:
        """The kinds whose files this kind can caption."""
        return KINDS[self.kind].describes

    def decode(self, opened: Opened, inputs: DecodeInputs, stage: Stage) -> Decoded | Timed | Failed:
        """Worker thread: turn a read file into encoder inputs. May raise (recorded at ``stage``).
        A timed kind only passes the file on to the writer."""
        if self.timed:
            return Timed(opened.entry, opened.old, opened.fields)
        raise NotImplementedError

    def segments(self, item: Decoded, vectors: dict[str, list[np.ndarray]]) -> list[NewSegment]:
        """The segments of a decoded file, given per space the vectors of its images or texts (in order);
        a space missing from ``vectors`` is pending for this file."""
        raise NotImplementedError(f"{self.kind} files are indexed one at a time")

    def index(self, job: Timed, inputs: TimedInputs, names: Collection[str] | None = None) -> TimedResult:
        """Writer thread, timed kinds: decode, encode and cut one file; complete ``job.fields``. ``names``:
        only that work (a backfill). Raises when nothing of the file can be indexed."""
        raise NotImplementedError(f"{self.kind} files are encoded in batches")

    def text_source(self, path: str, settings: Settings) -> Any:
        """Worker thread, the run's deferred ``ocr`` pass: what the text reader needs of a file of this kind
        (decoded as the first pass decodes it). Kinds whose work has no ``ocr`` are never asked."""
        raise NotImplementedError(f"no text is read in {self.kind} files")

    def read_text(self, reader: Any, source: Any, path: str,
                  scenes: Callable[[], list[NewSegment]]) -> list[NewSegment] | None:
        """The deferred pass: the ``ocr`` segments of a file from its :meth:`text_source`; ``scenes()`` gives
        its scenes in the catalog. None: the text waits on other work (a video's scenes)."""
        raise NotImplementedError(f"no text is read in {self.kind} files")

    def release_kept(self) -> None:
        """The end of the run's deferred pass: drop whatever the first pass kept in memory for it (read or
        not: a pass that found no reader leaves those files pending, and the next run decodes them again)."""

    def link_keys(self, path: str) -> tuple[str, ...]:
        """For a kind that captions others: the paths, then stems, its file may describe, in order."""
        return ()
