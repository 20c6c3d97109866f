"""Video decoding: probing, frame sampling by time, exact frames, and cut refinement.

Decoding only: no ML, no database. Every failure a caller should record is a
:class:`~mmsearch.errors.MediaError` whose message says what is wrong with the file.

Times
    All times are seconds on the video stream's own clock, counted from the stream's start:
    ``(pts - stream.start_time) * time_base``, read from the real frame timestamps (never
    ``index / fps``, which is wrong for variable-frame-rate files). decord uses the same origin, so
    both backends agree; a file where they disagree is decoded with PyAV.

Sampling rule (:class:`FrameSampler`)
    For the targets ``0, interval, 2*interval, ...`` up to the last frame's time, the sampler
    yields the frame *shown* at each target: the last frame whose time is <= the target (the
    first frame for targets before it). A frame chosen by several targets is yielded once, so with
    a variable frame rate the gaps between sampled times may differ from ``interval``. The yielded
    ``time`` is that frame's own timestamp.

Backends
    decord is tried first (fast, resizes inside the decoder, ``num_threads=1`` for VP8/VP9 where
    decord's threaded VP9 decoding is unreliable). Before decord ever sees a file, PyAV (which is
    safe on bad input) has opened it, found a video stream and decoded its first frame, so
    decord is only handed files that are real videos. decord's frame index is checked (finite,
    sorted times starting where PyAV's first frame starts); when decord cannot open the file
    (AV1: its bundled FFmpeg 4.1 has no AV1 decoder; odd containers), when its index looks wrong,
    or when the video carries a rotation (decord 0.6 does not apply display rotation the way
    players do), PyAV is used and ``.backend == "pyav"``. If decord fails in the middle of a file
    (a corrupt packet), the sampler continues with PyAV from the last yielded time and sets
    ``.backend = "pyav"``; ``.fallback_reason`` says why.

Truncated and damaged files
    A truncated file yields the frames that decode and then stops, with ``.truncated = True`` and a
    line in ``.warnings``; it does not raise. "Truncated" means the decodable video ends more than
    ``max(1 s, 2 frames)`` before the duration the container declares, or the demuxer failed
    before the end. Undecodable packets in the middle are skipped (counted in ``.warnings``).
    An mp4 whose index ("moov") was lost with the cut cannot be opened at all and raises
    ``MediaError("truncated or corrupt: ...")`` at open.

Threads and memory
    A :class:`FrameSampler` is not thread-safe: use one per thread (one file per worker). Both
    decord and PyAV release the GIL while decoding, so several samplers in worker threads run in
    parallel. ``threads`` is the decoder's own thread count; the default 0 means "auto": one
    thread for pictures below 1280x720 (measured: FFmpeg's frame threading made 640x360 H.264
    decoding slower, not faster), FFmpeg's own choice (about one per core) from 720p up. With
    several workers, ``threads=1`` avoids oversubscription. Memory stays small:
    frames are scaled to ``max_side`` inside the decoder and decord batches hold at most
    ``_BATCH`` sampled frames.
"""
from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image

from mmsearch.errors import MediaError
from mmsearch.media.metadata import container_tags

__all__ = [
    "VIDEO_EXTENSIONS",
    "VideoInfo",
    "SampledFrame",
    "FrameSampler",
    "probe_video",
    "frame_at",
    "refine_cut",
    "refine_cuts",
]

VIDEO_EXTENSIONS: frozenset[str] = frozenset({".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v"})

_EPS = 1e-4          # seconds; timestamps closer than this are treated as equal
_BATCH = 8           # frames per decord get_batch call
_THUMB = 24          # side of the thumbnails refine_cut compares
SHOT_SIZE = (48, 27)  # (w, h) of the frames a shot stream receives (TransNetV2's input)



@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` learns about a video.

    width/height are the displayed size (sample aspect ratio and rotation applied).
    frame_count is exact for containers that store it (mp4, mov) and for a
    :class:`FrameSampler` that opened with decord (its ``.info`` is updated from decord's index);
    otherwise it is ``round(duration * avg_fps)``.
    """

    duration: float
    width: int
    height: int
    frame_count: int
    avg_fps: float
    codec: str
    has_audio: bool
    tags: tuple[tuple[str, str], ...] = ()  # the container's tags, then its streams' (metadata.from_tags)


@dataclass(frozen=True)
class SampledFrame:
    time: float               # presentation time (s) from the stream's real timestamps
    image: Image.Image        # RGB, longest side <= max_side


# ------------------------------------------------------------------------------ PyAV helpers

@dataclass(frozen=True)
class _Probe:
    info: VideoInfo
    start_pts: int            # stream.start_time (0 if unknown)
    time_base: Fraction
    rotation: int             # degrees counter-clockwise (PyAV's frame.rotation), 0/±90/180
    first_time: float         # time of the first decoded frame
    coded_size: tuple[int, int]    # (w, h) of the decoded pictures, before SAR / rotation
    display_size: tuple[int, int]  # (w, h) after SAR, before rotation
    declared_frames: int      # stream.frames (0 if the container does not say)
    declared_duration: float | None   # the container's idea of the video's length


def _name(path: Path) -> str:
    return path.name or str(path)


def _ffmpeg_message(exc: BaseException) -> str:
    msg = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(msg).strip().rstrip(".")


def _short(exc: BaseException) -> str:
    """One line of an exception's message (decord's are multi-line C++ traces)."""
    lines = [ln.strip() for ln in _ffmpeg_message(exc).splitlines() if ln.strip()]
    text = lines[-1] if lines else type(exc).__name__
    prefix = re.compile(r"^\[[0-9:]+\]\s*\S+:\d+:\s*")  # decord's "[12:00:00] file.cc:12: "
    while prefix.match(text):
        text = prefix.sub("", text, count=1)
    # "Check failed: <C++ expression> (a vs. b) <what it means>" -> "<what it means>"
    m = re.match(r"Check failed: .*? vs\. [^)]*\)\s*(.+)$", text)
    if m:
        text = m.group(1)
    return text[:300]


def _open_container(path: Path) -> av.container.InputContainer:
    """Open with PyAV, turning every failure into a MediaError (stage 'open')."""
    if not path.exists():
        raise MediaError(f"file not found: {path}", stage="open")
    if path.is_dir():
        raise MediaError(f"not a file: {path}", stage="open")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise MediaError(f"cannot read {_name(path)}: {exc}", stage="open") from exc
    if size == 0:
        raise MediaError(f"empty file (0 bytes): {_name(path)}", stage="open")
    try:
        return av.open(str(path), metadata_errors="replace")
    except av.error.EOFError as exc:
        raise MediaError(f"zero frames or truncated: {_name(path)} ends before its first frame",
                         stage="open") from exc
    except PermissionError as exc:
        raise MediaError(f"permission denied: {path}", stage="open") from exc
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise MediaError(
            f"truncated or corrupt: {_name(path)} cannot be opened as a video "
            f"({_ffmpeg_message(exc)})", stage="open") from exc


def _video_stream(container, path: Path):
    streams = [s for s in container.streams.video
               if not (s.disposition & av.stream.Disposition.attached_pic)]
    if not streams:
        kinds = sorted({s.type for s in container.streams})
        has = f" (it has only {', '.join(kinds)})" if kinds else " (it has no streams at all)"
        raise MediaError(f"no video stream in {_name(path)}{has}", stage="open")
    # the stream FFmpeg would pick: most frames / largest picture first
    return max(streams, key=lambda s: (s.frames or 0, (s.codec_context.width or 0) *
                                       (s.codec_context.height or 0)))


def _parse_hms(text: str) -> float | None:
    m = re.fullmatch(r"\s*(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)\s*", text or "")
    if not m:
        return None
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))


def _declared_duration(container, stream) -> float | None:
    """The video's length as the container states it (stream, then per-track tag, then file)."""
    if stream.duration is not None and stream.duration > 0 and stream.time_base:
        return float(stream.duration * stream.time_base)
    for key in ("DURATION", "duration"):
        value = _parse_hms(stream.metadata.get(key, "")) if stream.metadata else None
        if value:
            return value
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    return None


def _rotation_of(frame) -> int:
    try:
        rot = int(round(frame.rotation or 0))
    except (AttributeError, TypeError, ValueError):  # a PyAV without .rotation, or no number: not rotated
        return 0
    rot = ((rot + 180) % 360) - 180
    return 0 if abs(rot) < 45 else (90 if 45 <= rot < 135 else (-90 if -135 < rot <= -45 else 180))


def _fit(w: int, h: int, max_side: int | None) -> tuple[int, int]:
    if not max_side or max(w, h) <= max_side:
        return w, h
    s = max_side / max(w, h)
    return max(2, int(round(w * s))), max(2, int(round(h * s)))


def _rotate(img: Image.Image, rotation: int) -> Image.Image:
    if rotation == 90:
        return img.transpose(Image.Transpose.ROTATE_90)
    if rotation == -90:
        return img.transpose(Image.Transpose.ROTATE_270)
    if rotation == 180:
        return img.transpose(Image.Transpose.ROTATE_180)
    return img


def _frame_image(frame, probe: _Probe, max_side: int | None) -> Image.Image:
    """The displayed picture of a PyAV frame, scaled so its longest side is <= max_side."""
    dw, dh = probe.display_size
    w, h = _fit(dw, dh, max_side)
    arr = frame.to_ndarray(width=w, height=h, format="rgb24", interpolation="AREA")
    return _rotate(Image.fromarray(arr, "RGB"), probe.rotation)


def _frame_thumb(frame, size: int = _THUMB) -> np.ndarray:
    return frame.to_ndarray(width=size, height=size, format="rgb24",
                            interpolation="AREA").astype(np.float32) / 255.0


def _decoder_threads(threads: int, probe: _Probe) -> int:
    """Resolve ``threads=0`` (auto): 1 below 720p, FFmpeg's choice (0) from 720p up."""
    if threads > 0:
        return threads
    w, h = probe.coded_size
    return 0 if w * h >= 1280 * 720 else 1


class _PyAVReader:
    """One open PyAV container on one video stream, with error accounting.

    ``frames(start)`` yields ``(time, frame)`` in presentation order from ``start`` on (seeking
    to the keyframe before it, checking the seek and decoding from the beginning if the seek
    overshot). Undecodable packets are skipped and counted; a demuxer failure stops the stream
    and sets ``demux_error``.
    """

    def __init__(self, path: Path, probe: _Probe, threads: int = 0) -> None:
        self.path = path
        self.probe = probe
        self.threads = threads
        self.decode_errors = 0
        self.last_error: str | None = None
        self.demux_error: str | None = None
        self.container: Any = None  # an av InputContainer once open (PyAV ships no stubs mypy can use)
        self.stream: Any = None
        self._open()

    def _open(self) -> None:
        if self.container is not None:
            self.container.close()
        self.container = _open_container(self.path)
        self.stream = _video_stream(self.container, self.path)
        cc = self.stream.codec_context
        threads = _decoder_threads(self.threads, self.probe)
        try:
            if threads != 1:
                cc.thread_type = "AUTO"
            cc.thread_count = threads
        except (AttributeError, ValueError) as exc:  # pragma: no cover - codec without threading
            logging.getLogger(__name__).warning("video decoder threads not set (%s); decoding on one thread", exc)

    def close(self) -> None:
        if self.container is not None:
            try:
                self.container.close()
            finally:
                self.container = None

    def _time(self, frame, last: float | None) -> float | None:
        pts = frame.pts if frame.pts is not None else frame.dts
        if pts is None:
            if last is None:
                return 0.0
            fps = self.probe.info.avg_fps or 25.0
            return last + 1.0 / fps
        return float((pts - self.probe.start_pts) * self.probe.time_base)

    def _decoded(self) -> Iterator[tuple[float, av.VideoFrame]]:
        last: float | None = None
        demux = self.container.demux(self.stream)
        while True:
            try:
                packet = next(demux)
            except StopIteration:
                return
            except (av.error.FFmpegError, OSError) as exc:
                self.demux_error = _ffmpeg_message(exc)
                return
            try:
                frames = packet.decode()
            except (av.error.FFmpegError, ValueError) as exc:
                self.decode_errors += 1
                self.last_error = _ffmpeg_message(exc)
                continue
            for frame in frames:
                t = self._time(frame, last)
                if t is None or (last is not None and t <= last + 1e-9):
                    continue  # duplicate / out-of-order timestamp from a damaged stream
                last = t
                yield t, frame

    def frames(self, start: float | None = None) -> Iterator[tuple[float, av.VideoFrame]]:
        p = self.probe
        if start is not None and start > p.first_time + 0.5:
            target = int(p.start_pts + start / p.time_base)
            seeked = True
            try:
                self.container.seek(target, stream=self.stream, backward=True, any_frame=False)
            except (av.error.FFmpegError, OSError):
                seeked = False
            if seeked:
                gen = self._decoded()
                first = next(gen, None)
                if first is not None and first[0] <= start + _EPS:
                    yield first
                    yield from gen
                    return
            # the seek failed or overshot: decode from the beginning
            self._open()
        yield from self._decoded()


def _probe(path) -> _Probe:
    path = Path(path)
    container = _open_container(path)
    try:
        stream = _video_stream(container, path)
        cc = stream.codec_context
        codec = None
        try:
            codec = cc.codec.canonical_name
        except AttributeError:  # no codec object: named by the context below
            pass
        codec = codec or (cc.name if cc is not None else "unknown")
        cc.thread_count = 1
        tb = stream.time_base or Fraction(1, 1000)
        start_pts = stream.start_time if stream.start_time is not None else 0

        # Decode the first frame: proves the codec is supported and the stream has frames.
        first = None
        packets = 0
        error = None
        try:
            for packet in container.demux(stream):
                if packet.size:
                    packets += 1
                try:
                    frames = packet.decode()
                except (av.error.FFmpegError, ValueError) as exc:
                    error = _ffmpeg_message(exc)
                    if packets > 200:
                        break
                    continue
                if frames:
                    first = frames[0]
                    break
                if packets > 500:   # a decoder that never outputs anything
                    break
        except (av.error.FFmpegError, OSError) as exc:
            error = _ffmpeg_message(exc)
        if first is None:
            if packets == 0 and error is None:
                raise MediaError(f"zero frames: the video stream of {_name(path)} has no frames",
                                 stage="open")
            if error and "decoder" in error.lower() and "not found" in error.lower():
                raise MediaError(f"unsupported video codec '{codec}' in {_name(path)}", stage="open")
            raise MediaError(f"truncated or corrupt: no frame of {_name(path)} could be decoded"
                             f" ({error or 'the decoder produced no picture'})", stage="decode")

        pts = first.pts if first.pts is not None else first.dts
        first_time = float((pts - start_pts) * tb) if pts is not None else 0.0
        cw, ch = first.width, first.height
        sar = cc.sample_aspect_ratio or stream.sample_aspect_ratio
        dw, dh = cw, ch
        if sar and sar > 0 and sar != 1:
            dw = max(2, int(round(cw * float(sar))))
        rotation = _rotation_of(first)
        vw, vh = (dh, dw) if rotation in (90, -90) else (dw, dh)

        declared = _declared_duration(container, stream)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        declared_frames = int(stream.frames or 0)
        duration = declared if declared else 0.0
        if declared_frames > 0 and duration > 0:
            avg_fps = declared_frames / duration
        elif rate:
            avg_fps = float(rate)
        else:
            avg_fps = 0.0
        frame_count = declared_frames or (int(round(duration * avg_fps)) if avg_fps else 0)
        info = VideoInfo(duration=float(duration), width=int(vw), height=int(vh),
                         frame_count=int(frame_count), avg_fps=float(avg_fps), codec=str(codec),
                         has_audio=len(container.streams.audio) > 0, tags=container_tags(container))
        return _Probe(info=info, start_pts=int(start_pts), time_base=Fraction(tb),
                      rotation=rotation, first_time=first_time, coded_size=(cw, ch),
                      display_size=(dw, dh), declared_frames=declared_frames,
                      declared_duration=declared)
    except MediaError:
        raise
    except Exception as exc:  # anything PyAV throws on a strange file
        raise MediaError(f"truncated or corrupt: {_name(path)} ({_ffmpeg_message(exc)})",
                         stage="open") from exc
    finally:
        container.close()


def probe_video(path) -> VideoInfo:
    """Cheap facts about a video (header + first frame). Raises MediaError for a non-video.

    Decodes exactly one frame, so a file that opens but cannot be decoded (unsupported codec,
    garbage after a valid header) is rejected here, not half-way through indexing.
    When the container states no duration, the duration is 0.0 until a FrameSampler has
    read the file (it then knows the last frame's time).
    """
    return _probe(path).info


# ------------------------------------------------------------------------------ sampling

def _sample_indices(starts: np.ndarray, interval: float) -> np.ndarray:
    """Indices of the frames shown at 0, interval, 2*interval, ... (see module docstring)."""
    if len(starts) == 0:
        return np.zeros(0, dtype=np.int64)
    last = float(starts[-1])
    n = int(math.floor(max(last, 0.0) / interval + 1e-9)) + 1
    targets = np.arange(n, dtype=np.float64) * interval
    idx = np.searchsorted(starts, targets + _EPS, side="right") - 1
    idx = np.clip(idx, 0, len(starts) - 1)
    return np.unique(idx)


class FrameSampler:
    """Frames sampled about every ``interval`` seconds, by real timestamps.

    ``FrameSampler(path, interval=1.0, max_side=448, *, backend="auto", threads=0)``

    Attributes: ``backend`` ("decord" or "pyav"; may change from "decord" to "pyav" during
    iteration if decord fails mid-file), ``info`` (:class:`VideoInfo`), ``truncated`` (set
    during iteration when the file ends early), ``warnings`` (list of human-readable lines: mid-file
    decode errors, truncation, backend fallback), ``fallback_reason`` (why PyAV is used, or None).

    Raises MediaError on open (missing, empty, not a video, no video stream, zero frames,
    undecodable). Iteration does not raise for a truncated or partly corrupt file; see the module
    docstring. ``backend="decord"`` or ``"pyav"`` forces one (``"decord"`` raises MediaError if
    decord cannot read the file).

    ``shots``: an object with ``push(time, rgb)`` (a :class:`mmsearch.analysis.scenes.ShotStream`) that
    receives *every* decoded frame, scaled to ``SHOT_SIZE`` (48x27, RGB uint8, as stored: display
    rotation is not applied) in the same decoding pass that yields the sampled frames, so scene
    detection never decodes the file a second time. It uses PyAV (decord decodes only what it is
    asked for); the scaling costs about 0.3 ms of CPU per frame.
    """

    def __init__(self, path, interval: float = 1.0, max_side: int = 448, *,
                 backend: str = "auto", threads: int = 0, shots=None) -> None:
        if not interval or interval <= 0:
            raise ValueError("interval must be > 0")
        if not max_side or max_side < 8:
            raise ValueError("max_side must be >= 8")
        if backend not in ("auto", "decord", "pyav"):
            raise ValueError("backend must be 'auto', 'decord' or 'pyav'")
        self.path = Path(path)
        self.interval = float(interval)
        self.max_side = int(max_side)
        self.threads = int(threads)
        self.truncated = False
        self.warnings: list[str] = []
        self.fallback_reason: str | None = None
        self._probe = _probe(self.path)
        self.info: VideoInfo = self._probe.info
        self._vr: Any = None  # decord's VideoReader when decord opened the file
        self._starts: np.ndarray | None = None
        self._index_short = False
        self.shots = shots
        if shots is not None and backend == "decord":
            raise ValueError("a shot stream needs every frame: use backend 'auto' or 'pyav'")
        if shots is not None:
            backend = "pyav"   # decord would need a second pass for every frame at 48x27
        if backend != "pyav":
            try:
                self._open_decord()
            except Exception as exc:
                reason = _short(exc)
                if backend == "decord":
                    raise MediaError(f"decord cannot read {_name(self.path)}: {reason}",
                                     stage="decode") from exc
                self._vr = None
                self.fallback_reason = f"decord could not be used ({reason}); decoded with PyAV"
        self.backend = "decord" if self._vr is not None else "pyav"

    # -- decord ---------------------------------------------------------------------------

    def _open_decord(self) -> None:
        p = self._probe
        if p.rotation:
            raise RuntimeError(f"video is rotated by {p.rotation} degrees")
        import decord  # lazy: importing decord is not free, and it may be absent

        w, h = _fit(*p.display_size, self.max_side)
        codec = p.info.codec.lower()
        threads = 1 if codec in ("vp9", "vp8") else _decoder_threads(self.threads, p)
        vr = decord.VideoReader(str(self.path), ctx=decord.cpu(0), width=w, height=h,
                                num_threads=threads)
        n = len(vr)
        if n <= 0:
            raise RuntimeError("decord found no frames")
        ts = np.asarray(vr.get_frame_timestamp(np.arange(n)), dtype=np.float64)
        starts = ts[:, 0]
        if not np.all(np.isfinite(ts)):
            raise RuntimeError("decord returned invalid timestamps")
        if n > 1 and np.any(np.diff(starts) <= 0):
            raise RuntimeError("decord returned unsorted or duplicate timestamps")
        frame_dur = 1.0 / p.info.avg_fps if p.info.avg_fps else 0.04
        if abs(starts[0] - p.first_time) > max(0.002, frame_dur / 2):
            raise RuntimeError(f"decord's first timestamp {starts[0]:.3f}s differs from PyAV's "
                               f"{p.first_time:.3f}s")
        self._vr = vr
        self._starts = starts
        end = float(ts[-1, 1]) if ts[-1, 1] > ts[-1, 0] else float(starts[-1]) + frame_dur
        if p.declared_frames and n + 2 < p.declared_frames:
            self._index_short = True
        elif p.declared_duration and end < p.declared_duration - self._tolerance():
            self._index_short = True
        duration = p.info.duration if p.info.duration > 0 else end
        if not self._index_short:
            avg = n / duration if duration > 0 else p.info.avg_fps
            self.info = replace(p.info, frame_count=n, duration=duration, avg_fps=float(avg))

    def _tolerance(self) -> float:
        fps = self.info.avg_fps or 25.0
        return max(1.0, 2.0 / fps)

    def _iter_decord(self) -> Iterator[SampledFrame]:
        starts = self._starts
        if starts is None:
            raise MediaError("decord was not opened for this file")  # _iter_decord runs only after it was
        idx = _sample_indices(starts, self.interval)
        last_time: float | None = None
        for i in range(0, len(idx), _BATCH):
            chunk = [int(j) for j in idx[i:i + _BATCH]]
            try:
                batch = self._vr.get_batch(chunk).asnumpy()
            except Exception as exc:  # noqa: BLE001 - decord raises its own types; reported, PyAV takes over
                msg = _short(exc)
                self.warnings.append(f"decord failed decoding the frames at "
                                     f"{starts[chunk[0]]:.2f}-{starts[chunk[-1]]:.2f}s ({msg}); "
                                     f"continued with PyAV")
                self.fallback_reason = f"decord failed mid-file ({msg})"
                self.backend = "pyav"
                self._vr = None
                yield from self._iter_pyav(after=last_time)
                return
            for j, arr in zip(chunk, batch):
                last_time = float(starts[j])
                yield SampledFrame(time=last_time, image=Image.fromarray(arr, "RGB"))
        if self._index_short:
            # decord's demuxer (FFmpeg 4.1) stopped early: a truncated file, or damage that a newer
            # FFmpeg can resync past. Let PyAV try the rest; it marks the file truncated if it
            # cannot reach the stated end either.
            resumed = False
            for frame in self._iter_pyav(after=last_time):
                if not resumed:
                    resumed = True
                    self.backend = "pyav"
                    self.fallback_reason = "decord's index ended early; PyAV decoded the rest"
                yield frame

    # -- PyAV ----------------------------------------------------------------------------

    def _iter_pyav(self, after: float | None = None) -> Iterator[SampledFrame]:
        reader = _PyAVReader(self.path, self._probe, self.threads)
        try:
            interval = self.interval
            k = 0 if after is None else int(math.floor(after / interval + 1e-9)) + 1
            prev = None            # (time, frame) of the previous decoded frame
            emitted: float | None = after
            last_t = None

            def emit(t, frame):
                return SampledFrame(time=t, image=_frame_image(frame, self._probe, self.max_side))

            sink = self.shots
            small = VideoReformatter() if sink is not None else None
            for t, frame in reader.frames(start=after):
                last_t = t
                if after is not None and t <= after + _EPS:
                    prev = (t, frame)
                    continue
                if sink is not None and small is not None:
                    sink.push(t, small.reformat(frame, width=SHOT_SIZE[0], height=SHOT_SIZE[1], format="rgb24",
                                                interpolation="AREA").to_ndarray())
                # every target before this frame is shown by the previous frame
                while k * interval + _EPS < t:
                    chosen = prev if prev is not None else (t, frame)
                    if emitted is None or chosen[0] > emitted + 1e-9:
                        emitted = chosen[0]
                        yield emit(*chosen)
                    k += 1
                prev = (t, frame)
            if prev is not None:
                while k * interval <= prev[0] + _EPS:
                    if emitted is None or prev[0] > emitted + 1e-9:
                        emitted = prev[0]
                        yield emit(*prev)
                    k += 1
            if reader.decode_errors:
                self.warnings.append(f"{reader.decode_errors} undecodable packet(s) skipped "
                                     f"({reader.last_error})")
            end = last_t
            if reader.demux_error:
                self._mark_truncated(end, f"read error: {reader.demux_error}")
            elif end is None:
                self._mark_truncated(after, "no frame could be decoded past this point")
            else:
                frame_dur = 1.0 / self.info.avg_fps if self.info.avg_fps else 0.04
                expected = self._probe.declared_duration
                if expected and end + frame_dur < expected - self._tolerance():
                    self._mark_truncated(end, "the file ends before its stated length")
                elif self.info.duration <= 0:
                    self.info = replace(self.info, duration=end + frame_dur)
        finally:
            reader.close()

    def _mark_truncated(self, end: float | None, why: str) -> None:
        if self.truncated:
            return
        self.truncated = True
        at = f" at {end:.2f}s" if end is not None else ""
        stated = self._probe.declared_duration
        of = f" of {stated:.2f}s" if stated else ""
        self.warnings.append(f"truncated or corrupt: decoding stopped{at}{of} ({why})")

    # -- public ---------------------------------------------------------------------------

    def __iter__(self) -> Iterator[SampledFrame]:
        if self._vr is not None and self.backend == "decord":
            return self._iter_decord()
        return self._iter_pyav()

    def close(self) -> None:
        self._vr = None

    def __enter__(self) -> FrameSampler:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"FrameSampler({str(self.path)!r}, interval={self.interval}, "
                f"max_side={self.max_side}, backend={self.backend!r})")


# ------------------------------------------------------------------------------ exact frames

def frame_at(path, time: float, max_side: int | None = None) -> Image.Image:
    """The exact frame shown at ``time`` seconds (the last frame whose timestamp is <= time).

    Before the first frame: the first frame; past the end: the last frame. Decodes with PyAV
    from the keyframe before ``time`` (checking the seek). Raises MediaError.
    """
    path = Path(path)
    probe = _probe(path)
    reader = _PyAVReader(path, probe, threads=0)
    try:
        best = None
        for t, frame in reader.frames(start=time):
            if t <= time + _EPS:
                best = frame
            else:
                if best is None:
                    best = frame
                break
        if best is None:
            raise MediaError(f"truncated or corrupt: no frame of {_name(path)} could be decoded "
                             f"near {time:.2f}s", stage="decode")
        return _frame_image(best, probe, max_side)
    finally:
        reader.close()


def _split_point(thumbs: Sequence[np.ndarray]) -> int:
    """Index of the first frame of the new shot in a run of frames that starts in the old shot
    and ends in the new one: the split minimising the frames' distance to their own end frame."""
    a, b = thumbs[0], thumbs[-1]
    da = np.array([float(np.mean(np.abs(t - a))) for t in thumbs])
    db = np.array([float(np.mean(np.abs(t - b))) for t in thumbs])
    # cost(i) = sum(da[:i]) + sum(db[i:]), for i in 1..n-1
    ca = np.cumsum(da)
    cb = np.cumsum(db[::-1])[::-1]
    costs = [ca[i - 1] + cb[i] for i in range(1, len(thumbs))]
    return 1 + int(np.argmin(costs))


def _refine_with(reader: _PyAVReader, before: float, after: float) -> float:
    times: list[float] = []
    thumbs: list[np.ndarray] = []
    for t, frame in reader.frames(start=before):
        if t < before - _EPS:
            continue
        if t > after + _EPS:
            break
        times.append(t)
        thumbs.append(_frame_thumb(frame))
    if len(times) < 2:
        return float(after)
    return float(times[_split_point(thumbs)])


def refine_cut(path, before: float, after: float) -> float:
    """Time of the first frame of the new shot, for a cut known to lie in (before, after].

    Decodes every frame in [before, after] (PyAV, from the keyframe before ``before``), shrinks
    each to a 24x24 thumbnail and picks the split that best separates frames like the ``before``
    frame from frames like the ``after`` frame (sum of mean absolute pixel distances to each end).
    Returns ``after`` when fewer than two frames lie in the range. Raises MediaError if the file
    cannot be opened.
    """
    return refine_cuts(path, [(before, after)])[0]


def refine_cuts(path, pairs: Sequence[tuple[float, float]]) -> list[float]:
    """:func:`refine_cut` for several cuts of one file, opening it once."""
    path = Path(path)
    probe = _probe(path)
    reader = _PyAVReader(path, probe, threads=0)
    out: list[float] = []
    try:
        for before, after in pairs:
            before, after = float(before), float(after)
            if after < before:
                before, after = after, before
            reader._open()  # fresh demuxer state for each range (cheap)
            out.append(_refine_with(reader, before, after))
    finally:
        reader.close()
    return out
