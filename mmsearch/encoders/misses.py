"""Models known to be missing on a machine without a model hub, so that runs after the first fail at once.

Trying a hub-named model offline costs its library's whole import graph (open_clip or transformers, torch:
tens of seconds on a small machine) to learn that the weights are not in the local cache. So the first
failure is remembered, per spec, with the state of the local model caches at that time; a later run that
finds the hub still unreachable and the caches unchanged gives the same one-line answer without importing
anything. A change in a cache (weights copied in, another model downloaded) or a reachable hub: tried again.
The record lives in ``$XDG_CACHE_HOME/mmsearch/missing-models.json``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path


def _record() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mmsearch" / "missing-models.json"


def _caches() -> list[str]:
    """The local model caches a hub-named model would be found in."""
    home = os.environ.get("HF_HOME") or str(Path.home() / ".cache" / "huggingface")
    hub = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE") or os.path.join(home, "hub")
    return [hub, str(Path.home() / ".cache" / "clip"), os.environ.get("TORCH_HOME") or
            str(Path.home() / ".cache" / "torch")]


def _state() -> list[int]:
    """Each cache folder's change time (a new model in it changes it), 0 when it does not exist."""
    out = []
    for folder in _caches():
        try:
            out.append(os.stat(folder).st_mtime_ns)
        except OSError:
            out.append(0)
    return out


def _read() -> dict:
    try:
        data = json.loads(_record().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def known_missing(spec: str) -> str | None:
    """The remembered failure of ``spec`` while the caches are as they were, else None."""
    entry = _read().get(spec)
    if isinstance(entry, dict) and entry.get("caches") == _state():
        return str(entry.get("why") or "") or None
    return None


def remember(spec: str, why: str) -> None:
    """Remember that ``spec`` could not be had offline; best effort (a read-only home remembers nothing)."""
    data = _read()
    data[spec] = {"caches": _state(), "why": why}
    path = _record()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, path)
    except OSError:
        pass
