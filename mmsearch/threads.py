"""One CPU thread for the latency path (a query), every core for the throughput path (ingest).

A query is small work: a handful of tokens through a text tower, one vector against a few thousand.
Split over a thread team, it waits for the slowest thread, and on a machine whose other cores are
busy (an ingest running) that wait is a scheduler slice. Measured on this project's 2-core machine
with one core busy: a whole query 57 ms on one thread against 78 ms with numpy's BLAS free to use
both (docs/benchmarks.md).
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

_controller: Any = None
_controller_lock = threading.Lock()


def _blas() -> Any:
    global _controller
    with _controller_lock:
        if _controller is None:
            from threadpoolctl import ThreadpoolController

            _controller = ThreadpoolController()
        return _controller


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """torch's intra-op threads and numpy's BLAS threads at one inside the block, restored after.

    The settings are process-wide, so a concurrent ingest in the same process runs on one thread
    while a query is inside this block; queries last milliseconds.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with _blas().limit(limits=1, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(before)
