"""The vocabulary: media kinds, segment kinds, space names and job names.

Every string the catalog stores for a kind or a space is defined here once. The members are
``StrEnum`` values, so they *are* those strings: ``MediaKind.IMAGE == "image"`` and a value read back
from the database compares equal to its member. Code names the member; the database, JSON and the
CLI keep the plain strings (no schema change).

A name that means two things is told apart by its type: ``MediaKind.TEXT`` (a note or caption file)
and ``Space.TEXT`` (the sentence-embedding space that holds every text of the library: notes,
captions, subtitle cues and speech transcripts) are both ``"text"`` in storage, as they were in
schema version 1.
"""
from __future__ import annotations

from enum import StrEnum


class MediaKind(StrEnum):
    """What a file is (``media.kind``)."""

    IMAGE = "image"
    TEXT = "text"
    VIDEO = "video"
    AUDIO = "audio"
    SUBTITLE = "subtitle"  # a .srt/.vtt file; its cues are reported on the linked video


# Kinds a user can ask for (``--kind``): a subtitle cue is reported as a moment of its video.
QUERY_KINDS: tuple[MediaKind, ...] = (MediaKind.IMAGE, MediaKind.TEXT, MediaKind.VIDEO, MediaKind.AUDIO)
# Files with a timeline: their decode and encode run on the writer's thread, one file at a time.
TIMED_KINDS: frozenset[MediaKind] = frozenset({MediaKind.VIDEO, MediaKind.AUDIO})
# Files whose text describes another file beside them (a caption, a subtitle track).
LINKING_KINDS: frozenset[MediaKind] = frozenset({MediaKind.TEXT, MediaKind.SUBTITLE})


class SegmentKind(StrEnum):
    """What a segment (the unit a hit points at) is (``segment.kind``)."""

    IMAGE = "image"  # a whole image
    TEXT = "text"  # a passage of a text file
    SCENE = "scene"  # a video scene: start, end, keyframe
    FRAME = "frame"  # one sampled video frame, carrying its scene's start/end
    SUBTITLE = "subtitle"  # one subtitle cue
    AUDIO = "audio"  # a CLAP sound window
    SPEECH = "speech"  # a transcript passage
    OCR = "ocr"  # text read in a picture: an image, or a video scene over the span it is shown (detail: boxes)


class Modality(StrEnum):
    """What a stored item is to a query: its cosines live on their own scale (the "modality gap")."""

    VISUAL = "visual"
    TEXTUAL = "textual"
    SOUND = "sound"


MODALITY_OF: dict[str, Modality] = {
    SegmentKind.IMAGE: Modality.VISUAL,
    SegmentKind.SCENE: Modality.VISUAL,
    SegmentKind.FRAME: Modality.VISUAL,
    SegmentKind.TEXT: Modality.TEXTUAL,
    SegmentKind.SUBTITLE: Modality.TEXTUAL,
    SegmentKind.SPEECH: Modality.TEXTUAL,
    SegmentKind.OCR: Modality.TEXTUAL,
    SegmentKind.AUDIO: Modality.SOUND,
}
SEGMENT_KINDS_OF: dict[Modality, tuple[str, ...]] = {
    m: tuple(k for k, of in MODALITY_OF.items() if of == m) for m in Modality
}


class Space(StrEnum):
    """Embedding spaces (``space.name``): one encoder's output each."""

    CLIP = "clip"  # open_clip: images, frames, scenes, texts for image<->text
    AUDIO = "audio"  # CLAP: sound windows
    TEXT = "text"  # sentence model: every text the library holds


class Job(StrEnum):
    """Work done per file that produces text rather than vectors."""

    SPEECH = "speech"  # Whisper transcripts
    OCR = "ocr"  # text read in pictures: images, video scenes' keyframes
    METADATA = "metadata"  # when and where: EXIF, container tags (read while decoding; a backfill reads headers)


def parse_kinds(kinds: object) -> tuple[MediaKind, ...] | None:
    """The query kinds named by ``kinds`` (None or empty: every kind); raise ValueError on an unknown one."""
    if not kinds:
        return None
    names = [kinds] if isinstance(kinds, str) else list(kinds)  # type: ignore[call-overload]
    out = []
    for name in names:
        try:
            kind = MediaKind(name)
        except ValueError:
            kind = None
        if kind not in QUERY_KINDS:
            raise ValueError(f"unknown kind {name!r}; choose from {', '.join(QUERY_KINDS)}")
        out.append(kind)
    return tuple(out)


class JobState(StrEnum):
    """Where a file stands with one space or job (``job.state``)."""

    DONE = "done"
    PENDING = "pending"  # its model is unavailable or turned off: a later index run backfills it
    FAILED = "failed"  # tried and failed (``job.error`` says why); retried when the file changes


# The work each kind of file needs: embedding spaces and text-producing jobs, by name. A text file is
# embedded twice: in ``clip`` (image <-> text) and in the sentence space ``text`` (text search without
# CLIP weights); speech is transcribed (``speech``) and the transcript embedded in ``text``; text in
# pictures is read (``ocr``: images, and each video scene's keyframes) and embedded in ``text`` too; when
# and where a photo, video or recording was made is read from its metadata (``metadata``).
WORK_BY_KIND: dict[MediaKind, tuple[str, ...]] = {
    MediaKind.IMAGE: (Space.CLIP, Job.OCR, Job.METADATA),
    MediaKind.TEXT: (Space.CLIP, Space.TEXT),
    MediaKind.SUBTITLE: (Space.CLIP, Space.TEXT),
    MediaKind.VIDEO: (Space.CLIP, Space.AUDIO, Job.SPEECH, Job.OCR, Job.METADATA),
    MediaKind.AUDIO: (Space.AUDIO, Job.SPEECH, Job.METADATA),
}
