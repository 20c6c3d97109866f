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

import os
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import import_module
from typing import cast


class MediaKind(StrEnum):
    """What a file is (``media.kind``). What the code knows about each kind is its row of :data:`KINDS`."""

    IMAGE = "image"
    TEXT = "text"
    VIDEO = "video"
    AUDIO = "audio"
    SUBTITLE = "subtitle"  # a .srt/.vtt file; its cues are reported on the linked video


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


# Segments whose text a recogniser read from pixels: it may run words together, so their run-together tokens
# are also indexed, matched and embedded read apart (mmsearch/analysis/run_together.py)
READ_KINDS: frozenset[str] = frozenset({SegmentKind.OCR})


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


@dataclass(frozen=True)
class MediaConstant:
    """A constant of a decoding module (``mmsearch.media.*``), imported when first read: the video module
    loads PyAV (~40 ms), which a search never needs, and every command imports this vocabulary. The arrow
    points one way: ``kinds -> media``; no media module imports this one's table."""

    module: str
    name: str

    def value(self) -> object:
        return getattr(import_module(self.module), self.name)


@dataclass(frozen=True)
class KindFacts:
    """Everything the code knows about one kind of file: one row of :data:`KINDS`.

    ``extensions``: the names that make a file this kind (the decoding module's constant, lower-case with the
    dot). ``work``: the embedding spaces and text-producing jobs a file of this kind needs. ``timed``: it has
    a timeline (decoded and encoded on the writer's thread, one file at a time). ``describes``: the kinds
    whose files a file of this kind can caption (linked by name). ``queryable``: a user can ask for it
    (``--kind``; a subtitle cue is reported as a moment of its video). ``plain_text``: the file itself is
    text (the page serves it as UTF-8 text, never by its suffix's type)."""

    extensions_in: MediaConstant
    work: tuple[str, ...]
    timed: bool = False
    describes: frozenset[MediaKind] = frozenset()
    queryable: bool = True
    plain_text: bool = False

    @property
    def extensions(self) -> frozenset[str]:
        return cast(frozenset[str], self.extensions_in.value())


# The one kind table: the scan (extension -> kind), the handlers (indexers/kinds/), the writer, the catalog's
# job marks and the queries (a file as a query) all read it. A text file is embedded twice: in ``clip``
# (image <-> text) and in the sentence space ``text`` (text search without CLIP weights); speech is
# transcribed (``speech``) and the transcript embedded in ``text``; text in pictures is read (``ocr``:
# images, and each video scene's keyframes) and embedded in ``text`` too; when and where a photo, video or
# recording was made is read from its metadata (``metadata``).
KINDS: dict[MediaKind, KindFacts] = {
    MediaKind.IMAGE: KindFacts(MediaConstant("mmsearch.media.images", "IMAGE_EXTENSIONS"),
                               work=(Space.CLIP, Job.OCR, Job.METADATA)),
    MediaKind.TEXT: KindFacts(MediaConstant("mmsearch.media.text", "TEXT_EXTENSIONS"),
                              work=(Space.CLIP, Space.TEXT), describes=frozenset({MediaKind.IMAGE, MediaKind.VIDEO}),
                              plain_text=True),
    MediaKind.VIDEO: KindFacts(MediaConstant("mmsearch.media.video", "VIDEO_EXTENSIONS"),
                               work=(Space.CLIP, Space.AUDIO, Job.SPEECH, Job.OCR, Job.METADATA), timed=True),
    MediaKind.AUDIO: KindFacts(MediaConstant("mmsearch.media.audio", "AUDIO_EXTENSIONS"),
                               work=(Space.AUDIO, Job.SPEECH, Job.METADATA), timed=True),
    MediaKind.SUBTITLE: KindFacts(MediaConstant("mmsearch.media.subtitles", "SUBTITLE_EXTENSIONS"),
                                  work=(Space.CLIP, Space.TEXT), describes=frozenset({MediaKind.VIDEO}),
                                  queryable=False, plain_text=True),
}

# Views of the table, by the names the code has always used.
QUERY_KINDS: tuple[MediaKind, ...] = tuple(k for k, f in KINDS.items() if f.queryable)
TIMED_KINDS: frozenset[MediaKind] = frozenset(k for k, f in KINDS.items() if f.timed)
LINKING_KINDS: frozenset[MediaKind] = frozenset(k for k, f in KINDS.items() if f.describes)
WORK_BY_KIND: dict[MediaKind, tuple[str, ...]] = {k: f.work for k, f in KINDS.items()}
PLAIN_TEXT_KINDS: frozenset[MediaKind] = frozenset(k for k, f in KINDS.items() if f.plain_text)


@cache
def extension_table() -> dict[str, MediaKind]:
    """Every extension (lower-case, with the dot) -> its kind; RuntimeError when two kinds claim one."""
    table: dict[str, MediaKind] = {}
    for kind, facts in KINDS.items():
        for ext in facts.extensions:
            if ext in table:
                raise RuntimeError(f"extension {ext} claimed by both {table[ext]} and {kind}")
            table[ext] = kind
    return table


def kind_of_path(path: str) -> MediaKind | None:
    """The kind of a file by its extension (case-insensitive), or None: not a kind mmsearch indexes."""
    return extension_table().get(os.path.splitext(path)[1].lower())
