"""Engine: the one object a caller needs — a thin facade over a :class:`~mmsearch.context.Context`.

    from mmsearch import Engine
    with Engine("~/photos-index") as engine:
        engine.index(["~/Pictures"])
        for hit in engine.search("a cat on a sofa", k=5):
            print(hit.path, hit.score)

Every method forwards to the module that does the work (:mod:`mmsearch.query.search`, :mod:`mmsearch.status`,
:mod:`mmsearch.indexers`, :mod:`mmsearch.integrity`, :mod:`mmsearch.maintenance`); those take the context,
never the Engine.
"""
from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mmsearch import maintenance, status
from mmsearch.catalog import Catalog
from mmsearch.config import Settings, load_settings
from mmsearch.context import Context
from mmsearch.delegate import Delegated
from mmsearch.encoders import Encoder
from mmsearch.hits import Hit
from mmsearch.library import Library
from mmsearch.models import Models
from mmsearch.presence import mark_hits
from mmsearch.query import search
from mmsearch.query.mix_rules import LIKE_WEIGHT
from mmsearch.query.ranking import Filters
from mmsearch.query.when_where import WhenWhere, WhenWhereArgs

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from mmsearch.indexers import IndexReport
    from mmsearch.indexers.reembed import ReembedReport
    from mmsearch.integrity import Report
    from mmsearch.media.previews import Preview
    from mmsearch.pending import Pending
    from mmsearch.query.duplicates import DuplicateReport


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
        self.context = Context.open(settings, create=create)

    # -- the context's parts, for callers that need them -----------------------------------------
    settings: Delegated[Settings] = Delegated("context")
    library: Delegated[Library] = Delegated("context")
    catalog: Delegated[Catalog] = Delegated("context")
    models: Delegated[Models] = Delegated("context")
    unavailable: Delegated[dict[str, str]] = Delegated(
        "context.models", doc="Optional spaces (and jobs) whose model cannot be used, with the reason.")

    # -- lifecycle ------------------------------------------------------------------------------
    def close(self) -> None:
        self.context.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- models ---------------------------------------------------------------------------------
    def model_spec(self, space: str = "clip") -> str:
        """The spec a space is (or will be) embedded with: explicit setting, else the library's, else
        the default. ``off`` disables an optional space (``audio``, ``text``, speech)."""
        return self.models.spec(space)

    def encoder(self, space: str = "clip") -> Encoder:
        """Load (once) the encoder of a space, refusing one that differs from the library's model."""
        return self.models.encoder(space)

    def optional_encoder(self, space: str) -> Encoder | None:
        """The encoder of an optional space, or None when its model cannot be had (reason in :attr:`unavailable`)."""
        return self.models.optional(space)

    def transcriber(self) -> Any | None:
        """The speech-to-text model, or None when it is turned off or cannot be loaded."""
        return self.models.transcriber()

    def use_encoder(self, encoder: Encoder) -> None:
        """Use an already-built encoder for its space (same model check as :meth:`encoder`)."""
        self.models.use(encoder)

    # -- ingest and maintenance -----------------------------------------------------------------
    def index(self, paths: Iterable[str | Path] = (), *, progress: Any = None, strict: bool = False,
              ray: str | None = None, prune: bool = False) -> IndexReport:
        """Add, update, move and remove the media under ``paths`` (none: the library's own roots) and do
        the pending work whose model can be had now; returns an IndexReport. A space whose model cannot be
        had leaves its work pending (a warning); ``strict`` makes that an error. ``ray``: decode and encode
        on the Ray cluster at that address (``auto``, ``ray://HOST:PORT``, ``HOST:PORT``; None:
        ``$MMSEARCH_RAY_ADDRESS``, empty: this machine); needs the ``cluster`` extra. Files gone from disk are
        kept as missing for a grace period, files of an offline drive or unreadable folder kept as offline
        (:mod:`mmsearch.presence`); ``prune``: forget the missing ones now."""
        from mmsearch.indexers import run_index  # ingestion pipelines live in mmsearch.indexers

        address = os.environ.get("MMSEARCH_RAY_ADDRESS", "") if ray is None else ray
        return run_index(self.context, [Path(p) for p in paths], progress=progress, strict=strict,
                         ray_address=address, prune=prune)

    def watch(self, paths: Iterable[str | Path] = (), *, stop: threading.Event, quiet_time: float | None = None,
              on_report: Any = None, on_message: Any = None, polling: bool = False) -> None:
        """Keep the library current with the folders ``paths`` (none: the library's own folders) until ``stop``
        is set: a catch-up index run, then each file once it stopped changing for ``quiet_time`` seconds
        (default 2). See :mod:`mmsearch.indexers.watch`."""
        from mmsearch.indexers.watch import QUIET_TIME, Watcher, watched_folders

        folders = watched_folders(self.context, list(paths))
        Watcher(self.context, folders, quiet_time=QUIET_TIME if quiet_time is None else quiet_time,
                on_report=on_report, on_message=on_message, polling=polling).run(stop)

    def remove(self, paths: Iterable[str | Path]) -> int:
        """Forget files (or everything under folders) without touching them on disk."""
        return maintenance.remove(self.context, paths)

    def reindex(self) -> dict[str, int]:
        """Rebuild every space's FAISS index from the stored vectors (no decoding, no embedding)."""
        return maintenance.reindex(self.context)

    def reembed(self, space: str, model: str, *, progress: Any = None, force: bool = False) -> ReembedReport:
        """Re-embed one space (``clip``, ``audio``, ``text``) with another model in place: queries answer from
        the old vectors until every file is done, then the space switches in one transaction; a killed run, or
        one where a file failed (``report.swapped`` False), leaves the old space whole and a second call
        resumes. ``force`` switches although files failed (they lose their vectors in the space). Later opens
        use the new model."""
        from mmsearch.indexers.reembed import reembed

        return reembed(self.context, space, model, progress=progress, force=force)

    def check(self, repair: bool = False) -> Report:
        """Verify the catalog against the indexes and stored vectors; ``repair`` fixes it from the catalog."""
        from mmsearch import integrity

        return integrity.repair(self.context) if repair else integrity.check(self.context)

    # -- queries --------------------------------------------------------------------------------
    # Every query takes the when-and-where filters as keywords (WhenWhereArgs): after, before, camera, near.
    def search(self, query: Any, k: int = 10, kinds: Sequence[str] | None = None, path: str | None = None, *,
               min_score: float | None = None, sort: str = "relevance", like: Sequence[Any] = (),
               like_weight: float = LIKE_WEIGHT, **when_where: Unpack[WhenWhereArgs]) -> list[Hit]:
        """Rank the library's segments against a query: meaning in every space, words (full text and
        phonetic keys) for a text, fused on one calibrated scale.

        Args:
            query: a text (``str``), an image file (``pathlib.Path``) or a PIL image.
            k: number of hits.
            kinds: restrict to media kinds among ``image``, ``text``, ``video``, ``audio``.
            path: keep only files whose path matches this glob (a plain string matches as ``*string*``).
            min_score: leave out hits below this calibrated score (the web page uses ``ranking.PAGE_MIN_SCORE``).
            sort: ``relevance`` (default) or ``date`` (the k most relevant, oldest first).
            like: example files (image, recording, video; in the library or not) mixed into a text query, each
                weighted ``like_weight`` against the text's 1.0 on the calibrated scale
                (:mod:`mmsearch.query.mix_rules`).
                In a text, ``-word`` and ``-"a phrase"`` are negative terms.
            after, before: when the media was made: ``"2024-05-01"``, ``"2024-05-01T14:30"``, ``"2024-05"``
                (a bound includes the whole period it names), or a datetime (:mod:`mmsearch.query.when_where`).
            camera: a substring of the camera's make and model, any case.
            near: ``"LAT,LON[,KM]"`` or ``(lat, lon[, km])``: within KM km (default 1) of that place.
        """
        hits = search.search(self.context, query, k, kinds, path, min_score=min_score, sort=sort, like=like,
                             like_weight=like_weight, where=WhenWhere.parse(**when_where))
        return mark_hits(self.context.catalog, hits)

    def similar(self, image: Any, k: int = 10, kinds: Sequence[str] | None = None, path: str | None = None, *,
                min_score: float | None = None, sort: str = "relevance",
                **when_where: Unpack[WhenWhereArgs]) -> list[Hit]:
        """What resembles a file, by its kind: an image (file or PIL image) finds pictures and video scenes
        that look like it and texts that describe it; a recording, sounds that sound alike (``audio``) and
        moments where the same is said (``text``, speech only); a video clip, scenes like its scenes.

        A file already in the library is queried with its stored vectors and left out of the hits. A part
        whose model is missing is skipped with a logged warning naming it; the other parts still answer.
        """
        hits = search.similar(self.context, image, k, kinds, path, min_score=min_score, sort=sort,
                              where=WhenWhere.parse(**when_where))
        return mark_hits(self.context.catalog, hits)

    def search_vectors(self, queries: dict[str, np.ndarray], k: int, kinds: Sequence[str] | None = None,
                       path: str | None = None, exclude: Iterable[int] = (),
                       **when_where: Unpack[WhenWhereArgs]) -> list[Hit]:
        """Rank the library against ready-made query vectors, one per space name. ``exclude``: media ids."""
        hits = search.search_vectors(self.context, queries, k,
                                     Filters(search.check_kinds(kinds), path, frozenset(exclude),
                                             WhenWhere.parse(**when_where)))
        return mark_hits(self.context.catalog, hits)

    def more_like(self, *, segment_id: int | None = None, media_id: int | None = None, k: int = 10,
                  kinds: Sequence[str] | None = None, path: str | None = None,
                  **when_where: Unpack[WhenWhereArgs]) -> list[Hit]:
        """Hits like one hit (its ``segment_id``) or like a whole file (``media_id``), the source left out."""
        hits = search.more_like(self.context, segment_id=segment_id, media_id=media_id, k=k, kinds=kinds, path=path,
                                where=WhenWhere.parse(**when_where))
        return mark_hits(self.context.catalog, hits)

    def keyword_search(self, words: str, k: int = 10, kinds: Sequence[str] | None = None,
                       path: str | None = None, **when_where: Unpack[WhenWhereArgs]) -> list[Hit]:
        """Passages (speech, subtitles, texts) that contain every word of ``words``, case-insensitively;
        ``-word`` leaves out passages that hold it."""
        hits = search.keyword_search(self.context, words, k, kinds, path, where=WhenWhere.parse(**when_where))
        return mark_hits(self.context.catalog, hits)

    # -- moments ---------------------------------------------------------------------------------
    def scenes(self, video: str | Path) -> list[dict]:
        """A video's scenes in time order: start, end, keyframe time (seconds)."""
        return status.scenes(self.context, video)

    def transcript(self, path: str | Path) -> list[dict]:
        """The timed speech transcript of an audio or video file (empty when nothing was said)."""
        return status.transcript(self.context, path)

    def thumbnail(self, hit: Hit, max_side: int = 320) -> Any:
        """A PIL image for a hit: the image itself, a video hit's best-matching frame, an audio hit's waveform
        over its window. Raises MmsearchError."""
        return self.preview(hit, max_side).image()

    def preview(self, hit: Hit, max_side: int = 320) -> Preview:
        """A hit's thumbnail as encoded bytes (JPEG for pictures, PNG for waveforms) with its media type."""
        from mmsearch.media.previews import of_hit

        return of_hit(hit, max_side)

    def duplicates(self, kind: str | None = None, threshold: float | None = None) -> DuplicateReport:
        """Groups of near-duplicate images, video scenes and videos (``kind``: image or video; None: both),
        each naming the copy to keep; ``threshold``: hash bits of 63 (default 12, see mmsearch.query.duplicates)."""
        from mmsearch.query.duplicates import find_duplicates

        return find_duplicates(self.context, kind, threshold)

    # -- information ----------------------------------------------------------------------------
    def pending(self) -> list[Pending]:
        """Work that waits for a model, each with the line that says how to bring it (:mod:`mmsearch.pending`):
        what a query did not search. A query never raises for a missing model that other spaces or the words
        can stand in for; it answers with what it has, and this says what is missing."""
        from mmsearch.pending import pending

        return pending(self.context)

    def stats(self) -> dict:
        """Counts of files, segments and vectors, the spaces and their models, the library's place."""
        return status.stats(self.context)

    def errors(self) -> list[dict]:
        """Files that could not be indexed, with the stage that failed and why."""
        return status.errors(self.context)
