"""Query by example: a file (an image, a recording, a video clip) turned into query vectors per space.

One builder per kind of file (:data:`BUILDERS`, by :class:`~mmsearch.kinds.MediaKind`):

- **image**: its clip-space vector: pictures that look alike, texts that describe it.
- **recording** (wav, mp3, flac, ...): CLAP's audio tower embeds it in the ``audio`` space (sounds that
  sound alike), and Whisper transcribes it; each passage of the transcript is a text query in the ``text``
  space whose hits must be speech passages (moments where the same is said). Either part runs without the
  other: a missing model leaves one note naming the part and why (:attr:`Example.notes`).
- **video clip**: its frames are sampled like an indexed video's, cut into scenes by the embeddings rule
  (:func:`mmsearch.analysis.scenes.find_cuts`), and each scene's mean vector is a query in the ``clip`` space.

A file already in the library is queried with its stored vectors (no model needed) and left out of the hits.
Every step takes the query's :class:`~mmsearch.query.spaces.QuerySpaces` (the spaces read once per query).
Each query vector is calibrated on its own background and searched on its own; a library moment keeps its
best calibrated score over them (the *max*): a clip of two scenes should find each of them where it
occurs, and the *mean* over a clip's scenes ranks a moment by how much it resembles all of them at once,
which no single scene of a multi-scene clip does. Measured on synthetic scenes (300 videos of 4 scenes sharing
a look, a two-scene clip with noise; 200 trials per level): the top hit is one of the clip's moments for
max / mean 1.00 / 1.00, 0.98 / 0.91, 0.67 / 0.57, 0.33 / 0.33 as the noise grows; both scenes in the top 2:
1.00 / 0.97, 0.72 / 0.59, 0.23 / 0.21.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmsearch.catalog.records import MediaRow as Media
from mmsearch.errors import MmsearchError
from mmsearch.hits import Hit
from mmsearch.kinds import MediaKind, SegmentKind, Space, kind_of_path
from mmsearch.query.candidates import space_candidates
from mmsearch.query.mix_rules import evenly, unit_mean
from mmsearch.query.ranking import Candidate, Filters, group
from mmsearch.query.spaces import QuerySpaces

log = logging.getLogger(__name__)

MAX_SECONDS = 120.0  # of a recording or clip decoded for a query
MAX_VECTORS = 16  # query vectors per space (a clip's scenes, a stored recording's windows or passages)
SPEECH_RATE = 16000  # Whisper's input rate


@dataclass
class Example:
    """What a file asks: query vectors per space, the segment kinds a space's hits must be (a transcript
    finds speech, not notes), the file itself when it is in the library, and the parts that could not run."""

    vectors: dict[str, list[np.ndarray]] = field(default_factory=dict)
    segment_kinds: dict[str, frozenset[str]] = field(default_factory=dict)
    media_id: int | None = None
    notes: list[str] = field(default_factory=list)

    def add(self, space: str, vectors: Any, kinds: frozenset[str] | None = None) -> None:
        vs = [np.asarray(v, dtype=np.float32) for v in vectors]
        if vs:
            self.vectors.setdefault(space, []).extend(vs)
            if kinds:
                self.segment_kinds[space] = kinds

    def means(self) -> dict[str, np.ndarray]:
        """One vector per space standing for the whole file (a ``--like`` part)."""
        out = {}
        for space, vectors in self.vectors.items():
            v = unit_mean(np.stack(vectors))
            if v is not None:
                out[space] = v
        return out


@dataclass(frozen=True)
class OfSegmentKinds(Filters):
    """Filters that also keep only segments of some kinds (a transcript's hits: speech passages)."""

    segment_kinds: frozenset[str] = frozenset()

    @classmethod
    def narrowing(cls, filters: Filters, kinds: frozenset[str]) -> OfSegmentKinds:
        base = {f.name: getattr(filters, f.name) for f in dataclasses.fields(filters) if f.name != "segment_kinds"}
        return cls(**base, segment_kinds=kinds)

    def matcher(self) -> Callable[[Any], bool]:
        keep, kinds = super().matcher(), self.segment_kinds
        return lambda row: row.kind in kinds and keep(row)


# -- which kind a file is ----------------------------------------------------------------------------
def kind_of(path: Path, media: Media | None) -> MediaKind:
    """The kind of a query file: the library's record of it, else its extension (the kind table); MmsearchError
    when it is not a kind a file can query by (:data:`BUILDERS`)."""
    if media is not None and media.kind in BUILDERS:
        return MediaKind(media.kind)
    kind = kind_of_path(path.name)
    if kind is None or kind not in BUILDERS:
        raise MmsearchError(f"cannot search by {path.name}: not an image, recording or video file "
                            f"({', '.join(sorted(BUILDERS))})")
    return kind


def example_query(spaces: QuerySpaces, example: Any) -> Example:
    """The query vectors of a file path or a PIL image (see the module docstring); MmsearchError when none
    can be made (the notes say why)."""
    if not isinstance(example, (str, Path)):
        return _image(spaces, example, None)
    path = Path(example).expanduser().absolute()
    if not path.is_file():
        raise MmsearchError(f"no such file: {example}")
    media = spaces.ctx.catalog.media_by_path(str(path))
    built = BUILDERS[kind_of(path, media)](spaces, path, media)
    if not built.vectors:
        raise MmsearchError("; ".join(built.notes) or f"nothing in {path.name} to search with")
    for note in built.notes:
        log.warning("%s", note)
    return built


def search_example(spaces: QuerySpaces, example: Example, k: int, filters: Filters) -> list[Hit]:
    """Hits for every query vector of ``example``, each calibrated on its own background, merged by score
    (a moment keeps its best), grouped into moments; the file itself left out."""
    if example.media_id is not None:
        filters = dataclasses.replace(filters, exclude=filters.exclude | {example.media_id})
    found: list[Candidate] = []
    for name, vectors in example.vectors.items():
        space = spaces.rows.get(name)
        if space is None:
            continue
        kinds = example.segment_kinds.get(name)
        narrowed = OfSegmentKinds.narrowing(filters, kinds) if kinds else filters
        for vector in vectors:
            found += space_candidates(spaces.ctx, space, vector, k, narrowed, spaces)
    return group(sorted(found, key=lambda c: -c.score))


# -- builders ------------------------------------------------------------------------------------------
def _stored(spaces: QuerySpaces, media: Media, kinds: dict[str, tuple[SegmentKind, ...]]) -> Example:
    """The stored vectors of an indexed file, per space, of the segment kinds named for that space."""
    out = Example(media_id=media.id)
    names = {sp.id: sp.name for sp in spaces.rows.values()}
    rows = [r for r in spaces.ctx.catalog.segments_of_media(media.id) if r.space_id in names]
    blobs = spaces.ctx.catalog.vector_blobs([r.id for r in rows])
    for name, wanted in kinds.items():
        chosen = [r for r in rows if r.space_id is not None and names[r.space_id] == name and r.kind in wanted
                  and r.id in blobs]
        vectors = [np.frombuffer(bytes(blobs[r.id]), dtype=np.float16).astype(np.float32) for r in chosen]
        only = frozenset(wanted) if name == Space.TEXT else None
        out.add(name, evenly(vectors, MAX_VECTORS), only)
    return out


def image_query(spaces: QuerySpaces, image: Any) -> tuple[np.ndarray, int | None]:
    """The clip-space vector of an image (stored, when the file is in the library) and its media id."""
    ctx = spaces.ctx
    if isinstance(image, (str, Path)):
        p = Path(image).expanduser().absolute()
        media = ctx.catalog.media_by_path(str(p))
        if media is not None:
            stored = ctx.catalog.vectors_of_media(media.id).get(Space.CLIP)
            if stored is not None and len(stored):
                return stored[0], media.id
        from mmsearch.media.images import load_image

        pil, _, _ = load_image(p)
    else:
        pil = image
    row = spaces.rows.get(Space.CLIP)
    if row is not None:
        ctx.models.follow(row)
    enc = ctx.models.encoder(Space.CLIP)
    return enc.encode_prepared([enc.prepare_image(pil)])[0], None


def _image(spaces: QuerySpaces, image: Any, media: Media | None) -> Example:
    vector, media_id = image_query(spaces, image)
    out = Example(media_id=media_id)
    out.add(Space.CLIP, [vector])
    return out


def _recording(spaces: QuerySpaces, path: Path, media: Media | None) -> Example:
    speech = frozenset({SegmentKind.SPEECH})
    if media is not None:
        return _stored(spaces, media, {Space.AUDIO: (SegmentKind.AUDIO,), Space.TEXT: (SegmentKind.SPEECH,)})
    ctx, out = spaces.ctx, Example()
    if Space.AUDIO in spaces.rows:
        clap = ctx.models.optional(Space.AUDIO)
        if clap is None or "audio" not in clap.modalities:
            why = ctx.models.unavailable.get(Space.AUDIO, "its model takes no sound")
            out.notes.append(f"sounds alike: not searched, the audio model cannot run ({why})")
        else:
            from mmsearch.media.audio import load_audio

            sounds: Any = clap  # the audio space's encoder: ClapEncoder (sample_rate, encode_audio)
            wave = load_audio(path, sounds.sample_rate, max_seconds=MAX_SECONDS)
            out.add(Space.AUDIO, sounds.encode_audio([wave]))
    if Space.TEXT in spaces.rows:
        transcriber = ctx.models.transcriber()
        if transcriber is None:
            why = ctx.models.unavailable.get("speech", "turned off")
            out.notes.append(f"same words said: not searched, speech cannot be transcribed ({why})")
        else:
            from mmsearch.media.audio import load_audio

            said = transcriber.transcribe(load_audio(path, SPEECH_RATE, max_seconds=MAX_SECONDS))
            vectors = [ctx.models.text_vector(Space.TEXT, p.text.strip()) for p in said if p.text.strip()]
            if vectors and vectors[0] is None:
                why = ctx.models.unavailable.get(Space.TEXT, "no text model")
                out.notes.append(f"same words said: not searched, the text model cannot run ({why})")
            else:
                out.add(Space.TEXT, evenly([v for v in vectors if v is not None], MAX_VECTORS), speech)
    if not out.vectors and not out.notes:
        out.notes.append(f"{path.name}: this library holds no sounds or speech to compare it with")
    return out


def _clip(spaces: QuerySpaces, path: Path, media: Media | None) -> Example:
    if media is not None:
        return _stored(spaces, media, {Space.CLIP: (SegmentKind.SCENE,)})
    from mmsearch.analysis.scenes import find_cuts
    from mmsearch.media.video import FrameSampler

    encoder = spaces.ctx.models.encoder(Space.CLIP)
    interval = float(spaces.ctx.settings.video_interval)
    prepared = []
    with FrameSampler(path, interval=interval, max_side=448) as sampler:
        for frame in sampler:
            if frame.time > MAX_SECONDS:
                break
            prepared.append(encoder.prepare_image(frame.image))
    if not prepared:
        raise MmsearchError(f"{path.name}: no decodable video frames")
    frames = np.concatenate([encoder.encode_prepared(prepared[i : i + 32]) for i in range(0, len(prepared), 32)])
    bounds = [0, *find_cuts(frames), len(frames)]
    scenes = [unit_mean(frames[a:b]) for a, b in zip(bounds, bounds[1:])]
    out = Example()
    out.add(Space.CLIP, evenly([s for s in scenes if s is not None], MAX_VECTORS))
    return out


BUILDERS: dict[MediaKind, Callable[[QuerySpaces, Path, Media | None], Example]] = {
    MediaKind.IMAGE: _image,
    MediaKind.AUDIO: _recording,
    MediaKind.VIDEO: _clip,
}
