"""Exceptions a caller of mmsearch may want to catch.

Every error that reaches a user carries a message that says what went wrong and what to do,
so the CLI can print ``str(error)`` and nothing else.
"""
from __future__ import annotations

import logging

_log = logging.getLogger("mmsearch.models")


class MmsearchError(Exception):
    """Base class of every error mmsearch raises on purpose."""


class ConfigError(MmsearchError):
    """A setting is missing or malformed."""


class ModelUnavailableError(MmsearchError):
    """Model weights cannot be loaded (no network, missing file, unknown architecture)."""


class ModelMismatchError(MmsearchError):
    """A library's embedding space was built with another model than the one asked for."""


class LibraryError(MmsearchError):
    """The library folder cannot be opened or is damaged."""


class LibraryLockedError(LibraryError):
    """Another process is writing to the library."""


class ReembedIncompleteError(MmsearchError):
    """A re-embed did not redo every file of its space, so the space was not switched (nothing was lost).
    ``missing``: media id -> why."""

    def __init__(self, space: str, missing: dict[int, str]) -> None:
        super().__init__(f"{len(missing)} files of space {space} are not re-embedded: the space was not switched "
                         "and keeps its old model (run reembed again to finish, or --force to switch anyway)")
        self.space, self.missing = space, missing


class MediaError(MmsearchError):
    """A media file cannot be decoded. ``stage`` names the step that failed."""

    def __init__(self, message: str, stage: str = "decode") -> None:
        super().__init__(message)
        self.stage = stage


class NotFoundError(MmsearchError):
    """A file, segment or media id that the library does not hold."""


def brief(exc: BaseException, limit: int = 160) -> str:
    """``exc`` as one short line for a message (its type and first line); the whole exception goes to the
    ``mmsearch.models`` debug log, which ``mmsearch --verbose`` prints."""
    _log.debug("the full error behind a one-line message", exc_info=exc)
    lines = str(exc).strip().splitlines()
    first = lines[0].strip() if lines else ""
    if len(first) > limit:
        first = first[: limit - 1] + "…"
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def one_line(message: str) -> str:
    """A message folded onto one line (a reason kept for ``stats`` and index warnings)."""
    return " ".join(message.split())
