"""Videos: sampled frames cut into scenes (``scene`` + ``frame`` segments, see indexers/video.py), plus
the soundtrack's sound windows and speech when the file has one."""
from __future__ import annotations

from mmsearch.kinds import MediaKind
from mmsearch.media.audio import has_audio_stream
from mmsearch.media.video import VIDEO_EXTENSIONS

from ..items import Timed
from ..video import embed_frames, scene_segments
from .base import KindHandler, TimedInputs, TimedResult


class VideoHandler(KindHandler):
    kind = MediaKind.VIDEO
    extensions = VIDEO_EXTENSIONS
    timed = True

    def index(self, job: Timed, inputs: TimedInputs) -> TimedResult:
        path = job.entry.path
        video = embed_frames(path, inputs.encoder, inputs.settings.video_interval, inputs.batch_size)
        segments = scene_segments(path, video)
        notes = [f"truncated or damaged: indexed the first {video.times[-1]:.1f} s"] if video.truncated else []
        if has_audio_stream(path):
            try:
                segments += inputs.soundtrack(path, video.duration)
            except Exception as exc:  # noqa: BLE001 - the pictures are still worth indexing
                notes.append(f"soundtrack not indexed: {exc}")
        job.fields.update(duration=video.duration, width=video.width, height=video.height, decoder=video.backend,
                          status="partial" if notes else "ok")
        return TimedResult(segments, notes)
