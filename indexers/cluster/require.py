"""Ray, imported only when a run asks for a cluster: the module, or one clear error naming the extra that
installs it. (Below both the package's entry point and ray_run.py, which need it.)"""
from __future__ import annotations

import os
from typing import Any

from mmsearch.errors import MmsearchError

EXTRA = "pip install 'mmsearch[cluster]'"
# Ray's usage statistics, off unless the user turned them on: a run reports nothing off this machine, and with
# them on Ray Data keeps a driver thread that queries Prometheus every 10 s for the life of the process.
USAGE_STATS = "RAY_USAGE_STATS_ENABLED"


def require_ray() -> Any:
    """The ``ray`` module with Ray Data, or one clear error naming the extra that installs it. Ray's usage
    statistics are off unless the environment already says otherwise."""
    os.environ.setdefault(USAGE_STATS, "0")
    try:
        import ray
        import ray.data  # Ray Data is the part of Ray a cluster run needs
    except ImportError:
        raise MmsearchError(f"indexing on a Ray cluster (--ray) needs Ray Data: {EXTRA}") from None
    return ray
