"""``mmsearch query-server``: the background query process of one library (see cli/query_client.py).

It opens the library and loads its query models once, then binds ``query.sock`` in the library folder
(mode 0600) and answers one ``search`` at a time, exactly as the command would in-process (the same
command function, its output captured), until ``--idle`` minutes pass without a query. A socket that
exists but answers nobody (a killed process) is stale: it is removed and replaced; one that answers
belongs to a live process, and this one exits. A query whose ``MMSEARCH_*`` settings differ from the
process's own is refused (the command then runs in-process).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import socket
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import click
import typer

from . import engines
from .options import LibraryOpt, ModelOpt
from .output import console, use_consoles
from .query_client import IDLE_MINUTES, ask, eligible, settings_env, socket_path


def query_server(
    ctx: typer.Context,
    library: LibraryOpt = None,
    model: ModelOpt = None,
    idle: Annotated[float | None, typer.Option("--idle", min=0.01, help="Minutes without a query before it "
                                               "exits [env: MMSEARCH_QUERY_IDLE, default 10].")] = None,
    stop: Annotated[bool, typer.Option("--stop", help="Stop the library's query process, if one runs.")] = False,
) -> None:
    """Hold a library open for fast command-line searches (started by `mmsearch search`; exits when idle)."""
    from mmsearch.config import load_settings

    root = load_settings(library=library).library.expanduser().absolute()
    if stop:
        ask(root, {"stop": True}, timeout=30)
        return
    minutes = idle if idle is not None else float(os.environ.get("MMSEARCH_QUERY_IDLE") or IDLE_MINUTES)
    engines.HOLD = True  # the command's engines stay open between queries
    with engines.open_engine(root, model, create=False) as engine:
        engine.search("warm up", k=1)  # the query models load now, before the socket says "ready"
        sock = _bind(socket_path(root))
        if sock is None:
            return
        try:
            _serve(ctx.find_root().command, sock, minutes * 60, settings_env())
        finally:
            sock.close()
            with contextlib.suppress(OSError):
                os.unlink(socket_path(root))
            engines.close_held()


def _bind(path: Path) -> socket.socket | None:
    """The listening socket at ``path`` (0600), or None when a live process has it."""
    if path.exists():
        if ask(path.parent, {"ping": True}, timeout=5) is not None:
            return None
        with contextlib.suppress(OSError):
            os.unlink(path)  # stale: its process is gone
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(os.fspath(path))
    except OSError:
        sock.close()
        return None
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(8)
    return sock


def _serve(cli: Any, sock: socket.socket, idle_s: float, env: dict[str, str]) -> None:
    """Answer requests on ``sock`` with the command line ``cli`` (the ``mmsearch`` group this command runs in:
    typer's own click, whose classes are not ``click``'s)
    until ``idle_s`` pass without one or one says stop."""
    sock.settimeout(idle_s)
    while True:
        try:
            conn, _ = sock.accept()
        except TimeoutError:
            return
        with conn:
            conn.settimeout(60)
            try:
                request = json.loads(b"".join(iter(partial(conn.recv, 1 << 16), b"")) or b"{}")
            except (OSError, ValueError):
                continue
            if request.get("stop"):
                conn.sendall(b'{"stopped": true}')
                return
            answer = {"pong": True} if request.get("ping") else _answer(cli, request, env)
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps(answer).encode())


def _answer(cli: Any, request: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """Run the ``search`` in ``request`` as the command line would; its output and exit code."""
    argv = request.get("argv") or []
    if request.get("env") != env or not eligible(argv):
        return {"refused": "other settings or command"}
    stdout, stderr = io.StringIO(), io.StringIO()
    rc = 0
    # the command's consoles as the asking terminal's (a table on a terminal, one line per hit in a pipe)
    tty = bool(request.get("tty"))
    use_consoles(console(force_terminal=tty, width=request.get("width") if tty else None),
                 console(stderr=True, force_terminal=tty))
    try:
        os.chdir(request.get("cwd") or "/")
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                result = cli.main(argv, prog_name="mmsearch", standalone_mode=False)
                rc = result if isinstance(result, int) else 0
            except click.exceptions.Exit as exc:
                rc = exc.exit_code
            except click.ClickException as exc:
                exc.show()
                rc = exc.exit_code
    except Exception as exc:  # noqa: BLE001 - the process outlives one bad query
        return {"stdout": stdout.getvalue(), "stderr": stderr.getvalue() + f"error: {exc}\n", "rc": 2}
    return {"stdout": stdout.getvalue(), "stderr": stderr.getvalue(), "rc": rc}
