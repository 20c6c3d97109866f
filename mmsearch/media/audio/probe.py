"""Probing a recording (or a video's soundtrack): duration, rate, channels; whether a file has audio at all."""
from __future__ import annotations

from pathlib import Path

from mmsearch.errors import MediaError
from mmsearch.media.audio.base import AudioInfo, PathLike, check_file
from mmsearch.media.audio.pyav_source import has_audio_pyav, probe_pyav
from mmsearch.media.audio.soundfile_source import SoundfileSource, has_audio_soundfile, probe_soundfile


def probe_audio(path: PathLike) -> AudioInfo:
    """Duration, native sample rate and channel count of the (first) audio stream of ``path``.

    Reads headers only where the container states the duration; otherwise (some ogg/streamed files)
    decodes the stream once to count samples.

    Raises:
        MediaError: the file cannot be opened, has no audio stream, or its audio cannot be decoded.
    """
    p = Path(path)
    check_file(p)
    info = probe_soundfile(p) if SoundfileSource.accepts(p) else None
    return info if info is not None else probe_pyav(p)


def has_audio_stream(path: PathLike) -> bool:
    """True when ``path`` opens and holds at least one audio stream. Never raises."""
    p = Path(path)
    try:
        check_file(p)
    except MediaError:
        return False
    return (SoundfileSource.accepts(p) and has_audio_soundfile(p)) or has_audio_pyav(p)
