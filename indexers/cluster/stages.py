"""The two Ray Data stages of a cluster run, as callable classes (one instance per actor):
:class:`DecodeStage` (CPU actors: read, hash, decode and preprocess, like a local run's decode workers) and
:class:`EncodeStage` (GPU actors when the nodes have GPUs: encode batched files, index timed ones whole).

Rows carry pickled items (``work``: a file and its catalog row; ``item``: what :func:`~..decode.decode`
made of it, then what the encode stage made of that), so the driver's writer receives the same objects a
local run's decode workers and encoder produce. Models load on the actor from the specs the driver resolved
(:func:`node_settings`); nothing on a node touches the catalog or the library.
"""
from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from mmsearch.catalog import Media
from mmsearch.catalog import Space as SpaceRow
from mmsearch.config import Settings
from mmsearch.kinds import WORK_BY_KIND, Job, MediaKind, Space
from mmsearch.models import JOB_SPECS, SPACE_SPECS, Models

from ..decode import decode
from ..encode import BatchEncoder
from ..items import Decoded, Failed, Item, Timed
from ..kinds import HANDLERS, DecodeInputs, TimedResult
from ..report import Tally
from ..spaces import DEFERRED, RunModels

OFF = "off"


@dataclass
class Indexed:
    """A timed file indexed whole by an encode actor: the writer commits ``done`` for ``job``."""

    job: Timed
    done: TimedResult


class _Unrecorded:
    """A node's models check nothing against the catalog: the driver did (its RunModels loaded each model)."""

    def space(self, name: str) -> SpaceRow | None:
        return None


class NodeModels(RunModels):
    """The models of a run on one node, from :func:`node_settings`; they record no space (the driver has)."""

    def __init__(self, settings: Settings) -> None:
        models = Models(settings, _Unrecorded(), where="this node")
        super().__init__(SimpleNamespace(settings=settings, models=models), Tally())  # type: ignore[arg-type]

    def _ensure(self, space: Space, encoder: Any) -> SpaceRow:
        return None  # type: ignore[return-value]  # no catalog here: RunModels.space stays None


def needed_work(kinds: set[MediaKind]) -> set[str]:
    """The spaces and jobs files of ``kinds`` need; texts read by a job (speech, ocr) go to ``text``."""
    names = {n for kind in kinds for n in WORK_BY_KIND[kind]}
    return names | {Space.TEXT} if names & {Job.SPEECH, Job.OCR} else names


def node_settings(settings: Settings, models: RunModels, needed: set[str]) -> Settings:
    """The driver's settings with the spec of every model in ``needed`` resolved as the driver resolved it
    (setting > recorded > default), and ``off`` for any other or one the driver could not have: a node never
    does work the driver marks pending, and loads the very model the library records."""
    def spec(name: str) -> str:
        return models.ctx.models.spec(name) if name in needed and models.available(name) else OFF

    fields: dict[str, Any] = {entry.setting: spec(name) for name, entry in SPACE_SPECS.items()}
    fields.update({entry.setting: spec(name) for name, entry in JOB_SPECS.items()})
    return dataclasses.replace(settings, **fields)


def shortfall(models: RunModels, kind: MediaKind, names: set[str], node: str) -> dict[str, str]:
    """The work of a ``kind`` file, among ``names`` (done by the driver's models), whose model this node
    cannot have: failed for that file with the reason, never marked done without its vectors. The deferred
    jobs (``ocr``) are no node's work: the driver's own pass does them after the cluster's (a node neither
    loads their model nor fails a file for want of it)."""
    return {n: f"{n} model unavailable on node {node}: {models.ctx.models.unavailable.get(n, 'not loaded')}"
            for n in WORK_BY_KIND[kind] if n in names and n not in DEFERRED and not models.available(n)}


def _node() -> str:
    import ray

    return str(ray.get_runtime_context().get_node_id())


def _column(values: list[Any]) -> np.ndarray:
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


class DecodeStage:
    """Read, hash and decode files (``work`` rows) into items (``item`` rows), on the CPU."""

    def __init__(self, settings: Settings, missing_by_hash: dict[str, Media]) -> None:
        self.models = NodeModels(dataclasses.replace(settings, device="cpu"))  # preprocessing only
        self.models.open_clip()
        self.inputs = DecodeInputs(self.models.ctx.settings, self.models.encoder)
        self.missing, self.node = dict(missing_by_hash), _node()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = []
        for payload in batch["work"]:
            entry, old = pickle.loads(payload)
            out.append(pickle.dumps(decode(entry, old, self.inputs, self.missing), protocol=pickle.HIGHEST_PROTOCOL))
        return {"item": _column(out), "decoded_on": _column([self.node] * len(out))}


class EncodeStage:
    """Encode the decoded files of a batch in one go and index its timed files whole (``item`` rows in,
    ``item`` rows out: :class:`~..items.Decoded` with its vectors and without its images, or
    :class:`Indexed`, or a :class:`~..items.Failed`)."""

    def __init__(self, settings: Settings, expected: set[str]) -> None:
        self.models = NodeModels(settings)
        self.models.open_clip()
        self.encoding = BatchEncoder(self.models)
        self.expected, self.node = expected, _node()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        items: list[Item | Indexed] = [pickle.loads(p) for p in batch["item"]]
        decoded = [i for i, item in enumerate(items) if isinstance(item, Decoded)]
        for i, done in zip(decoded, self._encode([items[i] for i in decoded])):  # type: ignore[misc]
            items[i] = done
        for i, item in enumerate(items):
            if isinstance(item, Timed):
                items[i] = self._index(item)
        out = [pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL) for item in items]
        return {"item": _column(out), "decoded_on": batch["decoded_on"], "encoded_on": _column([self.node] * len(out))}

    def _encode(self, batch: list[Decoded]) -> list[Decoded | Failed]:
        """The batch encoded at once; a batch that breaks the encoder is encoded file by file, so only the
        file that breaks it fails (as the writer does)."""
        if not batch:
            return []
        try:
            vectors = self.encoding.vectors(batch)
        except Exception as exc:  # noqa: BLE001 - isolate the file that breaks the encoder
            if len(batch) == 1:
                return [Failed(batch[0].entry, "encode", f"{type(exc).__name__}: {exc}")]
            return [done for item in batch for done in self._encode([item])]
        for item, vecs in zip(batch, vectors):
            item.vectors, item.images = vecs, []
            item.job_errors.update(shortfall(self.models, item.entry.kind, self.expected & {Space.CLIP, Space.TEXT},
                                             self.node))
        return list(batch)

    def _index(self, job: Timed) -> Indexed | Failed:
        try:
            done = HANDLERS[job.entry.kind].index(job, self.models.timed_inputs(job.entry.kind))
        except Exception as exc:  # noqa: BLE001 - one bad file must never stop a run
            return Failed.of(job.entry, "decode", exc)
        done.job_errors.update(shortfall(self.models, job.entry.kind, self.expected, self.node))
        return Indexed(job, done)
