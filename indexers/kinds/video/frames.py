"""Video ingestion: sample frames -> encode in batches -> cut into scenes -> scene and frame segments.

The decode pass also feeds a :class:`~mmsearch.analysis.scenes.ShotStream` (every frame at 48x27) when
``shots=True``; :func:`scene_segments` then cuts with :func:`mmsearch.analysis.scenes.decide_cuts` (the stream's
candidates judged by pixels, the optional TransNetV2 model on short windows around the candidates the
pixels cannot settle; the embeddings decide nothing) and never decodes the file again. Without a stream it falls back
to the embeddings-only rule with cuts refined by decoding between samples (the old path).

A decode thread samples frames (decord, PyAV fallback) and preprocesses them for the encoder while
the calling thread encodes the previous :data:`ENCODE_CHUNK` frames, so decoding and encoding overlap; when
the decode ends, the same thread runs the shot model on the stream's candidates not answered yet
(:func:`mmsearch.analysis.scenes.consult_model`) while the calling thread encodes the last frames, and then
its ``idle`` work (the OCR pass's text detection, ahead.py) until the calling thread is done: the encoded
video is returned without waiting for it. Whenever the calling thread has no frame to encode during the
decode, it asks the shot model about the candidates already settled
(:func:`mmsearch.analysis.scenes.ask_ahead`: the same answers, asked earlier; at 1080p the decode is the
longer stream and the model after it was 0.5 s of a 2.6 s run), then runs the same ``idle`` work; after the
decode (while the shot model runs on the decode thread) only the ``idle`` work; either until the decode thread
hands it the next thing. Two streams of work, so on a machine of up to two torch threads each runs on one
(:func:`_stream_threads`).
Only frame vectors are kept in memory, never decoded frames, so a long video costs (frames x dim) floats.

Each scene becomes a ``scene`` segment (its vector: the normalised mean of its frames; its keyframe:
the frame closest to that mean). Every sampled frame becomes a ``frame`` segment whose start/end are
its scene's and whose keyframe is the frame's own time, so a query that matches one striking frame
of a long scene returns that scene with the frame's time, without any join at query time.
"""
from __future__ import annotations

import atexit
import contextlib
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmsearch.analysis.perceptual_hash import picture_hash, scene_detail
from mmsearch.analysis.scenes import ShotStream, ask_ahead, consult_model, cut_scenes, decide_cuts, find_cuts
from mmsearch.catalog import NewSegment
from mmsearch.errors import MediaError
from mmsearch.media.video import FrameSampler, refine_cuts
from mmsearch.threads import single_threaded

_END = object()
_SAMPLED = object()  # put after the last sampled frame, before the shot model runs
_IDLE: set[threading.Thread] = set()  # decode threads still in their idle work
_IDLE_LOCK = threading.Lock()
IDLE_EXIT_WAIT = 10.0  # seconds the process's exit waits for each decode thread still in its idle work
SAMPLE_SIDE = 448  # the longest side of a sampled frame (the encoder's input and the OCR probes)
# Frames per encoder call: small enough that encoding starts while the decode goes on, large enough that
# the call is not per-frame overhead (ViT-B-32, one CPU thread: 105 ms a frame alone, 68-71 ms in 4s to 24s).
ENCODE_CHUNK = 8
_PAIR = 2  # torch threads up to which the two streams (encode + shot model ahead; decode + shot model) get one each


class _ModelFailed(Exception):
    """The shot model failed on the decode thread: its own exception is raised, not a decoding error."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(str(exc))
        self.exc = exc


@contextlib.contextmanager
def _stream_threads() -> Iterator[None]:
    """One torch (and BLAS) thread for each of the video pass's two streams on a machine of up to
    :data:`_PAIR` threads (:func:`mmsearch.threads.single_threaded`: process-wide, restored after); more
    threads are left as they are. Measured on this project's 2-core machine with the decoder running:
    ViT-B-32 on 21 frames 1.5-1.7 s of CPU on one thread against 2.1-2.4 s on two (a thread team waits
    for its slowest member, which shares a core with the decoder); TransNetV2 on 3 windows 0.7 against 1.3-1.5."""
    torch = sys.modules.get("torch")  # not imported: no model of this pass runs on torch, nothing to share
    with single_threaded() if torch is not None and torch.get_num_threads() <= _PAIR else contextlib.nullcontext():
        yield


@dataclass
class EmbeddedVideo:
    times: np.ndarray
    vectors: np.ndarray
    duration: float
    width: int
    height: int
    backend: str
    warnings: list[str] = field(default_factory=list)
    truncated: bool = False
    shots: ShotStream | None = None   # the dense stream, when embed_frames was asked for it
    tags: tuple[tuple[str, str], ...] = ()  # the container's tags (when and where: media/metadata.py)
    hashes: list[int | None] = field(default_factory=list)  # each sampled frame's perceptual hash (None: flat)
    judged: bool = False  # the shot model was asked about the stream's candidates during embed_frames


# work for either stream's idle time: idle(stopped, cuts), cuts = the video's cut times as the scenes will have
# them (the stream's verdicts: the embeddings decide no cut; [] without a stream), None while not decided yet
Idle = Callable[[Callable[[], bool], list[float] | None], None]


def embed_frames(path: str, encoder: Any, interval: float, batch_size: int, *, shots: bool = True,
                 keep: Callable[[float, Any], None] | None = None, shot_model: Any = None,
                 idle: Idle | None = None) -> EmbeddedVideo:
    """Sample and encode a video's frames (and, with ``shots``, fill the dense shot stream in the same
    pass). Raises MediaError when no frame can be decoded. ``keep(time, image)``, when given, is handed
    each sampled frame (on the decode thread) before it is prepared. ``shot_model`` (with ``shots``): asked
    about the stream's candidates on the decode thread as soon as the decode ends (``EmbeddedVideo.judged``);
    an exception of the model is raised as it is (the calling thread asks it about the settled candidates
    while it waits for frames, the decode thread the rest). ``idle(stopped, cuts)``: run on the decode thread once the
    decode (and the shot model) is done, while the frames are still being encoded, with the cut times the
    scenes will have; ``stopped()`` turns true when the frames are encoded, and this returns without waiting
    for ``idle``. Also run on the calling thread, with ``cuts`` None until they are decided, whenever
    it waits for the decode thread; ``stopped()`` turns true as soon as the decode thread hands it something.
    A failure of ``idle`` is dropped (optional work)."""
    with _stream_threads():
        return _embed(path, encoder, interval, min(batch_size, ENCODE_CHUNK), shots, keep, shot_model, idle)


def _embed(path: str, encoder: Any, interval: float, batch_size: int, shots: bool,
           keep: Callable[[float, Any], None] | None, shot_model: Any, idle: Idle | None) -> EmbeddedVideo:
    from mmsearch.encoders.shots import budget_frames

    stream = ShotStream() if shots else None
    judged = stream is not None and shot_model is not None
    sampler = FrameSampler(path, interval=interval, max_side=SAMPLE_SIDE, shots=stream)
    frames: queue.Queue = queue.Queue(maxsize=max(2, batch_size * 2))
    stop = threading.Event()
    decoded = threading.Event()  # the producer is past the decode and the shot model (its idle work may go on)
    sampled: list[float] = []  # the sampled frames' times, as the producer put them
    cuts: list[float] = []  # the cuts the stream decides, for the idle work
    decided = threading.Event()  # ``cuts`` holds the decision (the calling thread's turns pass None before)

    def produce() -> None:
        try:
            _produce()
        finally:
            decoded.set()
        if idle is not None and not stop.is_set():
            with _IDLE_LOCK:
                _IDLE.add(threading.current_thread())
            try:
                with contextlib.suppress(Exception):  # optional work: what it did not do is done later
                    idle(stop.is_set, cuts)
            finally:
                with _IDLE_LOCK:
                    _IDLE.discard(threading.current_thread())

    def _produce() -> None:
        try:
            for frame in sampler:
                if stop.is_set():
                    return
                if keep is not None:
                    keep(frame.time, frame.image)
                sampled.append(frame.time)
                frames.put((frame.time, encoder.prepare_image(frame.image), picture_hash(frame.image)))
            frames.put(_SAMPLED)
            if stream is not None and judged and not stop.is_set():  # the consumer encodes the last frames meanwhile
                try:
                    consult_model(stream, shot_model, budget_frames(shot_model, len(stream)))
                except BaseException as exc:  # noqa: BLE001 - the model's failure, not the decoder's
                    frames.put(_ModelFailed(exc))
                    return
            if idle is not None and stream is not None and sampled and not stop.is_set():
                with contextlib.suppress(Exception):  # only an order for the idle work
                    times = np.sort(np.asarray(sampled, dtype=np.float64))  # the model's answers, if asked above
                    found = decide_cuts(stream, times, np.ones((len(times), 1), dtype=np.float32))
                    cuts.extend(c.time for c in found)
            decided.set()
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            frames.put(exc)
        finally:
            frames.put(_END)

    worker = threading.Thread(target=produce, name="mmsearch-video-decode", daemon=True)
    worker.start()
    times: list[float] = []
    hashes: list[int | None] = []
    chunks: list[np.ndarray] = []
    batch: list[Any] = []
    decoding = True  # the producer has not put _SAMPLED yet

    def between_items() -> None:
        """Nothing to encode yet: until the producer puts something, the shot model on the settled candidates
        (ask_ahead: work the decode thread would do after the decode), then the idle work."""
        while stream is not None and judged and decoding and frames.empty():
            if not ask_ahead(stream, shot_model, budget_frames(shot_model, len(stream))):
                break
        if idle is not None and frames.empty():
            with contextlib.suppress(Exception):  # optional work: what it did not do is done later
                idle(lambda: not frames.empty(), list(cuts) if decided.is_set() else None)

    try:
        while True:
            between_items()
            item = frames.get()
            if item is _SAMPLED:  # the decode is over: nothing will fill the batch, the shot model may be running
                decoding = False
                if batch:
                    chunks.append(encoder.encode_prepared(batch))
                    batch = []
                continue
            if item is _END:
                break
            if isinstance(item, _ModelFailed):
                raise item.exc
            if isinstance(item, BaseException):
                raise item if isinstance(item, MediaError) else MediaError(f"decoding failed: {item}")
            times.append(item[0])
            batch.append(item[1])
            hashes.append(item[2])
            if len(batch) >= batch_size:
                chunks.append(encoder.encode_prepared(batch))
                batch = []
        if batch:
            chunks.append(encoder.encode_prepared(batch))
    finally:
        stop.set()
        while not decoded.is_set():  # unblock a producer waiting on a full queue; its idle work is not waited for
            try:
                frames.get_nowait()
            except queue.Empty:
                decoded.wait(0.05)
        sampler.close()
    if not times:
        raise MediaError("no decodable video frames")
    info = sampler.info
    order = np.argsort(np.asarray(times), kind="stable")
    return EmbeddedVideo(
        times=np.asarray(times, dtype=np.float64)[order],
        vectors=np.concatenate(chunks)[order],
        duration=float(max(info.duration or 0.0, times[-1])),
        width=info.width,
        height=info.height,
        backend=sampler.backend,
        warnings=list(sampler.warnings),
        truncated=bool(sampler.truncated),
        shots=stream.finish() if stream is not None else None,
        tags=info.tags,
        hashes=[hashes[i] for i in order],
        judged=judged,
    )


@atexit.register
def _finish_idle_work() -> None:
    """At the process's exit, wait for the decode threads still in their idle work (each stops after its
    current step once its video is encoded): onnxruntime torn down under a running session aborts the
    process ("terminate called without an active exception", exit status 134)."""
    with _IDLE_LOCK:
        running = list(_IDLE)
    for thread in running:
        thread.join(IDLE_EXIT_WAIT)


_SCENE_MODELS: dict[tuple[str, str], Any] = {}  # loaded shot models by (spec, device), for the process


def load_scene_model(spec: str = "bundled", device: str = "auto") -> tuple[Any, str | None]:
    """``(shot model or None, warning or None)`` for ``Settings.shot_model``.
    Never raises: a missing package or bad weights give ``(None, "scene cuts: ...")``.

    A loaded model is kept for the process (by spec and device: read-only weights, about 30 MB), so a
    second index run in the same process (a server, a benchmark with its models loaded first) does not
    load it again (measured: 0.4-3 s a load on this 2-core machine); a failure is not kept, the next
    run tries again."""
    from mmsearch.encoders.shots import load_shot_model

    key = (spec, device)
    if key in _SCENE_MODELS:
        return _SCENE_MODELS[key], None
    model, warning = load_shot_model(spec, device)
    if model is not None:
        _SCENE_MODELS[key] = model
    return model, warning


def scene_segments(path: str, video: EmbeddedVideo, *, refine: bool = True, shot_model: Any = None,
                   shot_warning: str | None = None) -> list[NewSegment]:
    """Cut frames into scenes and build scene + frame segments.

    With ``video.shots`` (``embed_frames(..., shots=True)``, the default): :func:`mmsearch.analysis.scenes.decide_cuts`,
    asking ``shot_model`` (from :func:`load_scene_model`, or None) about the candidates the pixels cannot
    settle, within :func:`mmsearch.encoders.shots.budget_frames` (all of them on CUDA, up to a quarter of
    the frames on the CPU). ``shot_warning`` (why there is no model) is added to ``video.warnings``.
    Without a stream: embeddings-only cuts, refined between samples by decoding (``refine``)."""
    from mmsearch.encoders.shots import budget_frames

    if shot_warning and shot_warning not in video.warnings:
        video.warnings.append(shot_warning)
    if video.shots is not None and len(video.shots):
        model = None if video.judged else shot_model  # asked already: its answers are on the candidates
        cuts = decide_cuts(video.shots, video.times, video.vectors, model=model,
                           budget_frames=budget_frames(model, len(video.shots)))
        scenes = cut_scenes(video.times, video.vectors, video.duration, cuts=[c.time for c in cuts])
        return _segments(video, scenes)
    found = find_cuts(video.vectors)
    boundary: dict[int, float] = {}
    if refine and found:
        try:
            refined = refine_cuts(path, [(video.times[c - 1], video.times[c]) for c in found])
            boundary = dict(zip(found, refined))
        except MediaError:
            boundary = {}  # fall back to midpoints between samples: at most half an interval off
    scenes = cut_scenes(video.times, video.vectors, video.duration, boundary_times=boundary)
    return _segments(video, scenes)


def _segments(video: EmbeddedVideo, scenes) -> list[NewSegment]:
    segments: list[NewSegment] = []
    for scene in scenes:
        members = video.vectors[scene.first : scene.last + 1]
        mean = members.mean(axis=0)
        mean = mean / max(float(np.linalg.norm(mean)), 1e-12)
        parent = len(segments)
        segments.append(NewSegment(kind="scene", vector=mean, start=scene.start, end=scene.end,
                                   keyframe=scene.keyframe_time, detail=_scene_hashes(video, scene)))
        for i in range(scene.first, scene.last + 1):
            segments.append(NewSegment(kind="frame", vector=video.vectors[i], start=scene.start, end=scene.end,
                                       keyframe=float(video.times[i]), parent=parent))
    return segments


def _scene_hashes(video: EmbeddedVideo, scene) -> str | None:
    """A scene's detail JSON: its keyframe's and its frames' perceptual hashes (mmsearch.analysis.perceptual_hash)."""
    if len(video.hashes) != len(video.times):
        return None
    frames = video.hashes[scene.first : scene.last + 1]
    key = int(np.argmin(np.abs(video.times - scene.keyframe_time)))
    return scene_detail(video.hashes[key], frames)
