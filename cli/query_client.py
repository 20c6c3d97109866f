"""The fast path of ``mmsearch search``: hand the query to the background query process that holds the library.

A query process (``mmsearch query-server``, cli/query_server_cmd.py) keeps one library open with its models
loaded, listening on a unix socket ``query.sock`` in the library folder (mode 0600: only its owner may ask).
The command line asks it first and prints its answer; when no process answers (none started, a stale socket
left by a killed one, different ``MMSEARCH_*`` settings, an option that writes files or starts a player) the
command runs in-process as before and, when asked to (``MMSEARCH_QUERY_SERVER=on``; by default only from an
interactive terminal), starts a query process for the next query. The process exits after
``MMSEARCH_QUERY_IDLE`` minutes (default 10) without a query.

This module imports nothing of the engine: a warm query is Python's start, a socket round trip and a print.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

SOCKET_NAME = "query.sock"
LOCAL_ONLY = {"--thumbs", "--open", "--export", "--like", "--help"}  # files here, a player here: in-process
IDLE_MINUTES = 10.0


def settings_env() -> dict[str, str]:
    """The settings a query process must share with the command (its models, its library)."""
    return {k: v for k, v in os.environ.items() if k.startswith("MMSEARCH_") and k not in CLIENT_ONLY}


CLIENT_ONLY = {"MMSEARCH_QUERY_SERVER", "MMSEARCH_QUERY_IDLE"}


def library_of(argv: list[str]) -> Path | None:
    """The library a command line names (``--library``/``-l``, else the settings), or None when unreadable."""
    for i, arg in enumerate(argv):
        if arg in ("--library", "-l") and i + 1 < len(argv):
            return Path(argv[i + 1]).expanduser().absolute()
        if arg.startswith("--library="):
            return Path(arg.split("=", 1)[1]).expanduser().absolute()
    try:
        from mmsearch.config import load_settings  # light: the config file and the environment

        return load_settings().library.expanduser().absolute()
    except Exception:  # noqa: BLE001 - a bad setting: the in-process command says what is wrong
        return None


def socket_path(library: Path) -> Path:
    return library / SOCKET_NAME


def eligible(argv: list[str]) -> bool:
    """A ``search`` whose options a query process may run for us."""
    return len(argv) > 1 and argv[0] == "search" and not any(a.split("=", 1)[0] in LOCAL_ONLY for a in argv)


def ask(library: Path, request: dict, timeout: float | None = 600.0) -> dict | None:
    """Send one request to the query process of ``library``; None when none answers."""
    path = socket_path(library)
    if len(os.fsencode(path)) >= 104:  # sun_path's limit (108 on Linux, 104 on macOS)
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(os.fspath(path))
            sock.sendall(json.dumps(request).encode() + b"\n")
            sock.shutdown(socket.SHUT_WR)
            data = b"".join(iter(lambda: sock.recv(1 << 16), b""))
        answer = json.loads(data or b"null")
    except (OSError, ValueError):
        return None
    return answer if isinstance(answer, dict) else None


def try_remote(argv: list[str]) -> int | None:
    """Run ``argv`` (without the program name) in the library's query process: its exit code, or None when
    it must run here."""
    if os.environ.get("MMSEARCH_QUERY_SERVER") == "off" or not eligible(argv):
        return None
    library = library_of(argv)
    if library is None or not socket_path(library).exists():
        return None
    tty = sys.stdout.isatty()
    width = shutil.get_terminal_size().columns if tty else None  # the answer is laid out for this terminal
    answer = ask(library, {"argv": argv, "cwd": os.getcwd(), "env": settings_env(), "tty": tty, "width": width})
    if answer is None or "rc" not in answer:
        return None
    sys.stdout.write(answer.get("stdout", ""))
    sys.stderr.write(answer.get("stderr", ""))
    return int(answer["rc"])


def wanted() -> bool:
    """Whether a command should start a query process after it answered."""
    setting = os.environ.get("MMSEARCH_QUERY_SERVER", "")
    return setting == "on" or (setting == "" and sys.stdin is not None and sys.stdin.isatty())


def start(argv: list[str]) -> None:
    """Start the query process of the library ``argv`` searched (detached; it exits when idle)."""
    library = library_of(argv)
    if library is None or not library.is_dir():
        return
    subprocess.Popen([sys.executable, "-m", "mmsearch.cli", "query-server", "--library", str(library)],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True, close_fds=True)
