"""Sound files: CLAP windows and timed speech over the file's duration (see soundtrack.py), with the models
the run handed in for the file's work."""
from __future__ import annotations

from collections.abc import Collection

from mmsearch.errors import MediaError
from mmsearch.kinds import MediaKind
from mmsearch.media.audio import probe_audio
from mmsearch.media.metadata import from_tags

from ..items import Timed
from .base import KindHandler, TimedInputs, TimedResult
from .soundtrack import soundtrack


class AudioHandler(KindHandler):
    kind = MediaKind.AUDIO

    def index(self, job: Timed, inputs: TimedInputs, names: Collection[str] | None = None) -> TimedResult:
        info = probe_audio(job.entry.path)
        duration = info.duration
        if not duration or duration <= 0:
            raise MediaError("no audio samples")
        segments = soundtrack(job.entry.path, duration, inputs.clap, inputs.transcriber, inputs.text_encoder).segments
        job.fields.update(duration=duration, decoder="audio", **from_tags(info.tags).fields())
        return TimedResult(segments, [])
