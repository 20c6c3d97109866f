"""Audio decoding: files (and the soundtrack of video containers) to float32 sample arrays.

No ML here. Decoding goes through libsndfile (``soundfile``: wav, flac, ogg/vorbis/opus, mp3) first and
falls back to FFmpeg through PyAV for everything else (m4a/aac, opus in odd containers, the audio track of
mp4/mkv/webm/mov/avi, and files libsndfile rejects). Channel down-mixing and resampling are done here with
``torchaudio.functional.resample`` (band-limited sinc), never with ``torchaudio.load`` (which would need
torchcodec and a system FFmpeg).

Timeline: sample 0 of every array returned here is the first audio sample of the file's audio stream,
so ``index / sample_rate`` is a time in seconds on the file's audio timeline.

Memory: :func:`load_audio` holds the decoded part of the file at its native rate plus the resampled
copy, so it reads at most ``max_seconds`` (never the whole file when a limit is given). For long files use
:func:`iter_audio_chunks`, which decodes the file once, front to back, and yields fixed-length resampled
chunks while holding only about one chunk of audio in memory.

Bad input never crashes the caller: every decoding failure is a :class:`~mmsearch.errors.MediaError`
(``stage="decode"``) whose message names the file and what was wrong with it.

Modules: one per decoder (``soundfile_source``, ``pyav_source``, over ``base``), ``sources`` (which decoder
opens a file: the ``CHAINS`` table), ``resampling``, ``load`` (:func:`load_audio`), ``chunks``
(:func:`iter_audio_chunks`), ``probe`` (:func:`probe_audio`, :func:`has_audio_stream`), ``windows``.
"""
from __future__ import annotations

from mmsearch.media.audio.base import AudioInfo
from mmsearch.media.audio.chunks import AudioChunk, iter_audio_chunks
from mmsearch.media.audio.load import load_audio
from mmsearch.media.audio.probe import has_audio_stream, probe_audio
from mmsearch.media.audio.resampling import resample
from mmsearch.media.audio.windows import windows

#: Extensions that the scanner should treat as audio files.
AUDIO_EXTENSIONS: frozenset[str] = frozenset({".wav", ".mp3", ".flac", ".ogg", ".oga", ".m4a", ".opus"})

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioChunk",
    "AudioInfo",
    "has_audio_stream",
    "iter_audio_chunks",
    "load_audio",
    "probe_audio",
    "resample",
    "windows",
]
