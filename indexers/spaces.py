"""The models an index run uses: loaded through ``ctx.models``, their spaces recorded in the catalog and
their indexes opened in the library before anything is written to them.

The image/text space (``clip``) is opened up front when there is work; the sentence space (``text``) on
the first text; the soundtrack's models (CLAP ``audio``, the transcriber) on the first file with a
timeline (with the shot detector, for a video's frames: :meth:`RunModels.timed_inputs` hands a timed
file's handler the models of its work); the text-in-pictures reader (``ocr``) on the first picture (its
reading waits for the deferred pass). A model that cannot be had is one warning of the run naming the
setting, never a failure of a file: that work is recorded as *pending* and a later run with the model
backfills it.

Deferred jobs (``DEFERRED``: ``ocr``): while :attr:`RunModels.deferring` (the run's first pass), no text is
read and each file's mark says *pending* (:data:`DEFERRED_REASON`); the run's deferred pass
(indexers/deferred.py) then does that work over the committed files, so pictures, sounds and speech are
searchable at the image tower's speed first.
"""
from __future__ import annotations

import dataclasses
import threading
from collections.abc import Collection
from types import SimpleNamespace
from typing import Any

from mmsearch.analysis.tokens import passage
from mmsearch.catalog import JobMark, NewSegment
from mmsearch.catalog import Space as SpaceRow
from mmsearch.context import Context
from mmsearch.encoders.base import CPU_BATCH
from mmsearch.errors import ModelUnavailableError
from mmsearch.kinds import READ_KINDS, TIMED_KINDS, WORK_BY_KIND, Job, JobState, MediaKind, Space

from .kinds import TimedInputs
from .kinds.video.frames import load_scene_model
from .report import Tally

METADATA_READER = SimpleNamespace(model_id="metadata")  # what the job marks of the metadata job name
DEFERRED = frozenset({Job.OCR})  # jobs done in the run's own pass after the first (indexers/deferred.py)
DEFERRED_REASON = "deferred: done in the run's pass after the pictures, sounds and speech are committed"


def batch_size(settings: Any, encoder: Any) -> int:
    """Encoder inputs per batch: the setting, else what the encoder says fits, else the CPU default."""
    if settings.batch_size > 0:
        return int(settings.batch_size)
    fit = getattr(encoder, "fit_batch_size", None)
    return fit() if fit is not None else CPU_BATCH


class RunModels:
    """The encoders of one index run, the catalog spaces they write to, and what each file's work is
    marked as (:meth:`marks`): done by a model, or pending while its model cannot be had."""

    def __init__(self, ctx: Context, tally: Tally) -> None:
        self.ctx, self.tally = ctx, tally
        self.encoder: Any = None  # the clip encoder: images, texts, video frames (None: clip is pending)
        self.space: SpaceRow | None = None
        self.batch_size = CPU_BATCH
        self._sound: tuple[Any, Any, Any] | None = None
        self._text: Any = False  # the sentence encoder once asked for (None: unavailable)
        self._ocr: Any = False  # the OCR reader once asked for (None: unavailable)
        self._ocr_lock = threading.Lock()  # asked for by the decode workers
        self._warned: set[str] = set()
        self._scenes: tuple[Any, str | None] | None = None
        self.deferring = True  # the first pass: DEFERRED jobs are marked pending, their readers withheld

    def open_clip(self) -> None:
        """Load the image/text encoder and make sure its space exists and its index is loaded. A model that
        cannot be had leaves the clip work of this run's files pending (one warning); a mismatch raises."""
        try:
            self.encoder = self.ctx.models.encoder(Space.CLIP)
        except ModelUnavailableError as exc:
            self.ctx.models.mark_unavailable(Space.CLIP, exc)
            self._warn(Space.CLIP)
            return
        self.space = self._ensure(Space.CLIP, self.encoder)
        self.batch_size = batch_size(self.ctx.settings, self.encoder)

    def text_encoder(self) -> Any:
        """The sentence encoder of the ``text`` space (notes, captions, subtitles, transcripts), or None."""
        if self._text is False:
            self._text = self.ctx.models.optional(Space.TEXT)
            if self._text is not None:
                self._ensure(Space.TEXT, self._text)
            else:
                self._warn(Space.TEXT)
        return self._text

    def ocr_reader(self) -> Any:
        """The text-in-pictures reader (setting ``ocr_model``), loaded on first need, or None (one warning);
        None without loading it while :attr:`deferring` (the first pass reads no text)."""
        return None if self.deferring else self._load_ocr()

    def _load_ocr(self) -> Any:
        with self._ocr_lock:
            if self._ocr is False:
                self._ocr = self.ctx.models.job_model(Job.OCR)
                if self._ocr is None:
                    self._warn(Job.OCR)
            return self._ocr

    def embed_texts(self, segments: list[NewSegment]) -> list[NewSegment]:
        """Job segments (ocr) with their text embedded in the sentence space ``text`` when that model is
        here (as they are otherwise: found by their words only); text read from pixels is embedded read apart
        (:func:`mmsearch.analysis.tokens.passage`: a run-together line's vector is poor)."""
        worded = [i for i, seg in enumerate(segments) if seg.text]
        encoder = self.text_encoder() if worded else None
        if encoder is None:
            return segments
        out = list(segments)
        step = self.batch_size
        for a in range(0, len(worded), step):
            chunk = worded[a : a + step]
            for i, vector in zip(chunk, encoder.encode_text([passage(segments[i].text, segments[i].kind in READ_KINDS)
                                                              for i in chunk])):
                out[i] = dataclasses.replace(segments[i], vector=vector, space=Space.TEXT)
        return out

    def timed_inputs(self, kind: MediaKind, names: Collection[str] | None = None) -> TimedInputs:
        """What the handler of a timed file of ``kind`` needs for its work (``names``: only that work, a
        backfill), its models loaded now (each once a run): the clip encoder; CLAP, the transcriber and the
        sentence model for sound and speech; the shot detector when frames are cut into scenes. A model that
        cannot be had is None: that work is pending."""
        work = set(WORK_BY_KIND[kind] if names is None else names)
        clap = transcriber = text = None
        if work & {Space.AUDIO, Job.SPEECH}:
            clap, transcriber, text = self._sound_models()
            clap = clap if Space.AUDIO in work else None
            transcriber = transcriber if Job.SPEECH in work else None
        shot_model, shot_warning = (self.scene_model() if self.encoder is not None and Space.CLIP in work
                                    else (None, None))
        # the reader is loaded for the job marks of the first pass anyway; its text is read in the deferred pass
        reader = self._load_ocr() if {Space.CLIP, Job.OCR} <= work and self.encoder is not None else None
        return TimedInputs(self.ctx.settings, self.encoder, self.batch_size, clap=clap, transcriber=transcriber,
                           text_encoder=text, shot_model=shot_model, shot_warning=shot_warning, text_reader=reader)

    def marks(self, kind: MediaKind, *, only: Collection[str] | None = None) -> dict[str, JobMark]:
        """What a file of ``kind`` indexed now is marked as, per space/job (``only``: just those)."""
        names = [n for n in WORK_BY_KIND[kind] if only is None or n in only]
        return {n: self._mark(n, kind) for n in names}

    def available(self, name: str) -> bool:
        return self._model_of(name) is not None

    def can_do(self, name: str, kind: MediaKind) -> bool:
        """Whether this run can do ``name``'s work on a file of ``kind`` (its model is here, and the work it
        waits on: a video's text is read per scene, cut on the clip vectors)."""
        return self._mark(name, kind).state == JobState.DONE

    def _mark(self, name: str, kind: MediaKind) -> JobMark:
        if name == Job.OCR and kind in TIMED_KINDS and self.encoder is None:
            # a video's text is read per scene, and its scenes are cut on the clip vectors
            return JobMark(JobState.PENDING, None, "reading a video's text waits for the clip space (its scenes)")
        model = self._model_of(name)
        if model is not None and self.deferring and name in DEFERRED:
            return JobMark(JobState.PENDING, None, DEFERRED_REASON)
        if model is not None:
            return JobMark(JobState.DONE, getattr(model, "model_id", None))
        return JobMark(JobState.PENDING, None, self.ctx.models.unavailable.get(name, "model unavailable"))

    def _model_of(self, name: str) -> Any:
        """The model that does ``name``'s work in this run, or None."""
        if name == Job.METADATA:
            return METADATA_READER  # no model: the decoder reads it, always here
        if name == Space.CLIP:
            return self.encoder
        if name == Space.TEXT:
            return self.text_encoder()
        if name == Job.OCR:
            return self._load_ocr()
        clap, transcriber, text = self._sound_models()
        if name == Space.AUDIO:
            return clap
        return transcriber if text is not None else None  # speech: transcribed, then embedded in text

    def _sound_models(self) -> tuple[Any, Any, Any]:
        """CLAP, Whisper and the sentence model, loaded on first need; a missing one is a warning."""
        if self._sound is None:
            models = self.ctx.models
            clap = models.optional(Space.AUDIO)
            transcriber = models.transcriber()
            text = self.text_encoder() if transcriber is not None else None
            if clap is not None:
                self._ensure(Space.AUDIO, clap)
            for name in (Space.AUDIO, Job.SPEECH):
                if name in models.unavailable:
                    self._warn(name)
            self._sound = (clap, transcriber, text)
        return self._sound

    def scene_model(self) -> tuple[Any, str | None]:
        """The learned shot detector (setting ``shot_model``) and the warning when it cannot be had; loaded
        once a run, the warning reported once."""
        if self._scenes is None:
            self._scenes = load_scene_model(self.ctx.settings.shot_model, self.ctx.settings.device)
            if self._scenes[1]:
                self.tally.warn(self._scenes[1])
        return self._scenes

    def _warn(self, name: str) -> None:
        """One warning per unavailable space or job, naming the setting that fixes it; none for a model the
        user turned off (their choice: ``stats`` still shows the work as pending)."""
        if name in self._warned:
            return
        self._warned.add(name)
        if self.ctx.models.is_off(name):
            return
        why = self.ctx.models.unavailable.get(name, "model unavailable")
        hint = self.ctx.models.setting_hint(name)
        fix = "" if hint.split(" ", 1)[0] in why else f"set {hint}; "  # the reason may name the setting already
        self.tally.warn(f"{name} pending: {why} ({fix}the next index run does the pending work)")

    def _ensure(self, space: Space, encoder: Any) -> SpaceRow:
        row = self.ctx.catalog.ensure_space(space, encoder.model_id, encoder.dim, self.ctx.models.spec(space))
        self.ctx.library.index(row)
        return row
