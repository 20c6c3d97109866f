"""What moves through an index run: a file found on disk, and what its decode step hands the writer.

A file the run has to look at becomes exactly one of: :class:`Same` (content unchanged: only its size,
mtime or path change), :class:`Decoded` (ready for a batch of the encoder), :class:`Timed` (a file with
a timeline, decoded and encoded on the writer's thread) or :class:`Failed` (recorded as an error).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mmsearch.catalog import Media
from mmsearch.errors import MediaError
from mmsearch.kinds import MediaKind


@dataclass
class FileEntry:
    """A file found on disk."""

    path: str
    size: int
    mtime: float
    kind: MediaKind
    link: str | None = None  # for a caption file: the path of the media it describes


@dataclass
class Opened:
    """A new or changed file, read and hashed: what a kind handler decodes."""

    entry: FileEntry
    old: Media | None  # the catalog row it replaces
    fields: dict  # the media row to write (path, content_hash, size, mtime, kind; the handler adds more)
    data: bytes | None = None  # the file's bytes, for kinds that read the whole file (see KindHandler.read_limit)


@dataclass
class Decoded:
    """A file decoded into encoder inputs: prepared images, or texts (with their times, for timed texts)."""

    entry: FileEntry
    old: Media | None
    fields: dict
    images: list[Any] = field(default_factory=list)  # encoder-prepared images
    texts: list[str] = field(default_factory=list)
    spans: list[tuple[float, float]] = field(default_factory=list)  # (start, end) of each text, if timed
    # The jobs that failed for this file (name -> why; the file is still indexed).
    job_errors: dict[str, str] = field(default_factory=dict)
    # Encoded already, per space (a cluster run's encode actors; its images are then left behind): the writer
    # commits these vectors without encoding again.
    vectors: dict[str, list[Any]] | None = None
    detail: str | None = None  # the picture segment's detail JSON (perceptual hashes: analysis/perceptual_hash.py)

    @property
    def units(self) -> int:
        """Encoder inputs this file adds to a batch (the same whether it is encoded here or came encoded)."""
        if self.vectors is not None:
            return max([len(self.texts), *(len(v) for v in self.vectors.values())])
        return len(self.images) + len(self.texts)


@dataclass
class Timed:
    """A new or changed video or audio file, hashed; decoded and encoded by the writer's thread
    (encoders take one caller at a time and already use every core)."""

    entry: FileEntry
    old: Media | None
    fields: dict


@dataclass
class Same:
    """Content unchanged (same hash): only size/mtime/path need updating."""

    entry: FileEntry
    media: Media
    moved: bool


@dataclass
class Failed:
    entry: FileEntry
    stage: str
    message: str

    @classmethod
    def of(cls, entry: FileEntry, stage: str, exc: BaseException) -> Failed:
        """One clear line for what broke at ``stage``: a MediaError's own words, else what happened."""
        if isinstance(exc, FileNotFoundError):
            return cls(entry, stage, "file disappeared while being indexed")
        if isinstance(exc, PermissionError):
            return cls(entry, stage, "permission denied")
        if isinstance(exc, MediaError):
            return cls(entry, exc.stage if exc.stage != "decode" else stage, str(exc))
        if isinstance(exc, MemoryError):
            return cls(entry, stage, "out of memory decoding this file")
        return cls(entry, stage, f"{type(exc).__name__}: {exc}")


Item = Decoded | Timed | Same | Failed
