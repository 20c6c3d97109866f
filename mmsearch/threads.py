"""One CPU thread for the latency path (a query), every core for the throughput path (ingest).

A query is small work: a handful of tokens through a text tower, one vector against a few thousand.
Split over a thread team, it waits for the slowest thread, and on a machine whose other cores are
busy (an ingest running) that wait is a scheduler slice. Measured on this project's 2-core machine
with one core busy: a whole query 57 ms on one thread against 78 ms with numpy's BLAS free to use
both (docs/benchmarks.md).
"""
from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any

_controller: Any = None
_controller_lock = threading.Lock()


def _blas_locked() -> Any:
    """The threadpoolctl controller (made once); the caller holds ``_controller_lock``."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


_active = 0  # queries inside single_threaded() right now
_saved: tuple[int | None, Any] | None = None  # torch's thread count and the BLAS limit context to undo


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """torch's intra-op threads and numpy's BLAS threads at one inside the block, restored after.

    The settings are process-wide: concurrent queries (the web server's threads) share one
    one-thread section, entered by the first and undone by the last, so the process gets its own
    settings back whatever the interleaving. An ingest in the same process runs on one thread while
    a query is inside; queries last milliseconds.
    """
    global _active, _saved
    # torch only when something imported it already: a query whose models run on numpy never pays its import
    torch = sys.modules.get("torch")

    with _controller_lock:
        if _active == 0:
            limit = _blas_locked().limit(limits=1, user_api="blas")
            _saved = (torch.get_num_threads() if torch is not None else None, limit)
            if torch is not None:
                torch.set_num_threads(1)
        _active += 1
    try:
        yield
    finally:
        with _controller_lock:
            _active -= 1
            if _active == 0 and _saved is not None:
                threads, limit = _saved
                _saved = None
                limit.restore_original_limits()
                if threads is not None and torch is not None:
                    torch.set_num_threads(threads)
