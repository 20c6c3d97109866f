"""The exact frame shown at a time (thumbnails, previews, OCR of a scene's keyframe)."""
from __future__ import annotations

from pathlib import Path

from PIL import Image

from mmsearch.errors import MediaError
from mmsearch.media.video.pictures import frame_image
from mmsearch.media.video.probe import EPS, file_name, probe
from mmsearch.media.video.pyav_reader import PyAVReader


def frame_at(path, time: float, max_side: int | None = None) -> Image.Image:
    """The exact frame shown at ``time`` seconds (the last frame whose timestamp is <= time).

    Before the first frame: the first frame; past the end: the last frame. Decodes with PyAV
    from the keyframe before ``time`` (checking the seek). Raises MediaError.
    """
    path = Path(path)
    facts = probe(path)
    reader = PyAVReader(path, facts, threads=0)
    try:
        best = None
        for t, frame in reader.frames(start=time):
            if t <= time + EPS:
                best = frame
            else:
                if best is None:
                    best = frame
                break
        if best is None:
            raise MediaError(f"truncated or corrupt: no frame of {file_name(path)} could be decoded "
                             f"near {time:.2f}s", stage="decode")
        return frame_image(best, facts, max_side)
    finally:
        reader.close()
