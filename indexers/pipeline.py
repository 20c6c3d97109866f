"""The index run: scan -> diff -> decode in worker threads -> batched encode -> one transaction per batch.

Decoding (file read, hashing, image decode and model preprocessing) runs in a thread pool a bounded
number of files ahead of the encoder, so the encoder is never waiting on disk and memory stays
bounded. Each batch's media rows, segments and vectors commit in one transaction, then go into the
in-memory index; snapshots are saved every 30 s and at the end.
"""
from __future__ import annotations

import io
import os
import stat
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mmsearch import _faults as faults
from mmsearch.catalog import Media, NewSegment
from mmsearch.context import Context
from mmsearch.errors import MediaError, MmsearchError
from mmsearch.encoders.base import CPU_BATCH
from mmsearch.media.images import load_image
from mmsearch.media.subtitles import merge_cues, parse_subtitles
from mmsearch.media.text import passages, read_text

from .scan import FileEntry, diff, file_hash, scan

MAX_IMAGE_BYTES = 512 * 1024 * 1024


class Progress(Protocol):
    def start(self, total: int) -> None: ...
    def advance(self, n: int = 1, path: str | None = None) -> None: ...
    def stop(self) -> None: ...


@dataclass
class IndexReport:
    """What an index run did. ``failures`` lists (path, reason) of files recorded as errors."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    moved: int = 0
    removed: int = 0
    failed: int = 0
    skipped_bad: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. a model that could not be loaded

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["failures"] = [{"path": p, "reason": r} for p, r in self.failures]
        d["seconds"] = round(self.seconds, 3)
        return d


@dataclass
class Decoded:
    entry: FileEntry
    old: Media | None
    fields: dict
    images: list[Any] = field(default_factory=list)  # encoder-prepared images
    texts: list[str] = field(default_factory=list)
    spans: list[tuple[float, float]] = field(default_factory=list)  # timed texts (subtitles)


@dataclass
class VideoJob:
    """A new or changed video or audio file, hashed; decoded and encoded by the main thread
    (encoders take one caller at a time and already use every core)."""

    entry: FileEntry
    old: Media | None
    fields: dict


@dataclass
class Same:
    """Content unchanged (same hash): only size/mtime/path need updating."""

    entry: FileEntry
    media: Media
    moved: bool


@dataclass
class Failed:
    entry: FileEntry
    stage: str
    message: str


def run_index(ctx: Context, roots: list[Path], progress: Progress | None = None) -> IndexReport:
    """Index ``roots`` into ``ctx``'s library (see module docstring)."""
    t0 = time.monotonic()
    for root in roots:
        if not root.expanduser().exists():
            raise MmsearchError(f"no such file or folder: {root}")
    roots = [Path(os.path.abspath(os.path.expanduser(r))) for r in roots]
    library, catalog = ctx.library, ctx.catalog
    library.acquire_writer()
    report = IndexReport()
    try:
        scan_errors: list[tuple[str, str]] = []
        entries = scan(roots, library.root, lambda p, why: scan_errors.append((p, why)))
        for path, why in scan_errors:
            catalog.record_error(path, "scan", why)
            report.failed += 1
            report.failures.append((path, why))
        plan = diff(entries, catalog, roots)
        report.unchanged, report.skipped_bad = plan.unchanged, plan.skipped_bad
        encoder = ctx.models.encoder("clip") if plan.work else None
        space = catalog.ensure_space("clip", encoder.model_id, encoder.dim, ctx.models.spec("clip")) if encoder else None
        if space is not None:
            library.index(space)
        missing_by_hash: dict[str, Media] = {}
        for m in plan.missing.values():
            missing_by_hash.setdefault(m.content_hash, m)
        if progress:
            progress.start(len(plan.work))
        writer = _BatchWriter(ctx, encoder, space, report, progress)
        workers = ctx.settings.decode_workers
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mmsearch-decode") as pool:
            pending: deque[Future] = deque()
            work = iter(plan.work)
            for entry, old in work:
                pending.append(pool.submit(_decode, entry, old, encoder, missing_by_hash, ctx.settings))
                if len(pending) >= workers * 4:
                    writer.take(pending.popleft().result())
            while pending:
                writer.take(pending.popleft().result())
        writer.flush()
        gone = [m.id for p, m in plan.missing.items() if p not in writer.moved_from]
        if gone:
            from mmsearch.catalog import WriteResult

            removed = catalog.remove_media(gone)
            faults.point("remove")
            library.apply(WriteResult([], {}, removed))
            report.removed = len(gone)
        _link_captions(catalog, plan.entries, roots)
        library.save(force=True)
    finally:
        if progress:
            progress.stop()
        library.release_writer()
    report.seconds = time.monotonic() - t0
    return report


def _decode(entry: FileEntry, old: Media | None, encoder: Any, missing_by_hash: dict[str, Media], settings: Any):
    """Worker thread: read, hash, and decode one file. Never raises."""
    stage = "read"
    try:
        data: bytes | None = None
        if entry.kind == "image":
            if entry.size > MAX_IMAGE_BYTES:
                return Failed(entry, "read", f"image file too large ({entry.size} bytes)")
            # O_NONBLOCK: a FIFO swapped in after the scan must not block open(); stat before reading,
            # so a file that grows meanwhile is seen as changed by the next run.
            with open(os.open(entry.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as fh:
                st = os.fstat(fh.fileno())
                if not stat.S_ISREG(st.st_mode):
                    return Failed(entry, "read", "not a regular file")
                data = fh.read(MAX_IMAGE_BYTES + 1)
        else:
            st = os.stat(entry.path)
            if not stat.S_ISREG(st.st_mode):
                return Failed(entry, "read", "not a regular file")
        entry.size, entry.mtime = st.st_size, st.st_mtime
        stage = "hash"
        digest = file_hash(entry.path, data)
        if old is not None and old.content_hash == digest:
            return Same(entry, old, moved=False)
        if old is None and digest in missing_by_hash:
            return Same(entry, missing_by_hash.pop(digest), moved=True)
        stage = "decode"
        faults.point("decode")
        fields = {"path": entry.path, "content_hash": digest, "size": entry.size, "mtime": entry.mtime, "kind": entry.kind}
        if entry.kind == "image":
            if _tensor_decoding(encoder, settings):
                stage = "preprocess"
                done = encoder.prepare_jpeg(data)
                if done is not None:
                    fields.update(width=done[1], height=done[2], decoder=f"torchvision-{encoder.device.split(':')[0]}")
                    return Decoded(entry, old, fields, images=[done[0]])
                stage = "decode"
            image, width, height = load_image(io.BytesIO(data))
            fields.update(width=width, height=height, decoder="pillow")
            stage = "preprocess"
            return Decoded(entry, old, fields, images=[encoder.prepare_image(image)])
        if entry.kind == "text":
            parts = passages(read_text(entry.path, settings.max_text_chars))
            if not parts:
                return Failed(entry, "decode", "empty text file")
            return Decoded(entry, old, fields, texts=parts)
        if entry.kind == "subtitle":
            cues = merge_cues(parse_subtitles(entry.path))
            return Decoded(entry, old, fields, texts=[c.text for c in cues], spans=[(c.start, c.end) for c in cues])
        if entry.kind in ("video", "audio"):
            return VideoJob(entry, old, fields)
        return Failed(entry, "decode", f"{entry.kind} files are not supported yet")
    except FileNotFoundError:
        return Failed(entry, stage, "file disappeared while being indexed")
    except PermissionError:
        return Failed(entry, stage, "permission denied")
    except MediaError as exc:
        return Failed(entry, exc.stage if exc.stage != "decode" else stage, str(exc))
    except MemoryError:
        return Failed(entry, stage, "out of memory decoding this file")
    except Exception as exc:  # noqa: BLE001 - one bad file must never stop a run
        return Failed(entry, stage, f"{type(exc).__name__}: {exc}")


def _tensor_decoding(encoder: Any, settings: Any) -> bool:
    """Whether JPEGs go through the encoder's torchvision path (see settings.image_decoder)."""
    if not hasattr(encoder, "prepare_jpeg") or settings.image_decoder == "pillow":
        return False
    return settings.image_decoder == "torchvision" or str(getattr(encoder, "device", "cpu")).startswith("cuda")


def _batch_size(settings: Any, encoder: Any) -> int:
    if settings.batch_size > 0:
        return settings.batch_size
    fit = getattr(encoder, "fit_batch_size", None)
    return fit() if fit is not None else CPU_BATCH


class _BatchWriter:
    """Collects decoded files, encodes them in batches, commits each batch in one transaction."""

    def __init__(self, ctx: Any, encoder: Any, space: Any, report: IndexReport, progress: Progress | None) -> None:
        self.ctx, self.encoder, self.space = ctx, encoder, space
        self.report, self.progress = report, progress
        self.batch: list[Decoded] = []
        self.units = 0
        self.moved_from: set[str] = set()
        self.batch_size = _batch_size(ctx.settings, encoder) if encoder is not None else CPU_BATCH
        self._models: tuple[Any, Any, Any] | None = None

    def take(self, item: Decoded | Same | Failed | VideoJob) -> None:
        catalog = self.ctx.catalog
        if isinstance(item, VideoJob):
            self._video(item) if item.entry.kind == "video" else self._audio(item)
        elif isinstance(item, Failed):
            catalog.record_error(item.entry.path, item.stage, item.message, item.entry.size, item.entry.mtime)
            self.report.failed += 1
            self.report.failures.append((item.entry.path, item.message))
            self._advance(item.entry.path)
        elif isinstance(item, Same):
            if item.moved:
                self.moved_from.add(item.media.path)
                self.report.moved += 1
            else:
                self.report.unchanged += 1
            catalog.touch_media(item.media.id, size=item.entry.size, mtime=item.entry.mtime,
                                path=item.entry.path if item.moved else None)
            self._advance(item.entry.path)
        else:
            self.batch.append(item)
            self.units += len(item.images) + len(item.texts)
            if self.units >= self.batch_size:
                self.flush()

    def flush(self) -> None:
        if not self.batch:
            return
        batch, self.batch, self.units = self.batch, [], 0
        try:
            vectors = self._encode(batch)
        except Exception:  # noqa: BLE001 - isolate the file that breaks the encoder
            if len(batch) == 1:
                raise
            for item in batch:
                self.batch = [item]
                try:
                    self.flush()
                except Exception as exc:  # noqa: BLE001
                    self.take(Failed(item.entry, "encode", f"{type(exc).__name__}: {exc}"))
            return
        faults.point("encode")
        items = []
        for item, vecs in zip(batch, vectors):
            if item.entry.kind == "image":
                segments = [NewSegment(kind="image", vector=vecs[0])]
            elif item.spans:
                segments = [NewSegment(kind="subtitle", vector=v, text=t, start=a, end=b)
                            for v, t, (a, b) in zip(vecs, item.texts, item.spans)]
            else:
                segments = [NewSegment(kind="text", vector=v, text=t) for v, t in zip(vecs, item.texts)]
            items.append((item.fields, segments))
        library, catalog = self.ctx.library, self.ctx.catalog
        result = catalog.write_media(items, self.space.name, replace_ids=[i.old.id for i in batch if i.old])
        faults.point("apply")
        library.apply(result, self.space)
        library.save()
        for item in batch:
            if item.old is not None:
                self.report.updated += 1
            else:
                self.report.added += 1
            self._advance(item.entry.path)

    def _video(self, job: VideoJob) -> None:
        """Decode, encode and cut one video, add its soundtrack, commit it in one transaction."""
        from mmsearch.media.audio import has_audio_stream

        from .video import embed_frames, scene_segments

        settings = self.ctx.settings
        try:
            video = embed_frames(job.entry.path, self.encoder, settings.video_interval, self.batch_size)
            segments = scene_segments(job.entry.path, video)
        except Exception as exc:  # noqa: BLE001 - one bad video must never stop a run
            self._failed(job, exc)
            return
        notes = [f"truncated or damaged: indexed the first {video.times[-1]:.1f} s"] if video.truncated else []
        if has_audio_stream(job.entry.path):
            try:
                segments += self._soundtrack(job.entry.path, video.duration)
            except Exception as exc:  # noqa: BLE001 - the pictures are still worth indexing
                notes.append(f"soundtrack not indexed: {exc}")
        job.fields.update(duration=video.duration, width=video.width, height=video.height, decoder=video.backend,
                          status="partial" if notes else "ok")
        self._commit_one(job, segments, notes)

    def _audio(self, job: VideoJob) -> None:
        """Embed one audio file's sound windows and speech, commit it in one transaction."""
        from mmsearch.media.audio import probe_audio

        try:
            duration = probe_audio(job.entry.path).duration
            if not duration or duration <= 0:
                raise MediaError("no audio samples")
            segments = self._soundtrack(job.entry.path, duration)
        except Exception as exc:  # noqa: BLE001 - one bad file must never stop a run
            self._failed(job, exc)
            return
        job.fields.update(duration=duration, decoder="audio")
        self._commit_one(job, segments, [])

    def _failed(self, job: VideoJob, exc: Exception) -> None:
        """Record a file that could not be decoded: a MediaError's own words, else the exception."""
        if isinstance(exc, MediaError):
            self.take(Failed(job.entry, exc.stage, str(exc)))
        else:
            self.take(Failed(job.entry, "decode", f"{type(exc).__name__}: {exc}"))

    def _soundtrack(self, path: str, duration: float) -> list[NewSegment]:
        from .audio import soundtrack

        clap, transcriber, text = self._audio_models()
        return soundtrack(path, duration, clap, transcriber, text).segments

    def _audio_models(self) -> tuple[Any, Any, Any]:
        """CLAP, Whisper and the sentence model, loaded on first need; a missing one is a warning."""
        if self._models is None:
            ctx, catalog = self.ctx, self.ctx.catalog
            clap = ctx.models.optional("audio")
            transcriber = ctx.models.transcriber()
            text = ctx.models.optional("text") if transcriber is not None else None
            for space, enc in (("audio", clap), ("text", text)):
                if enc is not None:
                    self.ctx.library.index(catalog.ensure_space(space, enc.model_id, enc.dim, ctx.models.spec(space)))
            for name, why in ctx.models.unavailable.items():
                self.report.warnings.append(f"{name} space inactive: {why}")
            self._models = (clap, transcriber, text)
        return self._models

    def _commit_one(self, job: VideoJob, segments: list[NewSegment], notes: list[str]) -> None:
        library, catalog = self.ctx.library, self.ctx.catalog
        result = catalog.write_media([(job.fields, segments)], self.space.name,
                                     replace_ids=[job.old.id] if job.old else [])
        library.apply(result)
        if notes:
            # Indexed what could be decoded; keep a visible note in `mmsearch errors`.
            catalog.record_error(job.entry.path, "decode", "; ".join(notes), job.entry.size, job.entry.mtime)
        library.save()
        if job.old is not None:
            self.report.updated += 1
        else:
            self.report.added += 1
        self._advance(job.entry.path)

    def _encode(self, batch: list[Decoded]) -> list[list[Any]]:
        images = [img for item in batch for img in item.images]
        texts = [t for item in batch for t in item.texts]
        image_vecs = list(self.encoder.encode_prepared(images)) if images else []
        text_vecs: list[Any] = []
        for i in range(0, len(texts), self.batch_size):
            text_vecs += list(self.encoder.encode_text(texts[i : i + self.batch_size]))
        out, ii, ti = [], 0, 0
        for item in batch:
            if item.images:
                out.append(image_vecs[ii : ii + len(item.images)])
                ii += len(item.images)
            else:
                out.append(text_vecs[ti : ti + len(item.texts)])
                ti += len(item.texts)
        return out

    def _advance(self, path: str) -> None:
        if self.progress:
            self.progress.advance(1, path)


def _link_captions(catalog: Any, entries: list[FileEntry], roots: list[Path]) -> None:
    """Point each caption or subtitle file at the media it describes, as the names on disk say now."""
    texts = [e for e in entries if e.kind in ("text", "subtitle")]
    if not texts:
        return
    wanted = {e.path for e in texts} | {e.link for e in texts if e.link}
    by_path = {m.path: m for root in roots for m in catalog.all_media(prefix=str(root)) if m.path in wanted}
    for e in texts:
        text = by_path.get(e.path)
        target = by_path.get(e.link) if e.link else None
        want = target.id if target is not None else None
        if text is not None and text.link_id != want:
            catalog.set_link(text.id, want)
