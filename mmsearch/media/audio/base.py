"""What every audio decoder shares: the source interface, the file check, the facts a probe returns.

A source is a decoder positioned at ``start`` seconds whose ``blocks()`` yield ``(channels, n)`` float32
arrays at the file's own rate; sample 0 is the first audio sample of the file's audio stream.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

from mmsearch.errors import MediaError

PathLike = Union[str, "os.PathLike[str]"]

# Extensions libsndfile cannot open at all: go straight to PyAV and save a failed open.
PYAV_ONLY = frozenset({".m4a", ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".aac", ".wma", ".3gp", ".ts"})


@dataclass(frozen=True)
class AudioInfo:
    """What :func:`probe_audio` learns without decoding the whole file."""

    duration: float  # seconds
    sample_rate: int  # native rate of the audio stream
    channels: int
    tags: tuple[tuple[str, str], ...] = ()  # the container's tags where PyAV opened it (metadata.from_tags)


def check_file(path: Path) -> None:
    """A regular, non-empty, readable file; else MediaError (stage ``decode``) naming what is wrong."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise MediaError(f"{path}: file not found", stage="decode") from None
    except OSError as e:
        raise MediaError(f"{path}: cannot read file ({e})", stage="decode") from None
    if not path.is_file():
        raise MediaError(f"{path}: not a regular file", stage="decode")
    if size == 0:
        raise MediaError(f"{path}: empty file (0 bytes), no audio to decode", stage="decode")


class Source:
    """A decoder positioned at ``start`` seconds. ``blocks()`` yields (channels, n) float32 arrays."""

    sample_rate: int
    channels: int
    backend: str

    def __init__(self, path: Path, start: float = 0.0) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    @staticmethod
    def accepts(path: Path) -> bool:
        """Whether this decoder is worth trying on ``path`` (by its extension)."""
        return True

    def blocks(self) -> Iterator[np.ndarray]:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - interface
        pass

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
