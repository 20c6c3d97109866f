"""Probing a video: open it with PyAV (safe on bad input), find its video stream, decode its first frame.

Every failure is a :class:`~mmsearch.errors.MediaError` whose message says what is wrong with the file
(stage ``open``, or ``decode`` when the stream opens but no frame decodes). The probe is what every
decoding path starts from: the sampler's backends, the exact frames and the cut refinement.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from mmsearch.errors import MediaError
from mmsearch.media.metadata import container_tags

EPS = 1e-4  # seconds; timestamps closer than this are treated as equal


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
class Probe:
    """:class:`VideoInfo` and the stream facts the decoders need."""

    info: VideoInfo
    start_pts: int            # stream.start_time (0 if unknown)
    time_base: Fraction
    rotation: int             # degrees counter-clockwise (PyAV's frame.rotation), 0/±90/180
    first_time: float         # time of the first decoded frame
    coded_size: tuple[int, int]    # (w, h) of the decoded pictures, before SAR / rotation
    display_size: tuple[int, int]  # (w, h) after SAR, before rotation
    declared_frames: int      # stream.frames (0 if the container does not say)
    declared_duration: float | None   # the container's idea of the video's length


def file_name(path: Path) -> str:
    return path.name or str(path)


def ffmpeg_message(exc: BaseException) -> str:
    msg = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(msg).strip().rstrip(".")


def open_container(path: Path) -> av.container.InputContainer:
    """Open with PyAV, turning every failure into a MediaError (stage 'open')."""
    if not path.exists():
        raise MediaError(f"file not found: {path}", stage="open")
    if path.is_dir():
        raise MediaError(f"not a file: {path}", stage="open")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise MediaError(f"cannot read {file_name(path)}: {exc}", stage="open") from exc
    if size == 0:
        raise MediaError(f"empty file (0 bytes): {file_name(path)}", stage="open")
    try:
        return av.open(str(path), metadata_errors="replace")
    except av.error.EOFError as exc:
        raise MediaError(f"zero frames or truncated: {file_name(path)} ends before its first frame",
                         stage="open") from exc
    except PermissionError as exc:
        raise MediaError(f"permission denied: {path}", stage="open") from exc
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise MediaError(
            f"truncated or corrupt: {file_name(path)} cannot be opened as a video "
            f"({ffmpeg_message(exc)})", stage="open") from exc


def video_stream(container, path: Path):
    streams = [s for s in container.streams.video
               if not (s.disposition & av.stream.Disposition.attached_pic)]
    if not streams:
        kinds = sorted({s.type for s in container.streams})
        has = f" (it has only {', '.join(kinds)})" if kinds else " (it has no streams at all)"
        raise MediaError(f"no video stream in {file_name(path)}{has}", stage="open")
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


# The in-loop deblocking filter smooths the edges of a codec's 4-16 px blocks. A decode whose pictures are all
# scaled down by at least this factor (the sampled frames to ``max_side``, the shot stream to 48x27) averages
# those edges away, so it skips the filter (FFmpeg's skip_loop_filter=all). Measured on this project's 2-core
# machine: 1080p H.264 decodes with ~25 % less CPU; the sampled frames move by 0.2-2 of 255 on average (real
# footage: Big Buck Bunny 720p), their ViT-B-32 vectors keep cosine >= 0.9995, and the cut lists stay the same.
LOOP_FILTER_SCALE = 2.5


def loop_filter_needed(probe: Probe, max_side: int | None) -> bool:
    """Whether a decode whose pictures are at most ``max_side`` on their longest side needs the loop filter:
    yes unless the video's longest side is at least :data:`LOOP_FILTER_SCALE` times ``max_side``
    (no ``max_side``: full-size pictures, always)."""
    return not max_side or max(probe.display_size) < LOOP_FILTER_SCALE * max_side


def decoder_threads(threads: int, probe: Probe) -> int:
    """Resolve ``threads=0`` (auto): 1 below 720p, FFmpeg's choice (0) from 720p up."""
    if threads > 0:
        return threads
    w, h = probe.coded_size
    return 0 if w * h >= 1280 * 720 else 1


def _first_frame(container, stream, path: Path, codec: str):
    """Decode the first frame: proves the codec is supported and the stream has frames."""
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
                error = ffmpeg_message(exc)
                if packets > 200:
                    break
                continue
            if frames:
                first = frames[0]
                break
            if packets > 500:   # a decoder that never outputs anything
                break
    except (av.error.FFmpegError, OSError) as exc:
        error = ffmpeg_message(exc)
    if first is None:
        if packets == 0 and error is None:
            raise MediaError(f"zero frames: the video stream of {file_name(path)} has no frames",
                             stage="open")
        if error and "decoder" in error.lower() and "not found" in error.lower():
            raise MediaError(f"unsupported video codec '{codec}' in {file_name(path)}", stage="open")
        raise MediaError(f"truncated or corrupt: no frame of {file_name(path)} could be decoded"
                         f" ({error or 'the decoder produced no picture'})", stage="decode")
    return first


def probe(path) -> Probe:
    """Header and first frame of ``path``: :class:`Probe`. Raises MediaError for a non-video."""
    path = Path(path)
    container = open_container(path)
    try:
        stream = video_stream(container, path)
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
        first = _first_frame(container, stream, path, codec)

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
        return Probe(info=info, start_pts=int(start_pts), time_base=Fraction(tb),
                     rotation=rotation, first_time=first_time, coded_size=(cw, ch),
                     display_size=(dw, dh), declared_frames=declared_frames,
                     declared_duration=declared)
    except MediaError:
        raise
    except Exception as exc:  # anything PyAV throws on a strange file
        raise MediaError(f"truncated or corrupt: {file_name(path)} ({ffmpeg_message(exc)})",
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
    return probe(path).info
