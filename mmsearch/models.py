"""Models: which model embeds each space, loaded once, never mixed with another.

Spaces and jobs are described as data (:data:`SPACE_SPECS`, :data:`JOB_SPECS`): the setting that names the
model, its default, whether the space is required, and the factory. One rule resolves a spec for every
space: **explicit setting > the spec the library recorded > the default**. ``off`` (or ``none``,
``disabled``) turns an optional space off. A loaded encoder whose model id differs from the one the
library recorded for its space is refused (:class:`~mmsearch.errors.ModelMismatchError`): vectors of two
models are never mixed in one space.

An optional space whose model cannot be had is *unavailable*: :meth:`Models.optional` returns None and
:attr:`Models.unavailable` keeps the reason (shown by ``stats`` and ``index``).
"""
from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from mmsearch.config import DEFAULT_MODEL, Settings
from mmsearch.encoders import LOADERS, Encoder, Factory, misses, resolve_device
from mmsearch.encoders.hub import needs_hub, prepare_hub
from mmsearch.errors import MmsearchError, ModelMismatchError, ModelUnavailableError, brief, one_line
from mmsearch.kinds import Job, Space

if TYPE_CHECKING:
    from mmsearch.catalog.records import SpaceRow

OFF = frozenset({"off", "none", "disabled"})
QUERY_CACHE = 256  # text query vectors remembered (the web page re-runs a query on every filter change)


@dataclass(frozen=True)
class SpaceSpec:
    """How one embedding space gets its model."""

    space: Space
    setting: str  # the Settings field (and MMSEARCH_ variable, CLI option) naming the model
    default: str
    required: bool  # an index run that needs a required space fails without it; optional ones degrade
    load: Factory


SPACE_SPECS: dict[Space, SpaceSpec] = {
    Space.CLIP: SpaceSpec(Space.CLIP, "model", DEFAULT_MODEL, True, LOADERS[Space.CLIP]),
    Space.AUDIO: SpaceSpec(Space.AUDIO, "audio_model", "laion/clap-htsat-unfused", False, LOADERS[Space.AUDIO]),
    Space.TEXT: SpaceSpec(Space.TEXT, "text_model", "bundled", False, LOADERS[Space.TEXT]),
}


def _transcriber(spec: str, device: str) -> Any:
    from mmsearch.encoders.speech import Transcriber

    return Transcriber(spec, device=device)


def _ocr_reader(spec: str, device: str) -> Any:
    from mmsearch.encoders.ocr import OcrReader

    return OcrReader(spec, device=device)


@dataclass(frozen=True)
class JobSpec:
    """A per-file job whose model produces text, not vectors (speech, ocr)."""

    job: Job
    setting: str
    default: str
    load: Callable[[str, str], Any]


JOB_SPECS: dict[Job, JobSpec] = {
    Job.SPEECH: JobSpec(Job.SPEECH, "speech_model", "bundled", _transcriber),
    Job.OCR: JobSpec(Job.OCR, "ocr_model", "bundled", _ocr_reader),
}


class RecordedSpaces(Protocol):
    """What Models needs of the catalog: the space row recorded under a name, if any."""

    def space(self, name: str) -> SpaceRow | None: ...


def is_off(spec: str) -> bool:
    return spec.strip().lower() in OFF


# The settings the command line takes as an option; the others are set by variable or config file only.
CLI_OPTIONS = {"model": "--model"}


def setting_with(setting: str, value: str) -> str:
    """How to set ``setting`` to ``value``: its option when the command line has one, else its variable."""
    option = CLI_OPTIONS.get(setting)
    if option:
        return f"{option} {value} (MMSEARCH_{setting.upper()})"
    return f"MMSEARCH_{setting.upper()}={value} (or {setting} in config.toml)"


def setting_hint(setting: str) -> str:
    """The ways to set ``setting``: ``MMSEARCH_X`` (or ``x`` in config.toml[, or --x])."""
    option = CLI_OPTIONS.get(setting)
    return f"MMSEARCH_{setting.upper()} (or {setting} in config.toml{', or ' + option if option else ''})"


class Models:
    """The encoders of one library: resolved, loaded once, checked against what the library recorded."""

    def __init__(self, settings: Settings, recorded: RecordedSpaces, where: str = "this library") -> None:
        self.settings = settings
        self.recorded = recorded
        self.where = where  # named in mismatch messages
        self.unavailable: dict[str, str] = {}  # optional space or job -> why its model cannot be used
        self._loaded: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._queries: collections.OrderedDict[tuple[str, str, str], np.ndarray] = collections.OrderedDict()
        self._query_lock = threading.Lock()

    # -- specs ----------------------------------------------------------------------------------
    def spec(self, name: str) -> str:
        """The spec a space or job is (or will be) run with: explicit setting > recorded > default."""
        entry = _spec_entry(name)
        explicit = getattr(self.settings, entry.setting)
        if explicit:
            return str(explicit)
        if isinstance(entry, SpaceSpec):
            row = self.recorded.space(name)
            if row is not None and row.spec:
                return str(row.spec)
        return entry.default

    def setting_hint(self, name: str) -> str:
        """How a user names the model of ``name``: its variable, its config-file key and, for the one setting
        the command line takes (``--model``), that option: only names that exist."""
        return setting_hint(_spec_entry(name).setting)

    def is_off(self, name: str) -> bool:
        """Whether the user turned the model of ``name`` off (a choice, nothing to warn about)."""
        return is_off(self.spec(name))

    def mark_unavailable(self, name: str, exc: BaseException) -> None:
        """Keep why the model of ``name`` cannot be had, as one line (the raw error: ``--verbose``)."""
        brief(exc)  # logs the whole error at debug level
        self.unavailable[name] = one_line(str(exc))

    # -- loading --------------------------------------------------------------------------------
    def encoder(self, space: str) -> Encoder:
        """The encoder of ``space``, loaded once; raises ModelUnavailableError or ModelMismatchError."""
        with self._lock:
            if space in self._loaded:
                return self._loaded[space]
            entry = SPACE_SPECS[Space(space)]
            spec = self.spec(space)
            if is_off(spec):
                raise ModelUnavailableError(f"the {space} space is turned off ({entry.setting} = {spec!r})")
            enc = _load(entry.load, spec, resolve_device(self.settings.device))
            self._check(space, enc.model_id)
            self._loaded[space] = enc
            return enc

    def optional(self, space: str) -> Encoder | None:
        """The encoder of an optional space, or None when its model cannot be had (the reason is kept
        in :attr:`unavailable`); a model mismatch still raises."""
        if space in self.unavailable:
            return None
        try:
            return self.encoder(space)
        except ModelUnavailableError as exc:
            self.mark_unavailable(space, exc)
            return None

    def job_model(self, job: str) -> Any | None:
        """The model of a text-producing job (speech), or None when it is off or cannot be loaded."""
        if job in self.unavailable:
            return None
        with self._lock:
            if job not in self._loaded:
                entry = JOB_SPECS[Job(job)]
                spec = self.spec(job)
                if is_off(spec):
                    self.unavailable[job] = f"{job} is turned off ({entry.setting} = {spec!r})"
                    return None
                try:
                    self._loaded[job] = _load(entry.load, spec, resolve_device(self.settings.device))
                except (ModelUnavailableError, ImportError) as exc:
                    self.mark_unavailable(job, exc)
                    return None
            return self._loaded[job]

    def transcriber(self) -> Any | None:
        """The speech-to-text model (setting ``speech_model``), or None when off or unavailable."""
        return self.job_model(Job.SPEECH)

    def use(self, encoder: Encoder) -> None:
        """Use an already-built encoder for its space (same model check as :meth:`encoder`)."""
        self._check(encoder.space, encoder.model_id)
        with self._lock:
            self._loaded[encoder.space] = encoder
            self.unavailable.pop(encoder.space, None)

    def follow(self, row: SpaceRow) -> None:
        """Forget a loaded encoder whose model the library no longer records for its space (another
        process re-embedded it, e.g. while ``serve`` runs): the next use loads the recorded model, or
        refuses an explicit setting that names the old one."""
        with self._lock:
            loaded = self._loaded.get(row.name)
            if loaded is not None and loaded.model_id != row.model_id:
                del self._loaded[row.name]

    def loaded(self, name: str) -> Any | None:
        """The model of ``name`` if it is loaded already (never loads)."""
        return self._loaded.get(name)

    def _check(self, space: str, model_id: str) -> None:
        row = self.recorded.space(space)
        if row is not None and row.model_id != model_id:
            setting = SPACE_SPECS[Space(space)].setting
            raise ModelMismatchError(
                f"{self.where} embeds space {space!r} with model {row.model_id!r} (spec {row.spec!r}), not "
                f"{model_id!r}; open it with {setting_with(setting, str(row.spec))}, "
                f"or switch the space to the other model in place: mmsearch reembed {space} --model SPEC"
            )

    # -- queries --------------------------------------------------------------------------------
    def text_vector(self, space: str, text: str) -> np.ndarray | None:
        """``text`` embedded for a query in ``space`` (None when the space takes no text or is
        unavailable); the last :data:`QUERY_CACHE` queries are remembered, read-only."""
        enc = self.encoder(space) if SPACE_SPECS[Space(space)].required else self.optional(space)
        if enc is None or "text" not in enc.modalities:
            return None
        key = (space, enc.model_id, text)
        with self._query_lock:
            vector = self._queries.get(key)
            if vector is not None:
                self._queries.move_to_end(key)
                return vector
        vector = enc.encode_text([text])[0]
        vector.setflags(write=False)  # shared by later queries
        with self._query_lock:
            self._queries[key] = vector
            while len(self._queries) > QUERY_CACHE:
                self._queries.popitem(last=False)
        return vector

    # -- switching a space's model (indexers/reembed.py) --------------------------------------------
    def load_unchecked(self, space: str, spec: str) -> Encoder:
        """A new encoder of ``space`` for ``spec``, loaded without the check against the recorded model (a
        re-embed's target model) and not used for queries until :meth:`adopt`; raises ModelUnavailableError."""
        entry = SPACE_SPECS[Space(space)]
        if is_off(spec):
            raise ModelUnavailableError(f"cannot re-embed the {space} space with {spec!r}: name a model")
        encoder: Encoder = _load(entry.load, spec, resolve_device(self.settings.device))
        return encoder

    def adopt(self, encoder: Encoder, spec: str) -> None:
        """Use ``encoder`` for its space from now on, after the library recorded its model (a finished
        re-embed): it replaces the old encoder, and ``spec`` replaces an explicit setting naming the old one."""
        import dataclasses

        entry = SPACE_SPECS[Space(encoder.space)]
        with self._lock:
            if getattr(self.settings, entry.setting):
                self.settings = dataclasses.replace(self.settings, **{entry.setting: spec})  # type: ignore[arg-type]
            self._loaded[encoder.space] = encoder
            self.unavailable.pop(encoder.space, None)
        self._check(encoder.space, encoder.model_id)


def _load(factory: Callable[[str, str], Any], spec: str, device: str) -> Any:
    """Load a model; a spec that names a hub model first checks the hub once per process, so an offline
    machine fails at once instead of retrying (and cached weights still load)."""
    offline = needs_hub(spec) and not prepare_hub()
    if offline:
        known = misses.known_missing(spec)
        if known:  # failed offline before, the model caches unchanged since: the same answer, nothing imported
            raise ModelUnavailableError(known)
    try:
        return factory(spec, device)
    except ModelUnavailableError as exc:
        if offline:
            misses.remember(spec, str(exc))
        raise


def _spec_entry(name: str) -> SpaceSpec | JobSpec:
    if name in SPACE_SPECS:
        return SPACE_SPECS[Space(name)]
    if name in JOB_SPECS:
        return JOB_SPECS[Job(name)]
    raise MmsearchError(f"unknown space {name!r}")
