"""The FFmpeg decoder through PyAV: everything libsndfile cannot read (m4a/aac, opus in odd containers, the
soundtrack of mp4/mkv/webm/mov/avi) and the files it rejects. Damaged input decodes as far as it can."""
from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mmsearch.errors import MediaError
from mmsearch.media.audio.base import AudioInfo, Source
from mmsearch.media.metadata import container_tags

if TYPE_CHECKING:  # PyAV is imported when a file needs it
    from av.audio.frame import AudioFrame
    from av.audio.resampler import AudioResampler

log = logging.getLogger(__name__)

_MAX_BAD_PACKETS = 64  # consecutive undecodable packets before we give up on the rest of a stream
_MAX_LEADING_GAP_S = 1.0  # a seek landed after the requested start: pad at most this much silence


def av_reason(e: Exception) -> str:
    msg = getattr(e, "strerror", None) or str(e)
    return str(msg)


class PyAVSource(Source):
    backend = "pyav"

    def __init__(self, path: Path, start: float = 0.0) -> None:
        import av

        self._av = av
        try:
            self._container = av.open(str(path), mode="r", metadata_errors="ignore")
        except av.error.FFmpegError as e:
            raise MediaError(f"{path}: not a readable audio or video file ({av_reason(e)})", stage="decode") from None
        except (OSError, ValueError) as e:
            raise MediaError(f"{path}: cannot open ({e})", stage="decode") from None
        try:
            audio = list(self._container.streams.audio)
            if not audio:
                raise MediaError(f"{path}: no audio stream", stage="decode")
            self._stream = stream = audio[0]
            tb = stream.time_base
            self._t0 = float(stream.start_time * tb) if (stream.start_time is not None and tb) else 0.0
            self._start = max(0.0, float(start))
            if self._start > 0 and tb:
                try:
                    self._container.seek(int((self._start + self._t0) / tb), stream=stream, backward=True)
                except self._av.error.FFmpegError:
                    # unseekable: decode from the top and drop samples until start
                    self._container.close()
                    self._container = av.open(str(path), mode="r", metadata_errors="ignore")
                    self._stream = stream = self._container.streams.audio[0]
            self._frames = self._decode_frames()
            self._resampler: AudioResampler | None = None
            first = next(self._frames, None)
            if first is None:
                raise MediaError(f"{path}: audio stream contains no decodable samples", stage="decode")
            self._first = first
            self.sample_rate = int(first.sample_rate)
            self.channels = max(1, len(first.layout.channels))
            self._path = path
        except BaseException:
            self._container.close()
            raise

    def _decode_frames(self) -> Iterator[AudioFrame]:
        av = self._av
        bad = 0
        decoded_any = False
        try:
            for packet in self._container.demux(self._stream):
                try:
                    frames = packet.decode()
                except av.error.FFmpegError as e:
                    bad += 1
                    if bad >= _MAX_BAD_PACKETS:
                        log.warning("%s: giving up after %d undecodable packets (%s)", self._container.name, bad, e)
                        return
                    continue
                bad = 0 if frames else bad
                for frame in frames:
                    if frame.samples:
                        decoded_any = True
                        yield frame
        except av.error.FFmpegError as e:
            # truncated / damaged container: keep what was decoded
            if not decoded_any:
                raise MediaError(
                    f"{self._container.name}: audio stream cannot be decoded ({av_reason(e)})", stage="decode"
                ) from None
            log.warning("%s: audio ends early, file damaged or truncated (%s)", self._container.name, av_reason(e))

    def _to_array(self, frame: AudioFrame) -> np.ndarray:
        av = self._av
        if self._resampler is None:
            layout = frame.layout.name
            self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=self.sample_rate)
        parts = [f.to_ndarray() for f in self._resampler.resample(frame)]
        if not parts:
            return np.zeros((self.channels, 0), np.float32)
        arr = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
        return arr.astype(np.float32, copy=False)

    def blocks(self) -> Iterator[np.ndarray]:
        first = self._first
        skip = 0
        pad = 0
        if self._start > 0 and first.time is not None:
            t_first = float(first.time) - self._t0
            delta = self._start - t_first
            if delta > 0:
                skip = int(round(delta * self.sample_rate))
            elif delta < 0:
                pad = int(round(min(-delta, _MAX_LEADING_GAP_S) * self.sample_rate))
        if pad:
            yield np.zeros((self.channels, pad), np.float32)
        for frame in itertools.chain([first], self._frames):
            try:
                arr = self._to_array(frame)
            except (self._av.error.FFmpegError, ValueError):
                # the stream changed layout or format mid-way: start a new converter for the new shape
                self._resampler = None
                try:
                    arr = self._to_array(frame)
                except (self._av.error.FFmpegError, ValueError) as e:
                    log.warning("%s: skipping an audio frame that cannot be converted (%s)", self._container.name, e)
                    continue
            if skip:
                drop = min(skip, arr.shape[1])
                skip -= drop
                arr = arr[:, drop:]
            if arr.shape[1]:
                yield arr
        if self._resampler is not None:
            try:
                tail = [f.to_ndarray() for f in self._resampler.resample(None)]
            except (self._av.error.FFmpegError, ValueError):
                tail = []
            for t in tail:
                if t.shape[1]:
                    yield t.astype(np.float32, copy=False)

    def close(self) -> None:
        self._container.close()


def probe_pyav(p: Path) -> AudioInfo:
    """The first audio stream's facts from the container's headers, else by decoding it once and counting."""
    import av

    try:
        container = av.open(str(p), mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as e:
        raise MediaError(f"{p}: not a readable audio or video file ({av_reason(e)})", stage="decode") from None
    except (OSError, ValueError) as e:
        raise MediaError(f"{p}: cannot open ({e})", stage="decode") from None
    try:
        audio = list(container.streams.audio)
        if not audio:
            raise MediaError(f"{p}: no audio stream", stage="decode")
        stream = audio[0]
        cc = stream.codec_context
        rate = int(cc.sample_rate or stream.rate or 0)
        channels = int(getattr(cc, "channels", 0) or 0)
        if not channels and cc.layout is not None:
            channels = len(cc.layout.channels)
        duration = None
        if stream.duration is not None and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = float(container.duration) / 1_000_000.0  # av.time_base
        tags = container_tags(container)
    finally:
        container.close()
    if duration is None or duration <= 0 or rate <= 0 or channels <= 0:
        # unknown from headers: decode once and count
        with PyAVSource(p) as src:
            n = sum(b.shape[1] for b in src.blocks())
            rate, channels = src.sample_rate, src.channels
        if n == 0:
            raise MediaError(f"{p}: audio stream contains no decodable samples", stage="decode")
        duration = n / rate
    return AudioInfo(float(duration), rate, channels, tags)


def has_audio_pyav(p: Path) -> bool:
    """True when FFmpeg opens ``p`` and finds an audio stream. Never raises."""
    try:
        import av

        with av.open(str(p), mode="r", metadata_errors="ignore") as container:
            return len(container.streams.audio) > 0
    except Exception as e:  # noqa: BLE001 - never raises (docstring): FFmpeg's many error types mean "no"
        log.debug("%s: PyAV finds no audio stream (%s)", p, e)
        return False
