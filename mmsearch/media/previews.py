"""Previews: small pictures of a file for people to look at, as encoded bytes (decoding only, no catalog).

- an image: the image scaled down (JPEG);
- a video: the frame shown at ``at`` seconds (JPEG), clamped to the file's duration when it is known;
- a recording: its waveform from ``at`` for ``seconds`` seconds (PNG).

:func:`window` is the rule for which part of a hit a preview shows (a video moment's keyframe, an audio
window's span), so the web page and ``mmsearch search --thumbs`` show the same thing. A file that cannot be
decoded raises :class:`~mmsearch.errors.MediaError` (one line); a kind without previews (texts) raises
:class:`~mmsearch.errors.NotFoundError`.
"""
from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mmsearch.errors import NotFoundError
from mmsearch.kinds import MediaKind

if TYPE_CHECKING:
    from PIL import Image

    from mmsearch.hits import Hit

JPEG_QUALITY = 85
WAVEFORM_RATE = 8000  # samples per second decoded for a waveform: plenty for a few hundred pixel columns
AUDIO_SECONDS = 30.0  # a waveform asked for without a length
HIT_AUDIO_SECONDS = 10.0  # an audio hit without an end
MAX_AUDIO_SECONDS = 600.0
_BACKGROUND, _INK = (24, 30, 42), (110, 190, 255)
_SUFFIXES = {"image/jpeg": ".jpg", "image/png": ".png"}


@dataclass(frozen=True)
class Preview:
    """An encoded preview: ``data`` in the format ``media_type`` names."""

    data: bytes
    media_type: str

    @property
    def suffix(self) -> str:
        """The file name suffix of the format (``.jpg``, ``.png``)."""
        return _SUFFIXES[self.media_type]

    def image(self) -> Image.Image:
        """The preview decoded again, as a PIL image."""
        from PIL import Image

        return Image.open(io.BytesIO(self.data))


@dataclass(frozen=True)
class Window:
    """The part of a file a preview shows: from ``at`` seconds (None: the start, or the whole image) for
    ``seconds`` seconds (audio only; None: the default length)."""

    at: float | None = None
    seconds: float | None = None


def _image_window(start: float | None, end: float | None, keyframe: float | None) -> Window:
    return Window()


def _video_window(start: float | None, end: float | None, keyframe: float | None) -> Window:
    return Window(at=max(0.0, keyframe if keyframe is not None else (start or 0.0)))


def _audio_window(start: float | None, end: float | None, keyframe: float | None) -> Window:
    if start is None:
        return Window()
    span = (end - start) if end is not None and end > start else HIT_AUDIO_SECONDS
    return Window(at=max(0.0, start), seconds=min(span, MAX_AUDIO_SECONDS))


_WINDOWS: dict[str, Callable[[float | None, float | None, float | None], Window]] = {
    MediaKind.IMAGE: _image_window,
    MediaKind.VIDEO: _video_window,
    MediaKind.AUDIO: _audio_window,
}


def window(kind: str, start: float | None = None, end: float | None = None,
           keyframe: float | None = None) -> Window | None:
    """What a preview of a hit (or a whole file, without times) shows; None for kinds without previews."""
    rule = _WINDOWS.get(kind)
    return rule(start, end, keyframe) if rule is not None else None


# -- makers: (path, at, seconds, max_side, duration) -> Preview -----------------------------------------
def _jpeg(image: Image.Image) -> Preview:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return Preview(buf.getvalue(), "image/jpeg")


def _image(path: Path, at: float | None, seconds: float | None, max_side: int, duration: float | None) -> Preview:
    from mmsearch.media.images import load_image

    return _jpeg(load_image(path, max_side=max_side)[0])


def _video_frame(path: Path, at: float | None, seconds: float | None, max_side: int,
                 duration: float | None) -> Preview:
    try:
        from mmsearch.media.video import frame_at
    except ImportError:
        raise NotFoundError("video thumbnails need mmsearch's video support (PyAV)") from None
    t = at or 0.0
    if duration:
        t = min(t, float(duration))
    return _jpeg(frame_at(path, t, max_side))


def _audio_waveform(path: Path, at: float | None, seconds: float | None, max_side: int,
                    duration: float | None) -> Preview:
    try:
        from mmsearch.media.audio import load_audio
    except ImportError:
        raise NotFoundError("audio waveforms need mmsearch's audio support") from None
    samples = load_audio(path, WAVEFORM_RATE, mono=True, max_seconds=seconds or AUDIO_SECONDS, start=at or 0.0)
    return Preview(waveform_png(samples, max_side), "image/png")


def waveform_png(samples: np.ndarray, width: int) -> bytes:
    """A PNG ``width`` pixels wide (16:9) of the samples' envelope: one column per slice, min to max,
    scaled to the loudest sample (silence stays a flat line)."""
    from PIL import Image, ImageDraw

    height = max(24, width * 9 // 16)
    img = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(img)
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    x = x[np.isfinite(x)]
    if x.size:
        peak = float(np.max(np.abs(x))) or 1.0
        mid = height / 2
        for col, chunk in enumerate(np.array_split(x, width)):
            if chunk.size:
                lo, hi = float(chunk.min()) / peak, float(chunk.max()) / peak
                draw.line([(col, mid - hi * (mid - 2)), (col, mid - lo * (mid - 2))], fill=_INK)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


_MAKERS: dict[str, Callable[[Path, float | None, float | None, int, float | None], Preview]] = {
    MediaKind.IMAGE: _image,
    MediaKind.VIDEO: _video_frame,
    MediaKind.AUDIO: _audio_waveform,
}


def thumbnail(kind: str, path: str | Path, *, at: float | None = None, seconds: float | None = None,
              max_side: int = 320, duration: float | None = None) -> Preview:
    """The preview of a file of ``kind``: an image scaled to ``max_side``, a video's frame at ``at`` seconds
    (at most ``duration``), an audio waveform ``max_side`` wide from ``at`` for ``seconds`` seconds.

    Raises MediaError when the file cannot be decoded, NotFoundError for a kind without previews.
    """
    maker = _MAKERS.get(kind)
    if maker is None:
        raise NotFoundError(f"no thumbnail for a {kind} file")
    return maker(Path(path), at, seconds, max_side, duration)


def of_hit(hit: Hit, max_side: int = 320) -> Preview:
    """The preview of a search hit: the part of its file that :func:`window` says the hit shows."""
    shown = window(hit.kind, hit.start, hit.end, hit.keyframe)
    if shown is None:
        raise NotFoundError(f"no thumbnail for a {hit.kind} hit")
    return thumbnail(hit.kind, hit.path, at=shown.at, seconds=shown.seconds, max_side=max_side)
