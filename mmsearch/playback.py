"""Open the moment: play a hit in the system's player at its start, or write hits as a playlist.

Players are tried in :data:`PLAYERS` order (the first one on ``PATH`` is used); those that take a start time
get it. The file is always passed as an absolute path (it never starts with ``-``), after ``--`` for the
players that read it as the end of their options. A hit on a caption or subtitle plays the media it
describes (a subtitle cue's time is the video's).
Whole-file hits (images, texts) carry no times, in the player's arguments or in an exported playlist.

Playlists (:data:`EXPORTERS`):

- ``m3u``: extended M3U; each hit an ``#EXTINF:SECONDS,TITLE`` line, VLC's ``#EXTVLCOPT:start-time=`` and
  ``stop-time=`` options for timed hits, then the file's absolute path; a path holding a line break or another
  control character is written as a ``file://`` URL with those characters percent-encoded (M3U has no
  escape: a raw line break would start a line of its own, such as an injected ``#EXTVLCOPT``), and titles
  have control characters replaced by spaces.
- ``edl``: mpv's EDL (``mpv EDL v0``, then one ``path,start,length`` segment a line; see mpv's
  DOCS/edl-mpv.rst); a path holding a character the format reserves is written ``%BYTES%path``.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from mmsearch.errors import MmsearchError
from mmsearch.hits import Hit

__all__ = ["EXPORTERS", "PLAYERS", "NoPlayerError", "Player", "export", "open_hit", "play_command", "to_edl",
           "to_m3u"]


class NoPlayerError(MmsearchError):
    """No media player of :data:`PLAYERS` is installed."""


@dataclass(frozen=True)
class Player:
    """A player program and how it is told where to start (``None``: it cannot be)."""

    program: str
    start_option: str | None = None  # formatted with ``seconds``
    end_of_options: bool = False  # it reads ``--`` as "no options after this"

    def argv(self, executable: str, path: str, start: float | None) -> list[str]:
        options = [self.start_option.format(seconds=_seconds(start))] if self.start_option and start else []
        return [executable, *options, *(["--"] if self.end_of_options else []), os.path.abspath(path)]


PLAYERS: tuple[Player, ...] = (
    Player("mpv", "--start={seconds}", end_of_options=True),
    Player("vlc", "--start-time={seconds}", end_of_options=True),
    Player("xdg-open"),  # the desktop's default application: no start time
    Player("open"),  # macOS
)


def target(hit: Hit) -> str:
    """The file a hit plays: the media a caption or subtitle describes, else the hit's own file."""
    return hit.linked or hit.path


def play_command(hit: Hit, players: Sequence[Player] = PLAYERS) -> list[str]:
    """The command that plays ``hit`` from its start with the first installed player. Raises NoPlayerError."""
    for player in players:
        executable = shutil.which(player.program)
        if executable is not None:
            return player.argv(executable, target(hit), hit.start)
    names = ", ".join(p.program for p in players)
    raise NoPlayerError(f"no media player found to open {target(hit)}: install one of {names}")


def open_hit(hit: Hit, players: Sequence[Player] = PLAYERS) -> list[str]:
    """Start the player on ``hit``, detached (it outlives this process); returns the command it ran."""
    argv = play_command(hit, players)
    try:
        subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, close_fds=True)
    except OSError as exc:
        raise NoPlayerError(f"cannot start {shlex.join(argv)}: {exc.strerror or exc}") from None
    return argv


def to_m3u(hits: Sequence[Hit]) -> str:
    """Hits as an extended M3U playlist (see module docstring)."""
    lines = ["#EXTM3U"]
    for rank, hit in enumerate(hits, 1):
        length = round(hit.end - hit.start) if hit.start is not None and hit.end is not None else -1
        lines.append(f"#EXTINF:{length},{_title(rank, hit)}")
        if hit.start is not None:
            lines.append(f"#EXTVLCOPT:start-time={_seconds(hit.start)}")
            if hit.end is not None:
                lines.append(f"#EXTVLCOPT:stop-time={_seconds(hit.end)}")
        lines.append(_m3u_location(os.path.abspath(target(hit))))
    return "\n".join(lines) + "\n"


def to_edl(hits: Sequence[Hit]) -> str:
    """Hits as an mpv EDL: one segment per hit, ``path,start,length`` (whole files: the path alone)."""
    lines = ["mpv EDL v0"]
    for hit in hits:
        path = _edl_value(os.path.abspath(target(hit)))
        if hit.start is None:
            lines.append(path)
        elif hit.end is None:
            lines.append(f"{path},{_seconds(hit.start)}")
        else:
            lines.append(f"{path},{_seconds(hit.start)},{_seconds(max(0.0, hit.end - hit.start))}")
    return "\n".join(lines) + "\n"


EXPORTERS: dict[str, Callable[[Sequence[Hit]], str]] = {"m3u": to_m3u, "edl": to_edl}


def export(hits: Sequence[Hit], fmt: str, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``hits`` as a playlist in format ``fmt`` (a key of :data:`EXPORTERS`) to ``path``. An existing
    file is replaced only with ``overwrite`` (else MmsearchError, the file untouched)."""
    writer = EXPORTERS.get(fmt.lower())
    if writer is None:
        raise MmsearchError(f"unknown playlist format {fmt!r}: use one of {', '.join(EXPORTERS)}")
    out = Path(path).expanduser()
    refuse_existing([out], overwrite)
    try:
        with open(out, "w" if overwrite else "x", encoding="utf-8", newline="\n") as fh:
            fh.write(writer(hits))
    except FileExistsError:
        refuse_existing([out], overwrite)
        raise
    except OSError as exc:
        raise MmsearchError(f"cannot write {out}: {exc.strerror or exc}") from None
    return out


def refuse_existing(paths: Sequence[Path], overwrite: bool) -> None:
    """Raise one line naming the files of ``paths`` that exist, unless ``overwrite``: nothing a user already
    has is replaced without --force."""
    found = [p for p in paths if os.path.lexists(p)]
    if found and not overwrite:
        more = f" and {len(found) - 1} more" if len(found) > 1 else ""
        raise MmsearchError(f"{found[0]}{more} exists already: nothing written (add --force to overwrite)")


def _seconds(value: float) -> str:
    """Seconds as a short decimal (millisecond precision): 12.5, 3, 0.042."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def _m3u_location(path: str) -> str:
    """A path as an M3U line: as is, or a ``file://`` URL when it holds a control character."""
    if not CONTROL.search(path):
        return path
    return "file://" + quote(path, safe="/")


def _title(rank: int, hit: Hit) -> str:
    name = CONTROL.sub(" ", os.path.basename(target(hit)))
    words = " ".join(CONTROL.sub(" ", hit.text or "").split())[:80]
    return f"{rank}. {name}" + (f" - {words}" if words else "")


EDL_RESERVED = frozenset(",;\n=%")  # separators, and what would make a value read as a named parameter


def _edl_value(value: str) -> str:
    if not EDL_RESERVED.intersection(value):
        return value
    return f"%{len(value.encode('utf-8'))}%{value}"
