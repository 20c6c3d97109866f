"""Videos: sampled frames cut into scenes (``scene`` + ``frame`` segments, see indexers/video.py), the text
shown in each scene (``ocr`` segments on their spans, see indexers/ocr.py), plus the soundtrack's sound
windows and speech when the file has one."""
from __future__ import annotations

from collections.abc import Collection

from mmsearch.catalog import NewSegment
from mmsearch.kinds import Job, MediaKind, SegmentKind, Space
from mmsearch.media.audio import has_audio_stream
from mmsearch.media.metadata import from_tags
from mmsearch.media.video import frame_at, probe_video

from ..items import Failed, Timed
from ..ocr import KeptFrames, scene_text_segments
from ..video import embed_frames, scene_segments
from .base import KindHandler, TimedInputs, TimedResult


class VideoHandler(KindHandler):
    kind = MediaKind.VIDEO

    def index(self, job: Timed, inputs: TimedInputs, names: Collection[str] | None = None) -> TimedResult:
        path = job.entry.path
        segments: list[NewSegment] = []
        notes: list[str] = []
        errors: dict[str, str] = {}
        pictures = names is None or Space.CLIP in names
        reader = inputs.ocr() if inputs.ocr is not None and (names is None or Job.OCR in names) else None
        if inputs.encoder is not None and (pictures or reader is not None):
            kept = KeptFrames() if reader is not None else None
            video = embed_frames(path, inputs.encoder, inputs.settings.video_interval, inputs.batch_size,
                                 keep=kept.keep if kept is not None else None)
            shot_model, shot_warning = inputs.scene_model() if inputs.scene_model is not None else (None, None)
            segments = scene_segments(path, video, shot_model=shot_model, shot_warning=shot_warning)
            if reader is not None and kept is not None:
                scenes = [seg for seg in segments if seg.kind == SegmentKind.SCENE]
                try:
                    read = scene_text_segments(reader, kept, scenes, lambda t: frame_at(path, t))
                    segments += inputs.embed_texts(read) if inputs.embed_texts is not None else read
                except Exception as exc:  # noqa: BLE001 - the pictures are still worth indexing
                    errors[Job.OCR] = Failed.of(job.entry, "ocr", exc).message
            if not pictures:  # a backfill of the text only: the scenes are in the library already
                segments = [seg for seg in segments if seg.kind == SegmentKind.OCR]
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
                segments += inputs.soundtrack(path, duration, names)
            except Exception as exc:  # noqa: BLE001 - the pictures are still worth indexing
                notes.append(f"soundtrack not indexed: {exc}")
        job.fields.update(duration=duration, width=width, height=height, decoder=backend,
                          status="partial" if notes else "ok", **from_tags(tags).fields())
        return TimedResult(segments, notes, errors)
