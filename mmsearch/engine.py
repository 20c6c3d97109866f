"""Engine: the one object a caller needs. Opens a library folder; index, search, similar, stats.

    from mmsearch import Engine
    with Engine("~/photos-index") as engine:
        engine.index(["~/Pictures"])
        for hit in engine.search("a cat on a sofa", k=5):
            print(hit.path, hit.score)
"""
from __future__ import annotations

import collections
import dataclasses
import fnmatch
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .catalog import SegmentRow
from .config import Settings, load_settings
from .encoders import OFF, SPACE_DEFAULTS, SPACE_SETTINGS, Encoder, load_encoder, resolve_device
from .errors import MmsearchError, ModelMismatchError, ModelUnavailableError
from .hits import Hit
from .library import Library
from .threads import single_threaded

KINDS = ("image", "text", "video", "audio")
QUERY_CACHE = 256  # text query vectors remembered per Engine
_GLOB_CHARS = set("*?[")


class Engine:
    """A library of indexed media and the models that embed it.

    Args:
        library: the library folder (default: setting ``library``, ``MMSEARCH_LIBRARY``).
        model: open_clip model spec ``ARCH:PRETRAINED`` for images, video frames and texts; default the
            model the library was built with, else ``ViT-B-32:laion2b_s34b_b79k``.
        settings: a full :class:`Settings`; keyword overrides apply on top of it.
        create: create the library if it does not exist.
    """

    def __init__(
        self,
        library: str | Path | None = None,
        *,
        model: str | None = None,
        settings: Settings | None = None,
        create: bool = True,
        **overrides: Any,
    ) -> None:
        if settings is None:
            settings = load_settings(library=library, model=model, **overrides)
        else:
            changes = {k: v for k, v in dict(library=library, model=model, **overrides).items() if v is not None}
            if "library" in changes:
                changes["library"] = Path(changes["library"]).expanduser()
            settings = dataclasses.replace(settings, **changes)
        self.settings = settings
        self.library = Library(settings, create=create)
        self.catalog = self.library.catalog
        self._encoders: dict[str, Encoder] = {}
        self._encoder_lock = threading.Lock()
        self._samples: dict[str, tuple[int, np.ndarray]] = {}  # per space: background for calibration
        # Recent text queries' vectors by (space, model id, text): the web page re-runs a query for
        # every filter or page change, and each encode is ~50 ms of a ~55 ms query on a CPU.
        self._query_vectors: collections.OrderedDict[tuple[str, str, str], np.ndarray] = collections.OrderedDict()
        self._query_lock = threading.Lock()
        self.unavailable: dict[str, str] = {}  # optional space -> why its model cannot be used

    # -- lifecycle ------------------------------------------------------------------------------
    def close(self) -> None:
        self.library.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- models ---------------------------------------------------------------------------------
    def model_spec(self, space: str = "clip") -> str:
        """The spec a space is (or will be) embedded with: explicit setting, else the library's, else
        the default. ``off`` disables an optional space (``audio``, ``text``, speech)."""
        if space not in SPACE_SETTINGS:
            raise MmsearchError(f"unknown space {space!r}")
        explicit = getattr(self.settings, SPACE_SETTINGS[space])
        if explicit:
            return explicit
        recorded = self.catalog.space(space)
        return recorded.spec if recorded is not None and recorded.spec else SPACE_DEFAULTS[space]

    def encoder(self, space: str = "clip") -> Encoder:
        """Load (once) the encoder of a space, refusing one that differs from the library's model."""
        with self._encoder_lock:
            if space in self._encoders:
                return self._encoders[space]
            spec = self.model_spec(space)
            if spec.lower() in OFF:
                raise ModelUnavailableError(f"the {space} space is turned off ({SPACE_SETTINGS[space]} = {spec!r})")
            enc = load_encoder(space, spec, self.settings.device)
            recorded = self.catalog.space(space)
            if recorded is not None and recorded.model_id != enc.model_id:
                setting = SPACE_SETTINGS[space]
                raise ModelMismatchError(
                    f"library {self.library.root} embeds space {space!r} with model {recorded.model_id!r} "
                    f"(spec {recorded.spec!r}), not {enc.model_id!r}; open it with --{setting.replace('_', '-')} "
                    f"{recorded.spec} (MMSEARCH_{setting.upper()}), or use a new library folder to embed with the "
                    f"other model"
                )
            self._encoders[space] = enc
            return enc

    def optional_encoder(self, space: str) -> Encoder | None:
        """The encoder of an optional space, or None when its model cannot be had (the reason is kept
        in :attr:`unavailable` and shown by ``stats``); a model mismatch still raises."""
        if space in self.unavailable:
            return None
        try:
            return self.encoder(space)
        except ModelUnavailableError as exc:
            self.unavailable[space] = str(exc)
            return None

    def transcriber(self) -> Any | None:
        """The speech-to-text model (setting ``speech_model``, default the bundled Whisper tiny.en),
        or None when it is turned off or cannot be loaded."""
        if "speech" in self.unavailable:
            return None
        with self._encoder_lock:
            if "speech" not in self._encoders:
                spec = self.settings.speech_model or "bundled"
                if spec.lower() in OFF:
                    self.unavailable["speech"] = f"speech transcription is turned off (speech_model = {spec!r})"
                    return None
                try:
                    from .encoders.speech import Transcriber

                    self._encoders["speech"] = Transcriber(spec, device=resolve_device(self.settings.device))
                except (ModelUnavailableError, ImportError) as exc:
                    self.unavailable["speech"] = str(exc)
                    return None
            return self._encoders["speech"]

    def use_encoder(self, encoder: Encoder) -> None:
        """Use an already-built encoder for its space (same model check as :meth:`encoder`)."""
        recorded = self.catalog.space(encoder.space)
        if recorded is not None and recorded.model_id != encoder.model_id:
            raise ModelMismatchError(
                f"library {self.library.root} embeds space {encoder.space!r} with {recorded.model_id!r}, "
                f"not {encoder.model_id!r}"
            )
        self._encoders[encoder.space] = encoder

    # -- ingest ---------------------------------------------------------------------------------
    def index(self, paths: Iterable[str | Path], *, progress: Any = None) -> "IndexReport":  # noqa: F821
        """Add, update, move and remove the media under ``paths``; returns an IndexReport."""
        from .indexers import run_index  # ingestion pipelines live in mmsearch.indexers

        return run_index(self, [Path(p) for p in paths], progress=progress)

    def remove(self, paths: Iterable[str | Path]) -> int:
        """Forget files (or everything under folders) without touching them on disk."""
        ids: list[int] = []
        for p in paths:
            full = str(Path(p).expanduser().absolute())
            ids += [m.id for m in self.catalog.all_media(prefix=full) if m.path == full or m.path.startswith(full.rstrip("/") + "/")]
        self.library.acquire_writer()
        try:
            removed = self.catalog.remove_media(ids)
            from .catalog import WriteResult

            self.library.apply(WriteResult([], {}, removed))
            self.library.save(force=True)
        finally:
            self.library.release_writer()
        return len(ids)

    def reindex(self) -> dict[str, int]:
        """Rebuild every space's FAISS index from the stored vectors (no decoding, no embedding)."""
        self.library.acquire_writer()
        try:
            counts = {s.name: self.library.rebuild(s).ntotal for s in self.catalog.spaces()}
            self.library.save(force=True)
            return counts
        finally:
            self.library.release_writer()

    def check(self, repair: bool = False) -> "Report":  # noqa: F821
        """Verify the catalog against the indexes and stored vectors; ``repair`` fixes it from the catalog."""
        from . import integrity

        return integrity.repair(self) if repair else integrity.check(self)

    # -- queries --------------------------------------------------------------------------------
    def search(
        self,
        query: str | Path | Any,
        k: int = 10,
        kinds: Sequence[str] | None = None,
        path: str | None = None,
    ) -> list[Hit]:
        """Rank the library's segments against a query.

        Args:
            query: a text (``str``), an image file (``pathlib.Path``) or a PIL image.
            k: number of hits.
            kinds: restrict to media kinds among ``image``, ``text``, ``video``, ``audio``.
            path: keep only files whose path matches this glob (a plain string matches as ``*string*``).
        """
        kinds = _check_kinds(kinds)
        if isinstance(query, str):
            if not query.strip():
                raise MmsearchError("empty query")
            with single_threaded():  # every space's text encoder; search_vectors takes care of itself
                queries = self._text_queries(query)
            return self.search_vectors(queries, k, kinds, path)
        return self.similar(query, k=k, kinds=kinds, path=path)

    def similar(
        self, image: str | Path | Any, k: int = 10, kinds: Sequence[str] | None = None, path: str | None = None
    ) -> list[Hit]:
        """Images (and video scenes) that look like ``image``, and texts that describe it.

        An image already in the library is queried with its stored vector and left out of the hits.
        """
        kinds = _check_kinds(kinds)
        with single_threaded():
            vector, exclude = self._image_query(image)
        return self.search_vectors({"clip": vector}, k, kinds, path, exclude={exclude} if exclude else set())

    def _text_queries(self, text: str) -> dict[str, np.ndarray]:
        """The query encoded once per space of the library that takes text (recent ones remembered)."""
        out = {}
        for space in self.catalog.spaces():
            enc = self.encoder(space.name) if space.name == "clip" else self.optional_encoder(space.name)
            if enc is not None and "text" in enc.modalities:
                out[space.name] = self._text_vector(space.name, enc, text)
        return out

    def _text_vector(self, space_name: str, enc: Encoder, text: str) -> np.ndarray:
        """``text`` encoded by ``enc``, from the cache of recent queries when it is there."""
        key = (space_name, enc.model_id, text)
        with self._query_lock:
            vector = self._query_vectors.get(key)
            if vector is not None:
                self._query_vectors.move_to_end(key)
                return vector
        vector = enc.encode_text([text])[0]
        vector.setflags(write=False)  # shared by later queries
        with self._query_lock:
            self._query_vectors[key] = vector
            while len(self._query_vectors) > QUERY_CACHE:
                self._query_vectors.popitem(last=False)
        return vector

    def _image_query(self, image: str | Path | Any) -> tuple[np.ndarray, int | None]:
        if isinstance(image, (str, Path)):
            p = Path(image).expanduser().absolute()
            media = self.catalog.media_by_path(str(p))
            if media is not None:
                stored = self.catalog.vectors_of_media(media.id).get("clip")
                if stored is not None and len(stored):
                    return stored[0], media.id
            from .media.images import load_image

            pil, _, _ = load_image(p)
        else:
            pil = image
        enc = self.encoder("clip")
        return enc.encode_prepared([enc.prepare_image(pil)])[0], None

    def search_vectors(
        self,
        queries: dict[str, np.ndarray],
        k: int,
        kinds: Sequence[str] | None,
        path: str | None,
        exclude: set[int] = frozenset(),  # type: ignore[assignment]
    ) -> list[Hit]:
        """Rank the library against ready-made query vectors, one per space name (e.g. a hit's stored
        vectors for "more like this"): search every space, merge on calibrated scores, group moments,
        keep the top k. ``exclude`` holds media ids to leave out."""
        candidates: list[tuple[float, float, SegmentRow, str]] = []
        with single_threaded():
            for space_name, vector in queries.items():
                space = self.catalog.space(space_name)
                if space is not None:
                    candidates += self._space_candidates(space, vector, k, kinds, path, exclude)
        candidates.sort(key=lambda c: -c[0])
        return _group(candidates)[:k]

    def _space_candidates(self, space, vector, k, kinds, path, exclude) -> list[tuple[float, float, SegmentRow, str]]:
        """(calibrated score, cosine, row, space) for enough of a space's best segments to give k hits."""
        index = self.library.index(space)
        total = index.ntotal
        if total == 0:
            return []
        mean, std = self._background(space, index, vector)
        matcher = _path_matcher(path)
        fetch = min(total, max(4 * k, k + 32))
        while True:
            scores, ids = index.search(vector[None, :], fetch)
            rows = self.catalog.segments([i for i in ids[0] if i >= 0])
            candidates = []
            for s, i in zip(scores[0], ids[0]):
                row = rows.get(int(i))
                if row is None:
                    continue
                row = _as_hit_row(row)
                if (kinds is None or row.media_kind in kinds) and row.media_id not in exclude and matcher(row.path):
                    candidates.append(((float(s) - mean) / std, float(s), row, space.name))
            if len(_group(candidates)) >= k or fetch >= total:
                return candidates
            fetch = min(total, fetch * 4)

    def _background(self, space, index, vector: np.ndarray) -> tuple[float, float]:
        """Mean and spread of this query's cosine against a random sample of the space.

        Raw cosines are not comparable across spaces (each model has its own scale), so a hit's
        score is how many standard deviations it stands above a typical item of its own space
        for this very query. Within one space this keeps the cosine order exactly.
        """
        cached = self._samples.get(space.name)
        if cached is None or not (0.8 * cached[0] <= index.ntotal <= 1.25 * cached[0]):
            cached = (index.ntotal, self.catalog.sample_vectors(space.id, space.dim, 2048))
            self._samples[space.name] = cached
        sample = cached[1]
        if len(sample) < 2:
            return 0.0, 1.0
        sims = sample @ vector
        return float(sims.mean()), max(float(sims.std()), 0.02)

    # -- moments ---------------------------------------------------------------------------------
    def scenes(self, video: str | Path) -> list[dict]:
        """A video's scenes in time order: start, end, keyframe time (seconds)."""
        media = self.catalog.media_by_path(str(Path(video).expanduser().absolute()))
        if media is None:
            raise MmsearchError(f"not in the library: {video}")
        if media.kind != "video":
            raise MmsearchError(f"not a video: {video}")
        return [
            {"start": s.start, "end": s.end, "keyframe": s.keyframe, "segment_id": s.id}
            for s in self.catalog.segments_of_media(media.id, kinds=["scene"])
        ]

    def transcript(self, path: str | Path) -> list[dict]:
        """The timed speech transcript of an audio or video file (empty when nothing was said)."""
        media = self.catalog.media_by_path(str(Path(path).expanduser().absolute()))
        if media is None:
            raise MmsearchError(f"not in the library: {path}")
        return [{"start": s.start, "end": s.end, "text": s.text}
                for s in self.catalog.segments_of_media(media.id, kinds=["speech"])]

    def keyword_search(self, words: str, k: int = 10, kinds: Sequence[str] | None = None,
                       path: str | None = None) -> list[Hit]:
        """Passages (speech, subtitles, texts) that contain every word of ``words``, case-insensitively."""
        kinds = _check_kinds(kinds)
        terms = [w for w in words.lower().split() if w]
        if not terms:
            raise MmsearchError("empty query")
        matcher = _path_matcher(path)
        hits: list[Hit] = []
        for row in self.catalog.segments_containing(terms, limit=max(10 * k, 200)):
            row = _as_hit_row(row)
            if (kinds is None or row.media_kind in kinds) and matcher(row.path):
                hits.append(Hit(path=row.path, kind=row.media_kind, score=1.0, start=row.start, end=row.end,
                                space="keyword", text=row.text, linked=row.link_path, media_id=row.media_id,
                                segment_id=row.id))
        return hits[:k]

    def thumbnail(self, hit: Hit, max_side: int = 320) -> Any:
        """A PIL image for a hit: the image itself, or a video hit's best-matching frame."""
        from .media.images import load_image

        if hit.kind == "image":
            return load_image(hit.path, max_side=max_side)[0]
        if hit.kind == "video":
            from .media.video import frame_at

            return frame_at(hit.path, hit.keyframe if hit.keyframe is not None else (hit.start or 0.0), max_side)
        raise MmsearchError(f"no thumbnail for a {hit.kind} hit")

    # -- information ----------------------------------------------------------------------------
    def stats(self) -> dict:
        """Counts of files, segments and vectors, the spaces and their models, the library's place."""
        counts = self.catalog.counts()
        spaces = []
        for space in self.catalog.spaces():
            idx = self.library.index(space)
            spaces.append(
                {
                    "name": space.name,
                    "model": space.model_id,
                    "spec": space.spec,
                    "dim": space.dim,
                    "vectors": int(counts["vectors"].get(space.name, 0)),
                    "indexed": idx.ntotal,
                    "active": space.name not in self.unavailable,
                }
            )
        known = {s["name"] for s in spaces}
        for name, why in self.unavailable.items():
            if name not in known:
                spaces.append({"name": name, "model": None, "vectors": 0, "active": False, "reason": why})
        return {
            "library": str(self.library.root),
            "database": _mask_url(self.settings.database),
            "files": sum(counts["media"].values()),
            "by_kind": counts["media"],
            "segments": counts["segments"],
            "bytes": counts["bytes"],
            "errors": counts["errors"],
            "spaces": spaces,
        }

    def errors(self) -> list[dict]:
        """Files that could not be indexed, with the stage that failed and why."""
        return [
            {"path": e.path, "stage": e.stage, "message": e.message, "time": e.created.isoformat(timespec="seconds")}
            for e in self.catalog.errors()
        ]


def _check_kinds(kinds: Sequence[str] | None) -> tuple[str, ...] | None:
    if not kinds:
        return None
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise MmsearchError(f"unknown kind {bad[0]!r}; choose from {', '.join(KINDS)}")
    return tuple(kinds)


def _path_matcher(pattern: str | None) -> Callable[[str], bool]:
    if not pattern:
        return lambda _p: True
    if not _GLOB_CHARS & set(pattern):
        pattern = f"*{pattern}*"
    return lambda p: fnmatch.fnmatchcase(p, pattern)


def _as_hit_row(row: SegmentRow) -> SegmentRow:
    """A subtitle cue is a moment of its video: report it on the video's path and timeline."""
    if row.media_kind == "subtitle" and row.link_id and row.link_kind == "video":
        return dataclasses.replace(row, media_id=row.link_id, path=row.link_path, media_kind="video",
                                   link_id=None, link_path=None, link_kind=None)
    return row


def _group(candidates: list[tuple[float, float, SegmentRow, str]]) -> list[Hit]:
    """One hit per whole file; for moments, one per set of overlapping segments of a file.

    Candidates arrive best first. A moment that overlaps a better one of the same file (from any
    space: a scene, its soundtrack, its speech) is absorbed by it, and the better one keeps its own,
    more precise span; moments that merely touch stay apart.
    """
    hits: list[Hit] = []
    whole: set[int] = set()
    timed: dict[int, list[Hit]] = {}
    for score, cosine, row, space in candidates:
        if row.start is None:
            if row.media_id in whole:
                continue
            whole.add(row.media_id)
        else:
            group = timed.setdefault(row.media_id, [])
            if any(row.start < (h.end or 0) and (row.end or 0) > (h.start or 0) for h in group):
                continue
        hit = Hit(path=row.path, kind=row.media_kind, score=score, start=row.start, end=row.end, space=space,
                  keyframe=row.keyframe, text=row.text, linked=row.link_path, media_id=row.media_id,
                  segment_id=row.id, extra={"cosine": round(cosine, 6)})
        if row.start is not None:
            timed[row.media_id].append(hit)
        hits.append(hit)
    return hits


def _mask_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return url
