"""Text detection on a video's kept frames ahead of the run's OCR pass, and no frame detected twice.

The rule: the OCR pass (text.py, :func:`mmsearch.analysis.ocr_keyframes.read_scene_text`) runs the text
detector on the sampled frames it probes. Two things make that cheaper with the same boxes, text and spans:

1. *Ahead, in idle time.* The video pass has two streams of work, each on one core: the decode thread decodes
   and then asks the shot model about the candidates not answered yet; the calling thread encodes the sampled
   frames with the image tower, and asks the shot model about the settled candidates whenever it waits for a
   frame (frames.py). Whichever stream waits for the other runs the detector on the kept frames meanwhile,
   through a copy of the run's reader on one thread (:func:`mmsearch.encoders.ocr_probe.one_thread_reader`), on
   the very pictures the OCR pass will see (the kept JPEG decoded):
   - the calling thread whenever it has no frame to encode and no settled candidate to ask about: during the
     decode, on the frames kept so far (in time order, each call taking the new ones), and while the shot model
     runs after the decode; it stops as soon as the decode thread hands it something (a frame, the end);
   - the decode thread once the shot model is done, while the tower encodes the last frames (the tower is the
     slower stream where the CPU has no native bf16), the pass's probes first (:func:`likely_first`, from the
     cuts the scenes will have); it stops as soon as the tower is done (the visual commit never waits for it).
   Either stops for the video as soon as a detection shows that its core is not idle (it got less than
   ``MIN_SHARE`` of it: other work runs there); frames not reached are detected in the OCR pass. One detection
   runs at a time (the two streams' turns may meet at a hand-over).
2. *Once per picture.* Detections are remembered by the kept JPEG's digest: a frame identical to one already
   detected (a static slide, a still) reuses its boxes, in that pass or ahead. Identical bytes are identical
   pixels, so the boxes are those the detector would give.

Detections are the reader's: they are used only by the reader they were made for (:class:`Detections`).
"""
from __future__ import annotations

import hashlib
import io
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PIL import Image

# The share of a core (its own CPU time over its wall time) each detection ahead must get for the next one to
# run: on a machine busy with other work the decode thread's core is not idle, and detecting there slows the
# tower (measured at load average 9.7 on the 2 cores: the run 0.3 s slower with the detection ahead, 3.8-4.1 s
# against 3.4-3.7 s). The detector runs on the calling thread (one intra-op thread), so its CPU time is this one's.
MIN_SHARE = 0.7
_ONE_THREAD: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # reader -> its one-thread copy
_ONE_THREAD_LOCK = threading.Lock()
_DETECTING = threading.Lock()  # held for each detection ahead (a one-thread copy is one stream of work)


def digest(jpeg: bytes) -> bytes:
    """The key of a kept frame's picture: a digest of its JPEG bytes."""
    return hashlib.blake2b(jpeg, digest_size=16).digest()


def decoded(jpeg: bytes) -> Image.Image:
    """A kept frame's picture as the OCR pass sees it."""
    return Image.open(io.BytesIO(jpeg)).convert("RGB")


class Detections:
    """The detector's boxes of kept pictures, by :func:`digest`, for one reader (the first to store any);
    safe across threads (filled on the decode thread, read in the OCR pass)."""

    def __init__(self) -> None:
        self._boxes: dict[bytes, tuple[Any, ...]] = {}
        self._owner: Any = None
        self._lock = threading.Lock()

    def get(self, reader: Any, key: bytes) -> tuple[Any, ...] | None:
        with self._lock:
            return self._boxes.get(key) if reader is self._owner else None

    def put(self, reader: Any, key: bytes, boxes: Sequence[Any]) -> None:
        with self._lock:
            if self._owner is None:
                self._owner = reader
            if reader is self._owner:
                self._boxes[key] = tuple(boxes)

    def __len__(self) -> int:
        with self._lock:
            return len(self._boxes)


class Remembering:
    """``reader`` for :func:`~mmsearch.analysis.ocr_keyframes.read_scene_text`: ``detect`` on a picture
    made known with :meth:`know` answers from ``detections`` (storing what it had to detect); everything
    else is the reader's own."""

    def __init__(self, reader: Any, detections: Detections) -> None:
        self._reader = reader
        self._detections = detections
        self._keys: dict[int, tuple[Image.Image, bytes]] = {}

    def know(self, pictures: Sequence[tuple[Image.Image, bytes]]) -> None:
        """The pictures the next reading looks at, with their keys (held, so an id is never reused)."""
        self._keys = {id(image): (image, key) for image, key in pictures}

    def detect(self, image: Image.Image) -> list[Any]:
        known = self._keys.get(id(image))
        if known is None or known[0] is not image:
            return self._reader.detect(image)
        boxes = self._detections.get(self._reader, known[1])
        if boxes is None:
            boxes = tuple(self._reader.detect(image))
            self._detections.put(self._reader, known[1], boxes)
        return list(boxes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)


def _one_thread(reader: Any) -> Any:
    from mmsearch.encoders.ocr_probe import one_thread_reader

    with _ONE_THREAD_LOCK:
        if reader not in _ONE_THREAD:
            _ONE_THREAD[reader] = one_thread_reader(reader)
        return _ONE_THREAD[reader]


def likely_first(times: Sequence[float], cuts: Sequence[float]) -> list[int]:
    """Frame indices in the order the OCR pass is likeliest to need them: the probes of each scene the
    ``cuts`` make (:func:`mmsearch.analysis.ocr_keyframes.probe_indices`: its first frame, one every
    ``PROBE_EVERY`` s, its last), then the others from each scene's middle out (its keyframe, the frame
    nearest its mean picture, tends to be there). A scene starts at the first frame at or after a cut, as
    :func:`mmsearch.analysis.scenes.cut_scenes` starts it."""
    from mmsearch.analysis.ocr_keyframes import PROBE_EVERY, probe_indices

    t = np.asarray(times, dtype=np.float64)
    starts = sorted({int(np.searchsorted(t, when - 1e-6, side="left")) for when in cuts} & set(range(1, len(t))))
    bounds = list(zip([0, *starts], [*starts, len(t)]))
    probes = [a + i for a, b in bounds for i in probe_indices(list(t[a:b]), PROBE_EVERY)]
    rest = sorted(set(range(len(t))) - set(probes),
                  key=lambda i: next(abs(i - (a + b - 1) / 2) for a, b in bounds if a <= i < b))
    return [*probes, *rest]


def detect_ahead(frames: Callable[[], list[tuple[float, bytes]]], detections: Detections,
                 reader: Any) -> Callable[[Callable[[], bool], list[float] | None], None]:
    """The video pass's idle work (``embed_frames(..., idle=...)``): the detector on ``frames()`` (time, JPEG),
    the boxes stored in ``detections`` as ``reader``'s, until ``stopped()``. With the video's ``cuts`` (a list,
    maybe empty: decided): every frame not yet detected, in :func:`likely_first` order; with None (not decided
    yet: the decode or the shot model is still running): the frames kept since the last such call, in time
    order. The share rule (``MIN_SHARE``) is judged from the video's second detection, across calls, and once
    it fails no later call of this video detects anything."""

    state = {"next": 0, "done": 0, "busy": False}  # first frame not reached in time order; detections; no idle core

    def work(stopped: Callable[[], bool], cuts: list[float] | None) -> None:
        if stopped() or state["busy"]:
            return
        kept = frames()
        in_time = cuts is None
        order = range(state["next"], len(kept)) if cuts is None else likely_first([t for t, _ in kept], cuts)
        if not len(order):
            return
        detector = _one_thread(reader)
        for i in order:
            if stopped():
                return
            key = digest(kept[i][1])
            slow = False
            with _DETECTING:  # the decode thread's and the calling thread's turns may meet: one detection at a time
                if stopped():
                    return
                if detections.get(reader, key) is None:
                    cpu, wall = time.thread_time(), time.perf_counter()
                    detections.put(reader, key, detector.detect(decoded(kept[i][1])))
                    state["done"] += 1
                    # judged from the video's second detection (a fresh session's first run also sets itself up)
                    slow = state["done"] > 1 and time.thread_time() - cpu < MIN_SHARE * (time.perf_counter() - wall)
            if in_time:
                state["next"] = max(state["next"], i + 1)
            if slow:
                state["busy"] = True
                return  # this thread did not get a core to itself: no core is idle, the pass does the rest

    return work
