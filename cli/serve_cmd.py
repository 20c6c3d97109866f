"""``mmsearch serve``: the local web page and HTTP API (FastAPI + uvicorn)."""
from __future__ import annotations

import errno
import logging
import re
import socket
import threading
from typing import Annotated, Any

import typer

from mmsearch.errors import MmsearchError

from .app import LibraryOpt, ModelOpt, _engine, _fail, app, out
from .watch_cmd import start_thread, stop_on_signals


class _RedactToken(logging.Filter):
    """Keep ``?token=...`` of media URLs out of the access log."""

    _TOKEN = re.compile(r"([?&]token=)[^&\s]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._TOKEN.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        return True


def _url(host: str, port: int, token: str | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


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


@app.command("serve")
def serve(
    library: LibraryOpt = None,
    model: ModelOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on; other than loopback needs --token.")] = (
        "127.0.0.1"),
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="Port to listen on.")] = 8765,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="MMSEARCH_TOKEN", show_envvar=False,
                     help="Access token every request must carry [env: MMSEARCH_TOKEN, which keeps it out of `ps`]."),
    ] = None,
    watch: Annotated[bool, typer.Option(
        "--watch", help="Also keep the library current with its folders (as `mmsearch watch` does).")] = False,
    quiet_time: Annotated[float, typer.Option("--quiet-time", min=0.05, help="With --watch: see `watch`.")] = 2.0,
) -> None:
    """Search in a web page: serve the library's page and JSON API (schema at /api/openapi.json)."""
    try:
        import uvicorn  # noqa: F401

        from .web import LOOPBACK_HOSTS, create_app, is_loopback
    except ImportError as exc:  # fastapi / uvicorn / python-multipart missing
        missing = exc.name or exc
        _fail(MmsearchError(f"`mmsearch serve` needs the web packages ({missing}): pip install 'mmsearch[web]'"))

    token = (token or "").strip() or None
    if not is_loopback(host) and not token:
        _fail(MmsearchError(
            f"refusing to listen on {host}: it is not a loopback address, so other machines could reach your "
            f"library. Set an access token (--token TOKEN or MMSEARCH_TOKEN=TOKEN), or listen on 127.0.0.1"
        ))
    try:
        sock = bind_port(host, port)
    except MmsearchError as exc:
        _fail(exc)
    port = sock.getsockname()[1]
    try:
        with _engine(library, model, create=False) as engine:
            engine.search("warm up", k=1)  # loads the models now: a missing model fails here, not per query
            web_app = create_app(engine.context, token=token, allowed_hosts=(*LOOPBACK_HOSTS, host))
            out.print(f"serving {engine.library.root} on {_url(host, port, token)}", highlight=False, soft_wrap=True)
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
        _fail(exc)
