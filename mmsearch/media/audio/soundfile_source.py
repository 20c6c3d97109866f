"""The libsndfile decoder (``soundfile``): wav, flac, ogg/vorbis/opus, mp3 — tried first where it can be."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mmsearch.media.audio.base import PYAV_ONLY, AudioInfo, Source

log = logging.getLogger(__name__)

BLOCK_FRAMES = 1 << 16  # read granularity (native frames)
_UNKNOWN_FRAMES = 2**62  # libsndfile says 2**63-1 when it does not know a file's length


class SoundfileSource(Source):
    backend = "soundfile"

    @staticmethod
    def accepts(path: Path) -> bool:
        return path.suffix.lower() not in PYAV_ONLY

    def __init__(self, path: Path, start: float = 0.0) -> None:
        import soundfile as sf

        self._f = sf.SoundFile(str(path))  # raises on formats libsndfile does not know
        self.sample_rate = int(self._f.samplerate)
        self.channels = int(self._f.channels)
        if self.sample_rate <= 0 or self.channels <= 0:
            self._f.close()
            raise RuntimeError(f"invalid stream parameters (rate={self.sample_rate}, channels={self.channels})")
        self._skip = 0
        if start > 0:
            frame = int(round(start * self.sample_rate))
            if self._f.seekable():
                self._f.seek(min(frame, max(self._f.frames, 0)))
            else:
                self._skip = frame

    def blocks(self) -> Iterator[np.ndarray]:
        skip = self._skip
        while True:
            block = self._f.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
            if block.shape[0] == 0:
                return
            if skip:
                drop = min(skip, block.shape[0])
                skip -= drop
                block = block[drop:]
                if block.shape[0] == 0:
                    continue
            yield np.ascontiguousarray(block.T)

    def close(self) -> None:
        self._f.close()


def probe_soundfile(path: Path) -> AudioInfo | None:
    """The header's facts when libsndfile reads them and states the length; None sends the caller to PyAV."""
    try:
        import soundfile as sf

        info = sf.info(str(path))
        if info.samplerate > 0 and info.channels > 0 and 0 < info.frames < _UNKNOWN_FRAMES:
            return AudioInfo(float(info.frames) / info.samplerate, int(info.samplerate), int(info.channels))
    except Exception as e:  # noqa: BLE001 - libsndfile raises its own types: logged, PyAV probes
        log.debug("%s: soundfile cannot probe (%s), trying PyAV", path, e)
    return None


def has_audio_soundfile(path: Path) -> bool:
    """True when libsndfile reads an audio header with channels and a rate; False sends the caller to PyAV."""
    try:
        import soundfile as sf

        info = sf.info(str(path))
        if info.channels > 0 and info.samplerate > 0:
            return True
    except Exception as e:  # noqa: BLE001 - libsndfile raises its own types; PyAV decides
        log.debug("%s: soundfile finds no audio stream (%s), asking PyAV", path, e)
    return False
