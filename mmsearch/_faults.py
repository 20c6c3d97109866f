"""Fault injection for the crash and concurrency tests. Costs one call to an empty function otherwise.

The ingestion code marks a handful of named points with ``faults.point("commit")``. Two environment
variables, read once at import, arm them:

``MMSEARCH_TEST_KILL_AT="NAME:N"``
    the N-th time (1-based, counted over all threads) the process reaches point NAME it sends itself
    SIGKILL: no ``finally`` blocks, no atexit, no flushing, exactly like a power cut for the process
    (the OS keeps what was already written). Several comma-separated ``NAME:N`` are allowed.
``MMSEARCH_TEST_SLEEP_AT="NAME:SECONDS"``
    sleep that long at every visit of NAME (to widen windows in concurrency tests).
``MMSEARCH_TEST_HOLD_AT="NAME:FILE"``
    at every visit of NAME, wait (at most 5 minutes) until FILE exists: a test holds a writer at a known
    point, does what it wants to try against it, then creates FILE to let it go on.

Points (see docs/reliability.md for what each one proves):
    decode   a worker thread has read and decoded a file
    encode   a batch is encoded, nothing of it written yet
    commit   inside the catalog transaction of a batch, before it commits
    apply    the batch is committed, its vectors are not yet in the in-memory index
    remove   deleted files are removed from the catalog, not yet from the index
    save     an index snapshot is about to be written
    ocr      the deferred pass has read one file's text, nothing of it written yet (indexers/deferred.py)
"""
from __future__ import annotations

import os
import signal
import threading
import time

__all__ = ["point", "armed"]


def _parse(spec: str, value=float) -> dict:
    out: dict = {}
    for part in spec.split(",") if value is float else [spec]:
        name, _, arg = part.strip().partition(":")
        if name:
            out[name] = value(arg or 1)
    return out


_KILL = _parse(os.environ.get("MMSEARCH_TEST_KILL_AT", ""))
_SLEEP = _parse(os.environ.get("MMSEARCH_TEST_SLEEP_AT", ""))
_HOLD = _parse(os.environ.get("MMSEARCH_TEST_HOLD_AT", ""), value=str)
_counts: dict[str, int] = {}
_lock = threading.Lock()


def _point(name: str) -> None:
    delay = _SLEEP.get(name)
    if delay:
        time.sleep(delay)
    hold = _HOLD.get(name)
    if hold:
        deadline = time.monotonic() + 300
        while not os.path.exists(hold) and time.monotonic() < deadline:
            time.sleep(0.02)
    target = _KILL.get(name)
    if target is None:
        return
    with _lock:
        _counts[name] = n = _counts.get(name, 0) + 1
        if n == int(target):
            os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(60)  # SIGKILL is asynchronous on some kernels: never run past the point


def _noop(name: str) -> None:
    return None


armed = bool(_KILL or _SLEEP or _HOLD)
point = _point if armed else _noop
