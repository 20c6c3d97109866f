"""FrameSampler: frames about every ``interval`` seconds by real timestamps, decord first, PyAV behind it.

The backends (``decord_frames``, ``pyav_frames``) each follow the sampling rule of the package; this
module picks one by the :data:`MODES` table, switches to PyAV when decord fails part-way (from the last
frame it yielded: nothing lost, nothing repeated), and keeps the account of truncation and warnings.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from mmsearch.errors import MediaError
from mmsearch.media.video.decord_frames import DecordFailed, DecordReader, short, tolerance
from mmsearch.media.video.pictures import SampledFrame
from mmsearch.media.video.probe import VideoInfo, file_name, probe
from mmsearch.media.video.pyav_frames import ShotSink, sample_pyav


@dataclass(frozen=True)
class Mode:
    """How a ``backend=`` argument opens a file."""

    decord: bool      # try decord first (PyAV otherwise)
    strict: bool      # decord's refusal is the caller's error, not a fallback to PyAV
    shots: bool       # may feed a shot stream (which needs every frame: PyAV)


MODES: dict[str, Mode] = {
    "auto": Mode(decord=True, strict=False, shots=True),
    "decord": Mode(decord=True, strict=True, shots=False),
    "pyav": Mode(decord=False, strict=False, shots=True),
}


class FrameSampler:
    """Frames sampled about every ``interval`` seconds, by real timestamps.

    ``FrameSampler(path, interval=1.0, max_side=448, *, backend="auto", threads=0)``

    Attributes: ``backend`` ("decord" or "pyav"; may change from "decord" to "pyav" during
    iteration if decord fails mid-file), ``info`` (:class:`VideoInfo`), ``truncated`` (set
    during iteration when the file ends early), ``warnings`` (list of human-readable lines: mid-file
    decode errors, truncation, backend fallback), ``fallback_reason`` (why PyAV is used, or None).

    Raises MediaError on open (missing, empty, not a video, no video stream, zero frames,
    undecodable). Iteration does not raise for a truncated or partly corrupt file; see the package
    docstring. ``backend="decord"`` or ``"pyav"`` forces one (``"decord"`` raises MediaError if
    decord cannot read the file).

    ``shots``: an object with ``push(time, rgb)`` (a :class:`mmsearch.analysis.scenes.ShotStream`) that
    receives *every* decoded frame, scaled to ``SHOT_SIZE`` (48x27, RGB uint8, as stored: display
    rotation is not applied) in the same decoding pass that yields the sampled frames, so scene
    detection never decodes the file a second time. It uses PyAV (decord decodes only what it is
    asked for); the scaling costs about 0.3 ms of CPU per frame.
    """

    def __init__(self, path, interval: float = 1.0, max_side: int = 448, *,
                 backend: str = "auto", threads: int = 0, shots: ShotSink | None = None) -> None:
        if not interval or interval <= 0:
            raise ValueError("interval must be > 0")
        if not max_side or max_side < 8:
            raise ValueError("max_side must be >= 8")
        mode = MODES.get(backend)
        if mode is None:
            raise ValueError(f"backend must be one of {', '.join(repr(m) for m in MODES)}")
        self.path = Path(path)
        self.interval = float(interval)
        self.max_side = int(max_side)
        self.threads = int(threads)
        self.truncated = False
        self.warnings: list[str] = []
        self.fallback_reason: str | None = None
        self._probe = probe(self.path)
        self.info: VideoInfo = self._probe.info
        self._decord: DecordReader | None = None
        self.shots = shots
        if shots is not None and not mode.shots:
            raise ValueError("a shot stream needs every frame: use backend 'auto' or 'pyav'")
        if mode.decord and shots is None:  # with shots: decord would need a second pass for every frame
            try:
                self._decord = DecordReader(self.path, self._probe, self.max_side, self.threads)
            except Exception as exc:
                reason = short(exc)
                if mode.strict:
                    raise MediaError(f"decord cannot read {file_name(self.path)}: {reason}",
                                     stage="decode") from exc
                self.fallback_reason = f"decord could not be used ({reason}); decoded with PyAV"
            else:
                self.info = self._decord.info
        self.backend = "decord" if self._decord is not None else "pyav"

    def _iter_decord(self, reader: DecordReader) -> Iterator[SampledFrame]:
        last_time: float | None = None
        try:
            for frame in reader.sampled(self.interval):
                last_time = frame.time
                yield frame
        except DecordFailed as failed:
            self.warnings.append(str(failed))
            self.fallback_reason = f"decord failed mid-file ({failed.reason})"
            self.backend = "pyav"
            self._decord = None
            yield from self._iter_pyav(after=last_time)
            return
        if reader.index_short:
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

    def _iter_pyav(self, after: float | None = None) -> Iterator[SampledFrame]:
        end = yield from sample_pyav(self.path, self._probe, self.interval, self.max_side, self.threads,
                                     self.shots, after)
        if end.decode_errors:
            self.warnings.append(f"{end.decode_errors} undecodable packet(s) skipped ({end.last_error})")
        if end.demux_error:
            self._mark_truncated(end.last_time, f"read error: {end.demux_error}")
        elif end.last_time is None:
            self._mark_truncated(after, "no frame could be decoded past this point")
        else:
            frame_dur = 1.0 / self.info.avg_fps if self.info.avg_fps else 0.04
            expected = self._probe.declared_duration
            if expected and end.last_time + frame_dur < expected - tolerance(self.info):
                self._mark_truncated(end.last_time, "the file ends before its stated length")
            elif self.info.duration <= 0:
                self.info = replace(self.info, duration=end.last_time + frame_dur)

    def _mark_truncated(self, end: float | None, why: str) -> None:
        if self.truncated:
            return
        self.truncated = True
        at = f" at {end:.2f}s" if end is not None else ""
        stated = self._probe.declared_duration
        of = f" of {stated:.2f}s" if stated else ""
        self.warnings.append(f"truncated or corrupt: decoding stopped{at}{of} ({why})")

    def __iter__(self) -> Iterator[SampledFrame]:
        if self._decord is not None and self.backend == "decord":
            return self._iter_decord(self._decord)
        return self._iter_pyav()

    def close(self) -> None:
        self._decord = None

    def __enter__(self) -> FrameSampler:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"FrameSampler({str(self.path)!r}, interval={self.interval}, "
                f"max_side={self.max_side}, backend={self.backend!r})")
