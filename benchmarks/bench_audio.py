"""Audio ingest speed as a multiple of real time: speech transcription and the audio-text encoder.

    .venv/bin/python benchmarks/bench_audio.py [--seconds 120]

- speech: the bundled Whisper tiny.en (faster-whisper, int8 on CPU) over a recording of speech made
  of the sample clips back to back (about half speech, half pauses), plus the sentence embedding of
  the transcript, then the whole `Engine.index` run on that file;
- audio-text: CLAP with the architecture of laion/clap-htsat-unfused (HTSAT audio tower, RoBERTa-base
  text tower) at random init, saved and loaded through the real local-folder path (speed does not
  depend on the weights, and none can be downloaded here), over 10 s windows every 5 s.
Writes benchmarks/results/audio.json.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from _common import scratch, write_result

ROOT = Path(__file__).resolve().parents[1]


def build_recording(seconds: float, path: Path) -> float:
    import soundfile as sf

    from mmsearch.media.audio import load_audio

    clips = [load_audio(p, 16000) for p in sorted((ROOT / "sample_data/audio").glob("*")) if p.suffix in (".ogg", ".flac")]
    pause = np.zeros(16000 * 2, np.float32)
    parts, total = [], 0
    while total < seconds * 16000:
        for clip in clips:
            parts += [clip, pause]
            total += len(clip) + len(pause)
    wave = np.concatenate(parts)[: int(seconds * 16000)]
    sf.write(path, wave, 16000)
    return len(wave) / 16000


def full_size_clap(folder: Path) -> None:
    import torch
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor, RobertaTokenizer

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4}
    for ch in sorted(ByteLevel.alphabet()):
        vocab.setdefault(ch, len(vocab))
    torch.manual_seed(0)
    ClapModel(ClapConfig(projection_dim=512)).save_pretrained(folder)
    ClapProcessor(ClapFeatureExtractor(truncation="rand_trunc"), RobertaTokenizer(vocab=vocab, merges=[])).save_pretrained(folder)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--clap-seconds", type=float, default=60.0)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from mmsearch import Engine
    from mmsearch.encoders.clap import ClapEncoder
    from mmsearch.encoders.sentence import SentenceEncoder
    from mmsearch.encoders.speech import Transcriber
    from mmsearch.media.audio import load_audio, windows

    tmp = scratch("mmsearch-bench-audio-")
    folder = tmp / "audio"
    folder.mkdir()
    recording = folder / "speech.wav"
    duration = build_recording(args.seconds, recording)
    result: dict = {"recording_s": round(duration, 1)}

    transcriber, sentences = Transcriber("bundled"), SentenceEncoder("bundled")
    wave = load_audio(recording, 16000)
    t0 = time.perf_counter()
    passages = transcriber.transcribe(wave)
    result["transcribe_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    sentences.encode_text([p.text for p in passages])
    result["embed_transcript_s"] = round(time.perf_counter() - t0, 3)
    result["passages"] = len(passages)
    result["speech_x_realtime"] = round(duration / (result["transcribe_s"] + result["embed_transcript_s"]), 1)

    with Engine(tmp / "lib", model="toy", audio_model="off") as engine:
        engine.transcriber(), engine.encoder("text")  # loaded before the clock starts, as in a long run
        t0 = time.perf_counter()
        report = engine.index([folder])
        result["index_speech_s"] = round(time.perf_counter() - t0, 2)
        assert report.added == 1, report.to_dict()
    result["index_speech_x_realtime"] = round(duration / result["index_speech_s"], 1)

    clap_dir = tmp / "clap"
    full_size_clap(clap_dir)
    clap = ClapEncoder(str(clap_dir))
    wave48 = load_audio(recording, 48000, max_seconds=args.clap_seconds)
    spans = windows(len(wave48) / 48000, 10.0, 5.0)
    clips = [wave48[int(a * 48000) : int(b * 48000)] for a, b in spans]
    clap.encode_audio(clips[:1])  # warm-up
    t0 = time.perf_counter()
    clap.encode_audio(clips)
    clap_s = time.perf_counter() - t0
    result.update(clap_audio_s=round(len(wave48) / 48000, 1), clap_windows=len(clips), clap_s=round(clap_s, 2),
                  clap_x_realtime=round(len(wave48) / 48000 / clap_s, 1))
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, no GPU" if not _cuda() else "CUDA"
    result["date"] = time.strftime("%Y-%m-%d")

    write_result("audio", result)  # adds the provenance block: commit, date, machine, load average
    print(f"{'stage':<34}{'seconds':>9}{'x real time':>13}")
    print(f"{'speech: transcribe + embed':<34}{result['transcribe_s'] + result['embed_transcript_s']:>9.2f}{result['speech_x_realtime']:>13.1f}")
    print(f"{'speech: whole index run':<34}{result['index_speech_s']:>9.2f}{result['index_speech_x_realtime']:>13.1f}")
    print(f"{'audio-text: CLAP, 10 s every 5 s':<34}{clap_s:>9.2f}{result['clap_x_realtime']:>13.1f}")
    print(f"({duration:.0f} s recording, {len(passages)} passages; CLAP over {result['clap_audio_s']} s; {result['machine']})")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    sys.exit(main())
