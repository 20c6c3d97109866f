"""The decode -> encode work of an index run as Ray Data stages on a cluster; the driver commits.

The driver (the machine running ``mmsearch index --ray``) scans, diffs, loads each model once (to record
its space and check it against the library) and commits through the run's own :class:`~..writer.Writer`:
one transaction per batch, the same crash safety as a local run, and a rerun resumes from what is
committed. The nodes run two actor pools over the work list (``map_batches`` on an ``ActorPoolStrategy``):
:class:`~.stages.DecodeStage` on CPUs and :class:`~.stages.EncodeStage` on GPUs when the nodes have them;
results stream back (``iter_batches``) while later files are still being decoded. Ray Data restarts an
actor lost with its node and retries its batch; a file committed twice is impossible (the driver commits).

Files are read by the nodes at the paths the driver scanned: they must be on a filesystem every node
mounts at the same place (:meth:`RayCluster.check_shared_files`).
"""
from __future__ import annotations

import logging
import math
import os
import pickle
import re
import socket
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from mmsearch.catalog import Media
from mmsearch.context import Context
from mmsearch.errors import MmsearchError

from ..decode import decode
from ..items import FileEntry, Same
from ..kinds import DecodeInputs
from ..spaces import RunModels
from ..writer import Writer
from .require import require_ray
from .stages import DecodeStage, EncodeStage, Indexed, needed_work, node_settings

ADDRESS = re.compile(r"^(auto|ray://[^\s/:]+:\d+|[^\s/:]+:\d+)$")
DECODE_BATCH = 8  # files per decode task
ENCODE_BATCH = 16  # files per encode task (a batch of images is one encoder call)
SAMPLE = 16  # files every node must see as the driver does
CHECK_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Pools:
    """How many actors each stage may scale to, and what each asks of its node."""

    decoders: int
    encoders: int
    decode_cpus: float
    encode_cpus: float
    encode_gpus: float


def plan_pools(cpus: float, gpus: float) -> Pools:
    """One encode actor per GPU and the CPUs decoding; without GPUs, the CPUs split between the stages.
    Each actor asks for at most one CPU, less when the cluster has fewer CPUs than actors."""
    if gpus >= 1:
        encoders = int(gpus)
        decoders = max(1, int(cpus) - encoders)
        per = min(1.0, cpus / (decoders + encoders)) if cpus else 0.0
        return Pools(decoders, encoders, per, per, 1.0)
    encoders = max(1, int(cpus) // 2)
    decoders = max(1, int(cpus) - encoders)
    per = min(1.0, cpus / (decoders + encoders)) if cpus else 0.0
    return Pools(decoders, encoders, per, per, 0.0)


@dataclass
class ClusterStats:
    """What a cluster run moved and where its files were worked on (``IndexReport.cluster``)."""

    address: str
    nodes: int
    pools: dict
    files: int = 0
    bytes_to_nodes: int = 0  # pickled work items sent
    bytes_from_nodes: int = 0  # pickled results received
    driver_cpu_s: float = 0.0  # CPU the driver spent while the files streamed through (commits included)
    wall_s: float = 0.0
    decoded_on: dict[str, int] = field(default_factory=dict)  # node id -> files
    encoded_on: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        n = max(1, self.files)
        d.update(bytes_per_file=round((self.bytes_to_nodes + self.bytes_from_nodes) / n),
                 driver_cpu_ms_per_file=round(1000 * self.driver_cpu_s / n, 3))
        return d


def _seen(sample: list[tuple[str, int]]) -> tuple[str, list[tuple[str, str]]]:
    """On a node: its host name, and the sampled files it does not see as the driver does (path, why)."""
    problems = []
    for path, size in sample:
        try:
            st = os.stat(path)
        except OSError as exc:
            problems.append((path, f"not there ({exc.strerror})"))
            continue
        if st.st_size != size:
            problems.append((path, f"{st.st_size} bytes there, {size} on the driver"))
    return socket.gethostname(), problems


def shared_files_error(node: str, host: str, problems: list[tuple[str, str]]) -> str:
    path, why = problems[0]
    more = f" (and {len(problems) - 1} more of the sampled files)" if len(problems) > 1 else ""
    return (f"node {host} ({node[:12]}) does not see {path} as the driver does: {why}{more}; the files to index "
            f"must be on a filesystem every node mounts at the same path")


class RayCluster:
    """A connection to a Ray cluster for one index run."""

    def __init__(self, ray: Any, address: str, owned: bool) -> None:
        self.ray, self.address, self.owned = ray, address, owned

    @classmethod
    def connect(cls, address: str) -> RayCluster:
        """Connect (or use the connection this process has already); a bad or unreachable address is one
        clear error."""
        ray = require_ray()
        address = address.strip()
        if not ADDRESS.match(address):
            raise MmsearchError(f"--ray {address!r}: give auto, ray://HOST:PORT or HOST:PORT")
        if ray.is_initialized():
            return cls(ray, address, owned=False)
        try:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        except Exception as exc:  # noqa: BLE001 - ConnectionError, or Ray's own errors
            raise MmsearchError(f"cannot reach the Ray cluster at {address}: {type(exc).__name__}: {exc}") from None
        return cls(ray, address, owned=True)

    def close(self) -> None:
        if self.owned and self.ray.is_initialized():
            self.ray.shutdown()

    def nodes(self) -> list[dict]:
        return [n for n in self.ray.nodes() if n.get("Alive")]

    def check_shared_files(self, sample: list[tuple[str, int]]) -> None:
        """Every node must see each sampled (path, size) as the driver does; else one error naming the node
        and the path."""
        if not sample:
            return
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        seen = self.ray.remote(num_cpus=0)(_seen)
        asked = {n["NodeID"]: seen.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
                 .remote(sample) for n in self.nodes()}
        for node, ref in asked.items():
            try:
                host, problems = self.ray.get(ref, timeout=CHECK_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 - a node that cannot answer cannot index either
                raise MmsearchError(f"node {node[:12]} did not answer the shared-filesystem check: {exc}") from None
            if problems:
                raise MmsearchError(shared_files_error(node, host, problems))

    def index(self, ctx: Context, work: list[tuple[FileEntry, Media | None]], models: RunModels, writer: Writer,
              missing_by_hash: dict[str, Media]) -> ClusterStats:
        """Decode and encode ``work`` on the cluster, handing every result to ``writer`` as it arrives."""
        ray = self.ray
        resources = ray.cluster_resources()
        pools = plan_pools(float(resources.get("CPU", 0)), float(resources.get("GPU", 0)))
        stats = ClusterStats(self.address, len(self.nodes()), asdict(pools))
        if not work:
            return stats
        self.check_shared_files(sample_files([e for e, _ in work]))
        needed = needed_work({e.kind for e, _ in work})
        settings = node_settings(ctx.settings, models, needed)
        expected = {n for n in needed if models.available(n)}
        data = ray.data.DataContext.get_current()
        data.enable_progress_bars = False
        data.print_on_execution_start = False
        rows = [{"work": pickle.dumps(w, protocol=pickle.HIGHEST_PROTOCOL)} for w in work]
        stats.bytes_to_nodes = sum(len(r["work"]) for r in rows)
        ds = ray.data.from_items(rows, override_num_blocks=max(1, math.ceil(len(rows) / DECODE_BATCH)))
        ds = ds.map_batches(DecodeStage, fn_constructor_args=(settings, missing_by_hash),
                            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=pools.decoders),
                            batch_size=DECODE_BATCH, batch_format="numpy", num_cpus=pools.decode_cpus)
        ds = ds.map_batches(EncodeStage, fn_constructor_args=(settings, expected),
                            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=pools.encoders),
                            batch_size=ENCODE_BATCH, batch_format="numpy", num_cpus=pools.encode_cpus,
                            num_gpus=pools.encode_gpus or None)
        local = DecodeInputs(ctx.settings, models.encoder)
        claimed: set[int] = set()
        decoded_on: Counter[str] = Counter()
        encoded_on: Counter[str] = Counter()
        t0, cpu0 = time.monotonic(), time.process_time()
        try:
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=2):
                decoded_on.update(batch["decoded_on"])
                encoded_on.update(batch["encoded_on"])
                for payload in batch["item"]:
                    stats.bytes_from_nodes += len(payload)
                    stats.files += 1
                    _hand_over(pickle.loads(payload), writer, claimed, local)
        except MmsearchError:
            raise
        except Exception as exc:  # noqa: BLE001 - Ray's errors: what was committed stays committed
            raise MmsearchError(f"the cluster run stopped after {stats.files} files ({type(exc).__name__}: "
                                f"{str(exc).splitlines()[0] if str(exc) else ''}); what was committed is kept: "
                                f"run the same command again to index the rest") from None
        stats.wall_s = time.monotonic() - t0
        stats.driver_cpu_s = time.process_time() - cpu0
        stats.decoded_on, stats.encoded_on = dict(decoded_on), dict(encoded_on)
        return stats


def _hand_over(item: Any, writer: Writer, claimed: set[int], local: DecodeInputs) -> None:
    """Give one result to the writer. Two files claiming the same moved content (each decode actor holds
    its own copy of the missing files): the first keeps the row, the second is decoded here as new."""
    if isinstance(item, Indexed):
        writer.commit_timed(item.job, item.done)
        return
    if isinstance(item, Same) and item.moved:
        if item.media.id in claimed:
            item = decode(item.entry, None, local, {})
        else:
            claimed.add(item.media.id)
    writer.take(item)


def sample_files(entries: list[FileEntry], n: int = SAMPLE) -> list[tuple[str, int]]:
    """Up to ``n`` files spread over the work list, with their sizes as the driver sees them."""
    step = max(1, len(entries) // n)
    return [(e.path, e.size) for e in entries[::step][:n]]
