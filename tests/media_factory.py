"""Generate small test media with PyAV, with known content and known cut times.

Every video function takes an output path and a list of ``(content, duration_seconds)``
segments, where ``content`` is an RGB colour (tuple or Pillow colour name) or a Pillow image,
and returns the exact cut times: the presentation time, in seconds, of the first frame of every
segment after the first (so ``len(result) == len(segments) - 1``). Times are counted from the
first frame (the convention :mod:`mmsearch.media.video` uses).

Frames are never fully static: a small bright square drifts across each frame (``motion=True``)
and image segments pan slowly, so the encoders produce real inter frames. Videos are tiny
(160x120 by default) so that generating one takes well under a second.

Use :func:`encoders` to ask which encoders this PyAV build has (H.264 and AV1 may be missing
from some builds); tests should skip a case when its encoder is absent.
"""
from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path
from typing import Sequence, Union

import av
import numpy as np
from PIL import Image, ImageColor

Content = Union[tuple, str, Image.Image]
Segments = Sequence[tuple[Content, float]]

DEFAULT_SIZE = (160, 120)

os.environ.setdefault("SVT_LOG", "1")  # keep SVT-AV1 quiet (errors only)


# --------------------------------------------------------------------------------------- codecs

def _has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
        return True
    except Exception:
        return False


def h264_encoder() -> str | None:
    """Name of an H.264 encoder this PyAV build has (libx264 preferred), or None."""
    for name in ("libx264", "libopenh264"):
        if _has_encoder(name):
            return name
    return None


def av1_encoder() -> str | None:
    """Name of an AV1 encoder this PyAV build has, or None."""
    for name in ("libsvtav1", "libaom-av1", "librav1e"):
        if _has_encoder(name):
            return name
    return None


def encoders() -> dict[str, str | None]:
    """{'h264': ..., 'vp9': ..., 'av1': ..., 'mpeg4': ..., 'aac': ...} -> encoder name or None."""
    return {
        "h264": h264_encoder(),
        "vp9": "libvpx-vp9" if _has_encoder("libvpx-vp9") else None,
        "av1": av1_encoder(),
        "mpeg4": "mpeg4" if _has_encoder("mpeg4") else None,
        "aac": "aac" if _has_encoder("aac") else None,
    }


# (container extension / codec) presets used by make_video
_CODEC_OPTIONS = {
    "libx264": {"preset": "ultrafast", "crf": "23"},
    "libopenh264": {},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8", "crf": "32", "b": "0", "row-mt": "1"},
    # low-delay prediction: SVT-AV1's default random-access structure at fast presets produced
    # two smeared frames just before a hard cut, which would move the true cut
    "libsvtav1": {"preset": "10", "crf": "30", "svtav1-params": "lp=1:pred-struct=1"},
    "libaom-av1": {"cpu-used": "8", "usage": "realtime"},
    "librav1e": {"speed": "10"},
    "mpeg4": {"qscale": "4"},
}


# --------------------------------------------------------------------------------------- frames

def _to_rgb(content: Content) -> tuple[int, int, int] | Image.Image:
    if isinstance(content, Image.Image):
        return content.convert("RGB")
    if isinstance(content, str):
        return ImageColor.getrgb(content)[:3]
    return tuple(int(c) for c in content[:3])


def render_frame(content: Content, t_in_segment: float, size: tuple[int, int] = DEFAULT_SIZE,
                 motion: bool = True) -> np.ndarray:
    """The RGB frame (H, W, 3) uint8 that segment ``content`` shows ``t_in_segment`` s after it began."""
    w, h = size
    c = _to_rgb(content)
    if isinstance(c, Image.Image):
        # slow pan: crop a window of 80 % of the picture that drifts left to right
        img = c
        scale = max(w / (img.width * 0.8), h / (img.height * 0.8))
        big = img.resize((max(w + 2, round(img.width * scale)), max(h + 2, round(img.height * scale))),
                         Image.BILINEAR)
        span_x = big.width - w
        span_y = big.height - h
        frac = (math.sin(t_in_segment * 0.7) + 1) / 2 if motion else 0.5
        x0 = int(round(frac * span_x))
        y0 = int(round(span_y / 2))
        arr = np.asarray(big.crop((x0, y0, x0 + w, y0 + h)), dtype=np.uint8).copy()
    else:
        arr = np.empty((h, w, 3), dtype=np.uint8)
        arr[:] = np.array(c, dtype=np.uint8)
    if motion:
        s = max(4, h // 10)
        x = int((t_in_segment * 40) % max(1, w - s))
        y = int((h - s) / 2 + (h / 4) * math.sin(t_in_segment * 3))
        arr[y:y + s, x:x + s] = (235, 235, 235)
    return arr


def _frame_schedule(segments: Segments, fps: float | None, times: Sequence[float] | None):
    """Frame times and the segment index of each frame."""
    bounds = np.concatenate([[0.0], np.cumsum([float(d) for _, d in segments])])
    total = float(bounds[-1])
    if times is None:
        n = int(round(total * fps))
        times = [i / fps for i in range(n)]
    times = [float(t) for t in times if t < total - 1e-9]
    seg_of = [int(np.searchsorted(bounds, t + 1e-9, side="right") - 1) for t in times]
    return times, seg_of, bounds


def _cuts(times: list[float], seg_of: list[int], n_segments: int) -> list[float]:
    cuts = []
    for k in range(1, n_segments):
        first = next((t for t, s in zip(times, seg_of) if s == k), None)
        if first is None:
            raise ValueError(f"segment {k} is too short to hold a frame")
        cuts.append(first)
    return cuts


# --------------------------------------------------------------------------------------- videos

def make_video(path: str | os.PathLike, segments: Segments, *, codec: str = "h264",
               fps: float = 25, size: tuple[int, int] = DEFAULT_SIZE, motion: bool = True,
               frame_times: Sequence[float] | None = None, gop: int | None = None,
               faststart: bool = False, audio: bool = False) -> list[float]:
    """Encode ``segments`` into ``path`` (container from the extension) and return the cut times.

    codec: "h264", "vp9", "av1", "mpeg4", "ffv1" or an FFmpeg encoder name.
    frame_times: explicit presentation times (seconds) for a variable-frame-rate file; the
      stream then uses a 1/1000 s time base and these exact times (rounded to ms).
    gop: keyframe interval in frames (default: 2 s worth).
    faststart: for mp4/mov, put the index (moov) at the front (so a truncated copy still opens).
    audio: also add an AAC/Opus sine-tone track of the same length.
    """
    path = Path(path)
    enc = {"h264": h264_encoder(), "vp9": "libvpx-vp9", "av1": av1_encoder()}.get(codec, codec)
    if enc is None:
        raise RuntimeError(f"no encoder for {codec} in this PyAV build")
    times, seg_of, bounds = _frame_schedule(segments, fps, frame_times)
    if frame_times is not None:
        times = [round(t * 1000) / 1000 for t in times]
    cuts = _cuts(times, seg_of, len(segments))

    container_options = {}
    if faststart and path.suffix.lower() in (".mp4", ".mov", ".m4v"):
        container_options["movflags"] = "+faststart"
    out = av.open(str(path), "w", container_options=container_options)
    try:
        vfr = frame_times is not None
        rate = Fraction(fps).limit_denominator(1001) if not vfr else None
        stream = out.add_stream(enc, rate=rate if rate else 25)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        if vfr:
            tb = Fraction(1, 1000)
            stream.codec_context.time_base = tb
            stream.time_base = tb
        else:
            tb = Fraction(1, 1) / rate
            stream.codec_context.time_base = tb
        stream.codec_context.gop_size = gop or max(1, int(round(2 * (fps or 25))))
        opts = dict(_CODEC_OPTIONS.get(enc, {}))
        if enc == "libx264" and vfr:
            opts["x264-params"] = "force-cfr=0"
        stream.options = opts

        astream = None
        if audio:
            acodec = "aac" if path.suffix.lower() in (".mp4", ".mov", ".m4v", ".mkv") else "libopus"
            astream = out.add_stream(acodec, rate=48000)
            astream.layout = "mono"

        for i, (t, k) in enumerate(zip(times, seg_of)):
            arr = render_frame(segments[k][0], t - bounds[k], size, motion)
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24").reformat(format="yuv420p")
            frame.pts = int(round(t / tb))
            frame.time_base = tb
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
        if astream is not None:
            _encode_sine(out, astream, float(bounds[-1]))
    finally:
        out.close()
    return cuts


def _encode_sine(out, astream, duration: float, freq: float = 440.0) -> None:
    rate = astream.codec_context.sample_rate or 48000
    n = int(duration * rate)
    t = np.arange(n) / rate
    pcm = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    chunk = 1024
    for start in range(0, n, chunk):
        block = pcm[start:start + chunk][None, :]
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="flt", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        for packet in astream.encode(frame):
            out.mux(packet)
    for packet in astream.encode(None):
        out.mux(packet)


def make_h264_mp4(path, segments: Segments, **kw) -> list[float]:
    """H.264 in mp4 (libx264 with B-frames, so decode order != presentation order)."""
    return make_video(path, segments, codec="h264", **kw)


def make_vp9_webm(path, segments: Segments, **kw) -> list[float]:
    """VP9 in WebM."""
    return make_video(path, segments, codec="vp9", **kw)


def make_mkv(path, segments: Segments, codec: str = "mpeg4", **kw) -> list[float]:
    """Matroska; MPEG-4 part 2 by default (another codec family than the other helpers)."""
    return make_video(path, segments, codec=codec, **kw)


def make_av1(path, segments: Segments, **kw) -> list[float]:
    """AV1 (container from the extension: .mkv, .mp4 or .webm). Raises if no AV1 encoder."""
    return make_video(path, segments, codec="av1", **kw)


def irregular_times(total: float, seed: int = 0, lo: float = 0.02, hi: float = 0.12) -> list[float]:
    """Frame times with irregular gaps (``lo``..``hi`` s), starting at 0 and ending before ``total``."""
    rng = np.random.default_rng(seed)
    times, t = [], 0.0
    while t < total - 1e-9:
        times.append(round(t, 3))
        t += float(rng.uniform(lo, hi))
    return times


def make_vfr(path, segments: Segments, *, codec: str = "h264", seed: int = 0, **kw) -> list[float]:
    """Variable frame rate: frame gaps drawn uniformly from 20..120 ms (index/fps is wrong here).

    The first frame of each segment is placed exactly at the segment's start, so the cut times are
    the nominal segment boundaries (rounded to ms)."""
    bounds = np.concatenate([[0.0], np.cumsum([float(d) for _, d in segments])])
    times = irregular_times(float(bounds[-1]), seed)
    times = sorted(set(times) | {round(float(b), 3) for b in bounds[1:-1]})
    return make_video(path, segments, codec=codec, frame_times=times, **kw)


def make_truncated(path, segments: Segments, *, codec: str = "h264", fraction: float = 0.5,
                   faststart: bool = True, **kw) -> float:
    """Encode, then keep only the first ``fraction`` of the file's bytes.

    With ``faststart=True`` (the default) an mp4 keeps its index, so the file opens and the first
    part decodes; WebM/MKV always open. Returns the full (untruncated) duration in seconds."""
    path = Path(path)
    make_video(path, segments, codec=codec, faststart=faststart, **kw)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return float(sum(d for _, d in segments))


def make_zero_frame_video(path, *, codec: str = "h264", size: tuple[int, int] = DEFAULT_SIZE) -> None:
    """A container with a video stream and no frames at all.

    For mp4/mov the file is written fragmented (``empty_moov``): a plain mp4 muxer drops a track
    that has no samples, which would make a file with no streams rather than zero frames. A
    Matroska/WebM file holds the track header and no cluster."""
    enc = {"h264": h264_encoder(), "vp9": "libvpx-vp9"}.get(codec, codec)
    opts = {}
    if Path(path).suffix.lower() in (".mp4", ".mov", ".m4v"):
        opts["movflags"] = "frag_keyframe+empty_moov"
    out = av.open(str(path), "w", container_options=opts)
    try:
        stream = out.add_stream(enc, rate=25)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        out.start_encoding()  # write the header although no packet follows
        for packet in stream.encode(None):
            out.mux(packet)
    finally:
        out.close()


def make_audio_only(path, duration: float = 2.0, freq: float = 440.0) -> None:
    """An audio-only file (AAC in mp4/m4a, Opus in webm/ogg) holding a sine tone."""
    path = Path(path)
    codec = "aac" if path.suffix.lower() in (".mp4", ".m4a", ".mov", ".mkv") else "libopus"
    out = av.open(str(path), "w")
    try:
        astream = out.add_stream(codec, rate=48000)
        astream.layout = "mono"
        _encode_sine(out, astream, duration, freq)
    finally:
        out.close()


def make_random_bytes(path, n: int = 20000, seed: int = 0) -> None:
    """Random bytes under a video extension."""
    Path(path).write_bytes(np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes())


# --------------------------------------------------------------------------------------- reading

def real_frame_times(path) -> list[float]:
    """Presentation times (s, relative to the stream start) of every decoded frame, read with PyAV."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        start = s.start_time or 0
        tb = s.time_base
        return [float((f.pts - start) * tb) for f in c.decode(s)]
