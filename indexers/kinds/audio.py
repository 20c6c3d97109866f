"""Sound files: CLAP windows and timed speech over the file's duration (see soundtrack.py)."""
from __future__ import annotations

from collections.abc import Collection

from mmsearch.errors import MediaError
from mmsearch.kinds import MediaKind
from mmsearch.media.audio import probe_audio
from mmsearch.media.metadata import from_tags

from ..items import Timed
from .base import KindHandler, TimedInputs, TimedResult


class AudioHandler(KindHandler):
    kind = MediaKind.AUDIO

    def index(self, job: Timed, inputs: TimedInputs, names: Collection[str] | None = None) -> TimedResult:
        info = probe_audio(job.entry.path)
        duration = info.duration
        if not duration or duration <= 0:
            raise MediaError("no audio samples")
        segments = inputs.soundtrack(job.entry.path, duration, names)
        job.fields.update(duration=duration, decoder="audio", **from_tags(info.tags).fields())
        return TimedResult(segments, [])
