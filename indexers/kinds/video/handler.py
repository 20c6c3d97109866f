"""Videos: sampled frames cut into scenes (``scene`` + ``frame`` segments, see frames.py), plus the
soundtrack's sound windows and speech when the file has one. The text shown in each scene is read by the
run's deferred pass (indexers/deferred.py) through :meth:`VideoHandler.text_source` and
:meth:`VideoHandler.read_text` (text.py), once the scenes are in the catalog; with the run's reader at
hand (``TimedInputs.text_reader``), the frames kept for it are run through its detector on the decode
thread's idle time (ahead.py)."""
from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from mmsearch.catalog import NewSegment
from mmsearch.config import Settings
from mmsearch.kinds import Job, MediaKind, Space
from mmsearch.media.audio import has_audio_stream
from mmsearch.media.metadata import from_tags
from mmsearch.media.video import frame_at, probe_video
from mmsearch.models import is_off

from ...items import Timed
from ..base import KindHandler, TimedInputs, TimedResult
from ..soundtrack import soundtrack
from .frames import embed_frames, scene_segments
from .text import KeptFrames, hand_over, keep_frames, release_all, sampled_frames, scene_text_segments


class VideoHandler(KindHandler):
    kind = MediaKind.VIDEO

    def index(self, job: Timed, inputs: TimedInputs, names: Collection[str] | None = None) -> TimedResult:
        path = job.entry.path
        segments: list[NewSegment] = []
        notes: list[str] = []
        if inputs.encoder is not None and (names is None or Space.CLIP in names):
            interval = inputs.settings.video_interval
            kept = None if is_off(inputs.settings.ocr_model) else keep_frames()  # for the run's OCR pass
            ahead = kept.detect_ahead(inputs.text_reader) if kept is not None and inputs.text_reader else None
            video = embed_frames(path, inputs.encoder, interval, inputs.batch_size, shot_model=inputs.shot_model,
                                 keep=kept.keep if kept is not None else None, idle=ahead)
            segments = scene_segments(path, video, shot_model=inputs.shot_model, shot_warning=inputs.shot_warning)
            if kept is not None:
                hand_over(path, interval, kept)
            if video.truncated:
                notes.append(f"truncated or damaged: indexed the first {video.times[-1]:.1f} s")
            duration, width, height, backend = video.duration, video.width, video.height, video.backend
            tags = video.tags
        else:  # the pictures wait for a clip model: catalogue the file and do its soundtrack
            info = probe_video(path)
            duration, width, height, backend = float(info.duration or 0.0), info.width, info.height, "probe"
            tags = info.tags
        sound = names is None or bool({Space.AUDIO, Job.SPEECH} & set(names))
        if sound and has_audio_stream(path):
            try:
                segments += soundtrack(path, duration, inputs.clap, inputs.transcriber, inputs.text_encoder).segments
            except Exception as exc:  # noqa: BLE001 - the pictures are still worth indexing
                notes.append(f"soundtrack not indexed: {exc}")
        job.fields.update(duration=duration, width=width, height=height, decoder=backend,
                          status="partial" if notes else "ok", **from_tags(tags).fields())
        return TimedResult(segments, notes)

    def text_source(self, path: str, settings: Settings) -> KeptFrames:
        return sampled_frames(path, settings.video_interval)

    def read_text(self, reader: Any, source: Any, path: str,
                  scenes: Callable[[], list[NewSegment]]) -> list[NewSegment] | None:
        found = scenes()
        if not found:  # no scenes yet (the clip work is pending): the text waits for them
            return None
        return scene_text_segments(reader, source, found, lambda t: frame_at(path, t))

    def release_kept(self) -> None:
        release_all()
