"""``mmsearch serve``: the local web page and HTTP API (FastAPI + uvicorn).

Tokens (docs/security.md): off loopback a token is required. One given by ``--token``, ``--token-file`` or
``MMSEARCH_TOKEN`` must have at least :data:`MIN_TOKEN_CHARS` characters and is never printed; without one
(or with ``--token auto``) a random one is made (``secrets.token_urlsafe``, 256 bits) and shown once, in the
page URL, on the terminal only: a server whose output is not a terminal must be given its token.
"""
from __future__ import annotations

import errno
import logging
import re
import secrets
import socket
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from mmsearch.errors import MmsearchError

from .engines import open_engine
from .options import LibraryOpt, ModelOpt
from .output import fail, out
from .watch_cmd import start_thread, stop_on_signals

MIN_TOKEN_CHARS = 16
AUTO = "auto"


class _RedactToken(logging.Filter):
    """Keep ``?token=`` (the page URL) and ``?mt=`` (media URLs) out of the access log."""

    _TOKEN = re.compile(r"([?&](?:token|mt)=)[^&\s]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._TOKEN.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = self._TOKEN.sub(r"\1***", record.msg)
        return True


def _url(host: str, port: int, token: str | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def _on_terminal() -> bool:
    return sys.stdout.isatty()


def resolve_token(given: str | None, token_file: Path | None, environ_token: str | None,
                  loopback: bool) -> tuple[str | None, bool]:
    """The server's token and whether this process made it (only then may it be shown).

    Raises MmsearchError (one line) for a short token, an unreadable token file, or a token that would have
    to be made up where nobody could read it (output not a terminal)."""
    if token_file is not None:
        try:
            given = token_file.expanduser().read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise MmsearchError(f"cannot read the token file {token_file}: {getattr(exc, 'strerror', None) or exc}") \
                from None
    token = (given or environ_token or "").strip() or None
    if token == AUTO or (token is None and not loopback):
        if not _on_terminal():
            raise MmsearchError("a generated token is shown on a terminal only: give one with MMSEARCH_TOKEN or "
                                "--token-file (at least 16 characters), or run `serve` on a terminal")
        return secrets.token_urlsafe(32), True
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise MmsearchError(f"the access token is too short ({len(token)} characters; at least {MIN_TOKEN_CHARS}): "
                            f"leave it out and a random one is made")
    return token, False


def bind_port(host: str, port: int) -> socket.socket:
    """The listening socket, bound before any model loads: a busy port is one line and exit 2 at once."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise MmsearchError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        busy = exc.errno == errno.EADDRINUSE
        raise MmsearchError(f"port {port} on {host} is in use (another `mmsearch serve`?): choose another with "
                            f"--port" if busy else f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def _run_server(web_app: Any, sock: socket.socket) -> None:
    import uvicorn

    config = uvicorn.Config(web_app, log_level="info", proxy_headers=False, server_header=False)
    logging.getLogger("uvicorn.access").addFilter(_RedactToken())
    uvicorn.Server(config).run(sockets=[sock])


def serve(
    library: LibraryOpt = None,
    model: ModelOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on; other than loopback needs a token.")] = (
        "127.0.0.1"),
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="Port to listen on.")] = 8765,
    token: Annotated[
        str | None,
        typer.Option("--token", help="Access token every request must carry (16+ characters), or 'auto' for a "
                     "random one; off loopback one is made when none is given. Prefer MMSEARCH_TOKEN or "
                     "--token-file, which keep it out of `ps`."),
    ] = None,
    token_file: Annotated[Path | None, typer.Option("--token-file", help="Read the access token from this file.")] = (
        None),
    only: Annotated[list[Path] | None, typer.Option(
        "--only", help="Serve only files under this folder (repeatable; default: the folders the library was "
        "indexed from, as its catalog records them: with a shared catalog, its writers can add some).")] = None,
    watch: Annotated[bool, typer.Option(
        "--watch", help="Also keep the library current with its folders (as `mmsearch watch` does).")] = False,
    quiet_time: Annotated[float, typer.Option("--quiet-time", min=0.05, help="With --watch: see `watch`.")] = 2.0,
) -> None:
    """Search in a web page: serve the library's page and JSON API (schema at /api/openapi.json)."""
    import os

    try:
        import uvicorn  # noqa: F401

        from .web import LOOPBACK_HOSTS, create_app, is_loopback
    except ImportError as exc:  # fastapi / uvicorn / python-multipart missing
        missing = exc.name or exc
        fail(MmsearchError(f"`mmsearch serve` needs the web packages ({missing}): pip install 'mmsearch[web]'"))

    try:
        on_command_line = (token or "").strip()
        token, made = resolve_token(token, token_file, os.environ.get("MMSEARCH_TOKEN"), is_loopback(host))
        if token and not made and token == on_command_line:
            out.print("note: a token on the command line is visible to every local account (`ps`); prefer "
                      "MMSEARCH_TOKEN or --token-file", highlight=False, soft_wrap=True)
        for folder in only or []:
            if not folder.expanduser().is_dir():
                raise MmsearchError(f"--only {folder}: no such folder")
        sock = bind_port(host, port)
    except MmsearchError as exc:
        fail(exc)
    port = sock.getsockname()[1]
    try:
        with open_engine(library, model, create=False) as engine:
            engine.search("warm up", k=1)  # loads the models now: a missing model fails here, not per query
            web_app = create_app(engine.context, token=token, allowed_hosts=(*LOOPBACK_HOSTS, host),
                                 roots=[str(p) for p in only] if only else None)
            shown = _url(host, port, token if made else None)
            note = "" if made or not token else " (open it with ?token=YOUR_TOKEN, or type the token in the page)"
            out.print(f"serving {engine.library.root} on {shown}{note}", highlight=False, soft_wrap=True)
            stop = threading.Event()
            watcher = None
            if watch:
                stop_on_signals(stop)
                watcher = start_thread(engine, stop, quiet_time)
            try:
                _run_server(web_app, sock)
            finally:
                stop.set()  # the watcher finishes the file in hand before the library closes
                if watcher is not None:
                    watcher.join()
    except MmsearchError as exc:
        fail(exc)
