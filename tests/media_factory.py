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
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageColor

Content = tuple | str | Image.Image
Segments = Sequence[tuple[Content, float]]

DEFAULT_SIZE = (160, 120)

os.environ.setdefault("SVT_LOG", "1")  # keep SVT-AV1 quiet (errors only)


# --------------------------------------------------------------------------------------- codecs

def _has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
        return True
    except av.codec.codec.UnknownCodecError:
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
               faststart: bool = False, audio: bool = False, options: dict | None = None) -> list[float]:
    """Encode ``segments`` into ``path`` (container from the extension) and return the cut times.

    codec: "h264", "vp9", "av1", "mpeg4", "ffv1" or an FFmpeg encoder name.
    frame_times: explicit presentation times (seconds) for a variable-frame-rate file; the
      stream then uses a 1/1000 s time base and these exact times (rounded to ms).
    gop: keyframe interval in frames (default: 2 s worth).
    faststart: for mp4/mov, put the index (moov) at the front (so a truncated copy still opens).
    audio: also add an AAC/Opus sine-tone track of the same length.
    options: encoder options over the defaults (e.g. a libx264 preset that keeps the deblocking filter).
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
        opts = dict(_CODEC_OPTIONS.get(enc, {})) | (options or {})
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


# --------------------------------------------------------------------------------------- footage
# "Real footage" for scene-cut tests and benchmarks: shots filmed by a virtual camera over the real
# photos in sample_data/images (pans, zooms, handheld shake, moving crops, lighting changes, a moving
# object), joined by hard cuts, dissolves or fades through black, with flashes (a few bright frames)
# and single glitched frames inside shots. Every transition's true time span is returned.

FOOTAGE_IMAGES = ("astronaut.jpg", "cat.jpg", "coffee.jpg", "rocket.jpg", "deep_field.jpg", "temple.jpg",
                  "flower.jpg")
MOTIONS = ("pan", "zoom", "shake", "crop", "light", "object")


@dataclass(frozen=True)
class Shot:
    """One shot: ``image`` (a Pillow image) seen for ``duration`` s by a camera doing ``motions``.

    ``box``: where the camera starts and ends, ``((cx, cy, zoom), (cx, cy, zoom))`` as fractions of
    the photo (zoom 1 = the largest box of the output's aspect ratio). ``flashes``/``glitches``: times
    (s, from the shot's start) of a 2-3 frame bright flash / of one corrupted frame."""
    image: Image.Image
    duration: float
    motions: tuple = ("pan",)
    box: tuple = ((0.4, 0.5, 1.2), (0.6, 0.5, 1.2))
    flashes: tuple = ()
    glitches: tuple = ()
    seed: int = 0


@dataclass(frozen=True)
class Transition:
    kind: str          # "cut", "dissolve" or "fade"
    start: float       # seconds: first frame that differs from the outgoing shot (a cut: start == end)
    end: float         # first frame that is purely the incoming shot


def _camera(shot: Shot, u: float, size: tuple[int, int]) -> np.ndarray:
    """The RGB frame of ``shot`` ``u`` seconds after it began."""
    w, h = size
    img = shot.image
    iw, ih = img.size
    frac = min(max(u / max(shot.duration, 1e-6), 0.0), 1.0)
    s = frac * frac * (3 - 2 * frac)
    (ax, ay, az), (bx, by, bz) = shot.box
    cx, cy, z = ax + (bx - ax) * s, ay + (by - ay) * s, az + (bz - az) * s
    if "zoom" not in shot.motions:
        z = az
    if "pan" not in shot.motions and "crop" not in shot.motions:
        cx, cy = ax, ay
    if "crop" in shot.motions:   # a crop that wanders (a reframing camera operator)
        cx += 0.08 * math.sin(2.1 * u + shot.seed)
        cy += 0.06 * math.sin(1.3 * u + 2 * shot.seed)
    bw = min(iw, ih * w / h)
    bh = bw * h / w
    bw, bh = bw / max(z, 1.0), bh / max(z, 1.0)
    if "shake" in shot.motions:  # handheld: a few pixels of jitter, frame to frame
        rng = np.random.default_rng((shot.seed, int(round(u * 1000))))
        cx += float(rng.normal(0, 0.012))
        cy += float(rng.normal(0, 0.012))
    x0 = min(max(cx * iw - bw / 2, 0), iw - bw)
    y0 = min(max(cy * ih - bh / 2, 0), ih - bh)
    arr = np.asarray(img.resize((w, h), Image.BILINEAR, box=(x0, y0, x0 + bw, y0 + bh)), dtype=np.float32)
    if "light" in shot.motions:  # the light changes: a cloud passes, a lamp dims
        arr = arr * (0.75 + 0.35 * (0.5 + 0.5 * math.sin(1.7 * u + shot.seed)))
    if "object" in shot.motions:  # something crosses the frame
        r = max(3, h // 6)
        px = int(-r + (w + 2 * r) * ((u / 2.5 + 0.1 * shot.seed) % 1.0))
        py = int(h / 2 + h / 4 * math.sin(2.5 * u))
        yy, xx = np.ogrid[:h, :w]
        disc = (yy - py) ** 2 + (xx - px) ** 2 <= r * r
        arr[disc] = (200 + 30 * (shot.seed % 2), 60, 40 + 40 * (shot.seed % 3))
    for t0 in shot.flashes:  # a photographer's flash: 2-3 frames washed out towards white
        k = (u - t0) / 0.04
        if 0 <= k < 3:
            a = (0.85, 0.6, 0.3)[int(k)]
            arr = arr * (1 - a) + 255 * a
    for t0 in shot.glitches:  # one corrupted frame: blocks shifted and a band of noise
        if 0 <= u - t0 < 0.04:
            rng = np.random.default_rng((shot.seed, 7))
            arr = np.roll(arr, w // 3, axis=1)
            y0 = int(h * 0.3)
            arr[y0:y0 + h // 3] = rng.integers(0, 255, arr[y0:y0 + h // 3].shape)
    return np.clip(arr, 0, 255).astype(np.uint8)


def make_footage(path: str | os.PathLike, shots: Sequence[Shot], joins: Sequence[tuple[str, float]], *,
                 codec: str = "h264", fps: float = 25, size: tuple[int, int] = (192, 108)) -> list[Transition]:
    """Encode ``shots`` joined by ``joins`` (one ``(kind, seconds)`` per pair of shots: ``("cut", 0)``,
    ``("dissolve", 0.6)``, ``("fade", 0.8)`` = fade out to black then in) and return the transitions.

    A dissolve or fade overlaps the two shots by its length (the outgoing shot's last ``seconds``
    blend into the incoming shot's first)."""
    if len(joins) != len(shots) - 1:
        raise ValueError("one join per pair of consecutive shots")
    # timeline: shot k starts at starts[k]; a transition of length d overlaps shots k-1 and k by d
    starts = [0.0]
    for shot, (kind, d) in zip(shots[:-1], joins):
        starts.append(starts[-1] + shot.duration - (d if kind != "cut" else 0.0))
    total = starts[-1] + shots[-1].duration
    n = int(round(total * fps))
    times = [i / fps for i in range(n)]
    truth: list[Transition] = []
    for k, (kind, d) in enumerate(joins, start=1):
        a = starts[k]
        first = next(t for t in times if t >= a - 1e-9)
        if kind == "cut":
            truth.append(Transition("cut", first, first))
        else:
            end = next((t for t in times if t >= a + d - 1e-9), times[-1])
            truth.append(Transition(kind, first, end))

    def frame_at(t: float) -> np.ndarray:
        k = max(j for j in range(len(shots)) if starts[j] <= t + 1e-9)
        cur = _camera(shots[k], t - starts[k], size).astype(np.float32)
        if k >= 1:
            kind, d = joins[k - 1]
            into = t - starts[k]
            if kind != "cut" and into < d:
                a = into / d
                prev = _camera(shots[k - 1], t - starts[k - 1], size).astype(np.float32)
                if kind == "dissolve":
                    cur = prev * (1 - a) + cur * a
                else:  # fade: out to black over the first half, in over the second
                    cur = prev * max(0.0, 1 - 2 * a) if a < 0.5 else cur * min(1.0, 2 * a - 1)
        return np.clip(cur, 0, 255).astype(np.uint8)

    enc = {"h264": h264_encoder(), "vp9": "libvpx-vp9", "av1": av1_encoder()}.get(codec, codec)
    if enc is None:
        raise RuntimeError(f"no encoder for {codec} in this PyAV build")
    out = av.open(str(path), "w")
    try:
        rate = Fraction(fps).limit_denominator(1001)
        stream = out.add_stream(enc, rate=rate)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = 1 / rate
        stream.codec_context.gop_size = int(round(2 * fps))
        stream.options = dict(_CODEC_OPTIONS.get(enc, {}))
        for i, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray(frame_at(t), format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            frame.time_base = 1 / rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    finally:
        out.close()
    return truth


def footage_images(root: str | os.PathLike | None = None) -> list[Image.Image]:
    """The sample photos, RGB, longest side <= 640."""
    base = Path(root) if root else Path(__file__).resolve().parents[1] / "sample_data" / "images"
    return [Image.open(base / name).convert("RGB") for name in FOOTAGE_IMAGES]


def random_footage_plan(seed: int, *, n_shots: int = 10, stills: bool = False, shot_range=(1.5, 4.5),
                        images: Sequence[Image.Image] | None = None):
    """(shots, joins) of a random edit: different photos or parts of photos in consecutive shots.

    stills=True: still photos with a slow zoom or pan and hard cuts only. Otherwise each shot has one
    or two camera motions, transitions are cuts (50 %), dissolves of 0.4-0.8 s (25 %) or fades through
    black of 0.5-1.0 s (25 %), and about one shot in three has a flash or a glitched frame."""
    rng = np.random.default_rng(seed)
    images = list(images) if images is not None else footage_images()
    shots, joins, last = [], [], -1
    for k in range(n_shots):
        i = int(rng.integers(len(images)))
        while i == last:
            i = int(rng.integers(len(images)))
        last = i
        d = float(rng.uniform(*shot_range))
        cx, cy = float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.35, 0.65))
        z = float(rng.uniform(1.0, 1.8))
        if stills:
            motions = ("zoom",) if rng.random() < 0.5 else ("pan",)
            end = (cx + float(rng.uniform(-0.05, 0.05)), cy, z * float(rng.uniform(1.05, 1.2)))
            shots.append(Shot(images[i], d, motions, ((cx, cy, z), end), seed=k))
        else:
            motions = tuple(rng.choice(MOTIONS, size=int(rng.integers(1, 3)), replace=False).tolist())
            end = (cx + float(rng.uniform(-0.2, 0.2)), cy + float(rng.uniform(-0.1, 0.1)),
                   z * float(rng.uniform(0.8, 1.3)))
            flashes, glitches = (), ()
            extra = rng.random()
            if extra < 0.2 and d > 1.5:
                flashes = (float(rng.uniform(0.6, d - 0.9)),)
            elif extra < 0.35 and d > 1.5:
                glitches = (float(rng.uniform(0.6, d - 0.9)),)
            shots.append(Shot(images[i], d, motions, ((cx, cy, z), end), flashes, glitches, seed=k))
        if k:
            r = rng.random()
            if stills or r < 0.5:
                joins.append(("cut", 0.0))
            elif r < 0.75:
                joins.append(("dissolve", round(float(rng.uniform(0.4, 0.8)), 2)))
            else:
                joins.append(("fade", round(float(rng.uniform(0.5, 1.0)), 2)))
    return shots, joins


def picture_copies(image, resample=None) -> dict:
    """The copies a library collects of a picture: JPEG q60, half size (``resample``: PIL's default when
    None), 10 % cropped around the centre, colours shifted (tests/e2e/query/test_duplicates.py, bench_duplicates.py)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=60)
    w, h = image.size
    shifted = np.clip(np.asarray(image, np.float32) * np.array([1.1, 0.95, 0.85]) + 10, 0, 255).astype(np.uint8)
    half = image.resize((w // 2, h // 2)) if resample is None else image.resize((w // 2, h // 2), resample)
    return {
        "q60": Image.open(io.BytesIO(buf.getvalue())).convert("RGB"),
        "half": half,
        "crop": image.crop((w // 20, h // 20, w - w // 20, h - h // 20)),
        "colour": Image.fromarray(shifted),
    }
