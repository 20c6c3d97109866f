"""Ray, imported only when a run asks for a cluster: the module, or one clear error naming the extra that
installs it. (Below both the package's entry point and ray_run.py, which need it.)"""
from __future__ import annotations

from typing import Any

from mmsearch.errors import MmsearchError

EXTRA = "pip install 'mmsearch[cluster]'"


def require_ray() -> Any:
    """The ``ray`` module with Ray Data, or one clear error naming the extra that installs it."""
    try:
        import ray
        import ray.data  # Ray Data is the part of Ray a cluster run needs
    except ImportError:
        raise MmsearchError(f"indexing on a Ray cluster (--ray) needs Ray Data: {EXTRA}") from None
    return ray
