"""The models an index run uses: loaded through ``ctx.models``, their spaces recorded in the catalog and
their indexes opened in the library before anything is written to them.

The image/text space (``clip``) is opened up front when there is work. The soundtrack's spaces (CLAP
``audio``, the sentence ``text`` space) and the transcriber are loaded on the first file with a
timeline; a missing optional model is a warning of the run, never a failure of the file.
"""
from __future__ import annotations

from typing import Any

from mmsearch.catalog import NewSegment
from mmsearch.catalog import Space as SpaceRow
from mmsearch.context import Context
from mmsearch.encoders.base import CPU_BATCH
from mmsearch.kinds import Space

from .audio import soundtrack
from .report import Tally


def batch_size(settings: Any, encoder: Any) -> int:
    """Encoder inputs per batch: the setting, else what the encoder says fits, else the CPU default."""
    if settings.batch_size > 0:
        return int(settings.batch_size)
    fit = getattr(encoder, "fit_batch_size", None)
    return fit() if fit is not None else CPU_BATCH


class RunModels:
    """The encoders of one index run and the catalog spaces they write to."""

    def __init__(self, ctx: Context, tally: Tally) -> None:
        self.ctx, self.tally = ctx, tally
        self.encoder: Any = None  # the clip encoder: images, texts, video frames
        self.space: SpaceRow | None = None
        self.batch_size = CPU_BATCH
        self._sound: tuple[Any, Any, Any] | None = None

    def open_clip(self) -> None:
        """Load the image/text encoder and make sure its space exists and its index is loaded."""
        models = self.ctx.models
        self.encoder = models.encoder(Space.CLIP)
        self.space = self._ensure(Space.CLIP, self.encoder)
        self.batch_size = batch_size(self.ctx.settings, self.encoder)

    def soundtrack(self, path: str, duration: float) -> list[NewSegment]:
        """The sound and speech segments of ``path``, with whichever soundtrack models can be had."""
        clap, transcriber, text = self._sound_models()
        return soundtrack(path, duration, clap, transcriber, text).segments

    def _sound_models(self) -> tuple[Any, Any, Any]:
        """CLAP, Whisper and the sentence model, loaded on first need; a missing one is a warning."""
        if self._sound is None:
            models = self.ctx.models
            clap = models.optional(Space.AUDIO)
            transcriber = models.transcriber()
            text = models.optional(Space.TEXT) if transcriber is not None else None
            for space, enc in ((Space.AUDIO, clap), (Space.TEXT, text)):
                if enc is not None:
                    self._ensure(space, enc)
            for name, why in models.unavailable.items():
                self.tally.warn(f"{name} space inactive: {why}")
            self._sound = (clap, transcriber, text)
        return self._sound

    def _ensure(self, space: Space, encoder: Any) -> SpaceRow:
        row = self.ctx.catalog.ensure_space(space, encoder.model_id, encoder.dim, self.ctx.models.spec(space))
        self.ctx.library.index(row)
        return row
