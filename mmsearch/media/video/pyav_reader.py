"""One open PyAV container on one video stream: frames with their real times, from any point, with error
accounting (the decoder every path can fall back on: sampling, exact frames, cut refinement)."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av

from mmsearch.media.video.probe import EPS, Probe, decoder_threads, ffmpeg_message, open_container, video_stream


class PyAVReader:
    """One open PyAV container on one video stream, with error accounting.

    ``frames(start)`` yields ``(time, frame)`` in presentation order from ``start`` on (seeking
    to the keyframe before it, checking the seek and decoding from the beginning if the seek
    overshot). Undecodable packets are skipped and counted; a demuxer failure stops the stream
    and sets ``demux_error``. ``loop_filter=False`` skips the codec's in-loop deblocking filter (a decode
    whose pictures are all scaled far down: :func:`mmsearch.media.video.probe.loop_filter_needed`).
    """

    def __init__(self, path: Path, probe: Probe, threads: int = 0, loop_filter: bool = True) -> None:
        self.path = path
        self.probe = probe
        self.threads = threads
        self.loop_filter = loop_filter  # False: skip the in-loop deblocking filter (probe.loop_filter_needed)
        self.decode_errors = 0
        self.last_error: str | None = None
        self.demux_error: str | None = None
        self.container: Any = None  # an av InputContainer once open (PyAV ships no stubs mypy can use)
        self.stream: Any = None
        self.reopen()

    def reopen(self) -> None:
        """(Re)open the file: fresh demuxer state, positioned at the start."""
        if self.container is not None:
            self.container.close()
        self.container = open_container(self.path)
        self.stream = video_stream(self.container, self.path)
        cc = self.stream.codec_context
        if not self.loop_filter:  # a decoder option: set before the first packet opens the decoder
            cc.options = {**cc.options, "skip_loop_filter": "all"}
        threads = decoder_threads(self.threads, self.probe)
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
                self.demux_error = ffmpeg_message(exc)
                return
            try:
                frames = packet.decode()
            except (av.error.FFmpegError, ValueError) as exc:
                self.decode_errors += 1
                self.last_error = ffmpeg_message(exc)
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
                if first is not None and first[0] <= start + EPS:
                    yield first
                    yield from gen
                    return
            # the seek failed or overshot: decode from the beginning
            self.reopen()
        yield from self._decoded()
