"""Video decoding: probing, frame sampling by time, exact frames, and cut refinement (one module a job).

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
    ``decord_frames.BATCH`` sampled frames.

Modules
    ``probe`` (open, the video stream, the first frame: :func:`probe_video`), ``sampler``
    (:class:`FrameSampler`: the backend by table, fallbacks, truncation), one module per sampling backend
    (``decord_frames``, ``pyav_frames``) over ``pyav_reader`` (frames with their real times from any point),
    ``pictures`` (a decoded frame as displayed), ``exact`` (:func:`frame_at`), ``cuts`` (:func:`refine_cuts`).
"""
from __future__ import annotations

from mmsearch.media.video.cuts import refine_cut, refine_cuts
from mmsearch.media.video.exact import frame_at
from mmsearch.media.video.pictures import SampledFrame
from mmsearch.media.video.probe import VideoInfo, probe_video
from mmsearch.media.video.pyav_frames import SHOT_SIZE
from mmsearch.media.video.sampler import FrameSampler

__all__ = [
    "VIDEO_EXTENSIONS",
    "SHOT_SIZE",
    "VideoInfo",
    "SampledFrame",
    "FrameSampler",
    "probe_video",
    "frame_at",
    "refine_cut",
    "refine_cuts",
]

VIDEO_EXTENSIONS: frozenset[str] = frozenset({".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v"})
