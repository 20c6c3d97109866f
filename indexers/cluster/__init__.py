"""Index runs on a Ray cluster (``mmsearch index --ray ADDRESS``; the ``cluster`` extra installs Ray).

The driver scans, diffs and commits exactly as a local run does; the decode -> encode work of every file
runs as Ray Data stages on the cluster's nodes (:mod:`.ray_run`). Ray is imported only when a run asks for
a cluster, so without the extra everything else works as before.
"""
from __future__ import annotations

from typing import Any

from .require import EXTRA, require_ray


def open_cluster(address: str) -> Any:
    """Connect to the Ray cluster at ``address`` (``auto``, ``ray://host:port`` or ``host:port``)."""
    require_ray()
    from .ray_run import RayCluster

    return RayCluster.connect(address)


__all__ = ["EXTRA", "open_cluster", "require_ray"]
