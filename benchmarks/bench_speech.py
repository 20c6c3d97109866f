"""Short speech: transcription of 1-3 word utterances and retrieval of "the words said", before and after.

    .venv/bin/python benchmarks/bench_speech.py [--limit N] [--pocketsphinx DIR] [--no-espeak] [--update-docs]

Clips (``tests/speech_clips.py``): real speech cut from LibriVox recordings (public domain, in the repo),
the pocketsphinx test recordings when ``--pocketsphinx`` / ``MMSEARCH_POCKETSPHINX_DATA`` points at them
(other real voices), espeak-ng voices; each clip clean, at -20 dB, in pink noise at 10 dB SNR, or inside 6 s
of faint noise. Non-speech clips (silence, tones, noise, a music-like melody, the sample bell and alarm)
count false transcripts.

Per configuration of the bundled Whisper tiny.en Transcriber ("before": ``short_speech=False``, the
settings before short utterances were handled; "after": the default):

- ``any text``: share of clips with a transcript;
- ``word acc``: share of the said words found in the transcript (bag of words after
  ``mmsearch.analysis.phonetic.words``: case, punctuation and digits normalised, so "10" counts for "ten");
- retrieval R@1 over the clips of a set, query = the words said, by (a) exact words: share of query tokens
  among the transcript's lowercase tokens; (b) MiniLM cosine (``SentenceEncoder("bundled")``) of query and
  transcript; (c) ``mmsearch.analysis.phonetic.phonetic_score``; (d) phonetic first, MiniLM cosine breaking its ties
  (scale-free); (e) reciprocal-rank fusion (k = 60) of a, b and c.
  A tie at the top counts 1/(tied clips); a clip with no transcript is a miss.

Writes benchmarks/results/bench_speech.json (``--rescore`` recomputes the retrieval columns from the
transcripts stored there, without transcribing again); ``--update-docs`` replaces the "Short speech" section at the end
of docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(HERE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import machine, publish, replace_doc_section

SR = 16000
SECTION = "## Short speech (bench_speech.py)"
RRF_K = 60
_TOKENS = re.compile(r"[a-z0-9']+")


def negatives() -> list[tuple[str, np.ndarray]]:
    import speech_clips as sc

    from mmsearch.media.audio import load_audio

    import audio_factory as af

    out = [
        ("silence 8 s", af.silence(8, SR)), ("tone 8 s", af.tone(8, SR)), ("white noise 8 s", af.noise(8, SR, 0.2)),
        ("tone+noise 8 s", af.tone(8, SR, 220.0, 0.3) + af.noise(8, SR, 0.05, seed=3)),
        ("music-like 8 s", sc.music_like(8)), ("pink noise 8 s", sc.pink_noise(8 * SR, 1) * 0.05),
        ("white noise 1 s", af.noise(1.0, SR, 0.1, seed=4)), ("music-like 1.5 s", sc.music_like(1.5, 2)),
        ("pink noise 1 s", sc.pink_noise(SR, 5) * 0.1),
    ]  # fmt: skip
    for name in ("bell.oga", "alarm_clock.oga"):
        out.append((name, load_audio(ROOT / "sample_data" / "audio" / name, SR)))
    return out


def exact_score(query: str, text: str) -> float:
    q = _TOKENS.findall(query.lower())
    t = set(_TOKENS.findall(text.lower()))
    return sum(w in t for w in q) / len(q) if q else 0.0


def word_accuracy(said: str, heard: str) -> float:
    from mmsearch.analysis.phonetic import words

    want = words(said)
    got = words(heard)
    hit = 0
    for w in want:
        if w in got:
            got.remove(w)
            hit += 1
    return hit / len(want) if want else 0.0


def r_at_1(scores: np.ndarray) -> float:
    """``scores[q, d]``: query q's target is d == q; ties at the top share the hit; <= 0 is no match."""
    hits = []
    for q in range(scores.shape[0]):
        own = scores[q, q]
        if not np.isfinite(own) or own <= 0:
            hits.append(0.0)
            continue
        if (scores[q] > own).any():
            hits.append(0.0)
            continue
        hits.append(1.0 / int((scores[q] == own).sum()))
    return float(np.mean(hits)) if hits else 0.0


def rrf(*matrices: np.ndarray) -> np.ndarray:
    """Reciprocal-rank fusion per query row; only documents with a positive score get a rank in a method."""
    fused = np.zeros_like(matrices[0])
    for m in matrices:
        for q in range(m.shape[0]):
            order = np.argsort(-m[q], kind="stable")
            ranks = np.empty(m.shape[1])
            ranks[order] = np.arange(1, m.shape[1] + 1)
            fused[q] += np.where(np.isfinite(m[q]) & (m[q] > 0), 1.0 / (RRF_K + ranks), 0.0)
    return fused


def tie_broken(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Per row, a score ordering documents by ``primary`` and, among equal ones, by ``secondary`` (equal pairs
    stay tied); 0 where ``primary`` <= 0, so a document with no primary evidence is no match."""
    out = np.zeros_like(primary)
    for q in range(primary.shape[0]):
        pairs = sorted({(a, b) for a, b in zip(primary[q], secondary[q]) if a > 0})
        rank = {pair: i + 1 for i, pair in enumerate(pairs)}
        out[q] = [rank.get((a, b), 0.0) for a, b in zip(primary[q], secondary[q])]
    return out


def retrieval(queries: list[str], texts: list[str], sentences) -> dict:
    from mmsearch.analysis.phonetic import phonetic_score

    n = len(queries)
    exact = np.array([[exact_score(q, t) for t in texts] for q in queries])
    phon = np.array([[phonetic_score(q, t) for t in texts] for q in queries])
    cos = np.full((n, n), -np.inf)
    have = [i for i, t in enumerate(texts) if t.strip()]
    if have:
        qv = sentences.encode_text(queries)
        dv = sentences.encode_text([texts[i] for i in have])
        cos[:, have] = qv @ dv.T
    cos_pos = np.where(np.isfinite(cos), cos + 2.0, -np.inf)  # shift so "has a transcript" is > 0 for rrf/r_at_1
    return {
        "r1_exact": r_at_1(exact), "r1_minilm": r_at_1(cos_pos), "r1_phonetic": r_at_1(phon),
        "r1_phonetic_minilm": r_at_1(tie_broken(phon, cos_pos)), "r1_rrf": r_at_1(rrf(exact, cos_pos, phon)),
    }  # fmt: skip


def run_config(transcriber, clips, negs, sentences) -> dict:
    t0 = time.perf_counter()
    heard = [" ".join(s.text for s in transcriber.transcribe(c.wave)) for c in clips]
    speech_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    false = [(name, " ".join(s.text for s in transcriber.transcribe(w))) for name, w in negs]
    neg_s = time.perf_counter() - t0
    audio_s = sum(c.wave.size for c in clips) / SR
    return {
        "sets": score_sets([(c.source, c.words) for c in clips], heard, sentences),
        "false_transcripts": [(n, t) for n, t in false if t.strip()],
        "negatives": len(negs),
        "speech_seconds": round(speech_s, 1), "speech_audio_seconds": round(audio_s, 1),
        "negatives_seconds": round(neg_s, 1),
        "heard": [{"clip": c.name, "source": c.source, "said": c.words, "condition": c.condition, "heard": h}
                  for c, h in zip(clips, heard)],
    }  # fmt: skip


def score_sets(said: list[tuple[str, str]], heard: list[str], sentences) -> dict:
    """Per source (and "real" = every non-espeak source, when there are several): the metrics of the docstring."""
    sets = {}
    for source in sorted({src for src, _ in said}) + ["real"]:
        idx = [i for i, (src, _) in enumerate(said) if src == source or (source == "real" and src != "espeak")]
        if not idx or (source == "real" and {said[i][0] for i in idx} == {"librivox"}):
            continue  # "real" only when it adds the pocketsphinx voices to librivox
        row = {"clips": len(idx), "any_text": float(np.mean([bool(heard[i].strip()) for i in idx])),
               "word_acc": float(np.mean([word_accuracy(said[i][1], heard[i]) for i in idx]))}  # fmt: skip
        row.update(retrieval([said[i][1] for i in idx], [heard[i] for i in idx], sentences))
        sets[source] = row
    return sets


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        SECTION, "",
        (
            f"Whisper tiny.en (bundled, int8, {result['cpu_threads']} threads), {m['date']}, load average at start "
            f"{m['load_average_at_start'][0]} on {m['cpu_cores']} cores (shared machine: times are noisy). "
            "`results/bench_speech.json` has every transcript."
        ),
        (
            "Clips of 1-3 words: **librivox** = real speech (one reader) cut at aligned word times; "
            "**pocketsphinx** = other real voices (when given); **espeak** = espeak-ng voices/speeds. Conditions "
            "round-robin: clean, -20 dB, pink noise at 10 dB SNR, inside 6 s of faint noise. R@1: query = the "
            "words said, over the clips of the set."
        ),
        "",
        (
            "| set | config | clips | any text | word acc | R@1 exact | R@1 MiniLM | R@1 phonetic | "
            "R@1 phonetic, MiniLM ties | R@1 RRF(exact, MiniLM, phonetic) |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]  # fmt: skip
    for name in result["configs"]["after"]["sets"]:
        for config in ("before", "after"):
            r = result["configs"][config]["sets"][name]
            lines.append(
                f"| {name} | {config} | {r['clips']} | {r['any_text']:.2f} | {r['word_acc']:.2f} | "
                f"{r['r1_exact']:.2f} | {r['r1_minilm']:.2f} | {r['r1_phonetic']:.2f} | "
                f"{r['r1_phonetic_minilm']:.2f} | {r['r1_rrf']:.2f} |"
            )
    lines.append("")
    for config in ("before", "after"):
        c = result["configs"][config]
        false = ", ".join(f"{n}: {t!r}" for n, t in c["false_transcripts"]) or "none"
        lines.append(
            f"- {config}: transcription {c['speech_seconds']} s for {c['speech_audio_seconds']} s of clips; "
            f"{len(c['false_transcripts'])}/{c['negatives']} non-speech inputs gave text ({false}), "
            f"{c['negatives_seconds']} s."
        )
    lines.append(
        "- run: `bench_speech.py --pocketsphinx DIR --update-docs` (DIR: `test/data` of the pocketsphinx 5.1.1 "
        "sdist); `--rescore` recomputes the retrieval columns from the stored transcripts. \"after\" costs more "
        "on non-speech (the second pass decodes what the lenient VAD hears) and less on speech here (noisy timing)."
    )
    return "\n".join(lines) + "\n"


def rescore(docs: bool) -> None:
    import json

    from mmsearch.encoders.sentence import SentenceEncoder

    from _common import RESULTS

    path = RESULTS / "bench_speech.json"
    result = json.loads(path.read_text())
    sentences = SentenceEncoder("bundled")
    for config in result["configs"].values():
        heard = config["heard"]
        source = [h.get("source") or ("espeak" if h["clip"].startswith("en-") else
                  "librivox" if h["clip"].startswith("austen_") else "pocketsphinx") for h in heard]  # fmt: skip
        config["sets"] = score_sets([(s, h["said"]) for s, h in zip(source, heard)], [h["heard"] for h in heard], sentences)
    path.write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    print(text)
    if docs:
        replace_doc_section(SECTION, text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="at most N clips per source")
    ap.add_argument("--pocketsphinx", default=os.environ.get("MMSEARCH_POCKETSPHINX_DATA"),
                    help="pocketsphinx source tree's test/data folder (other real voices)")  # fmt: skip
    ap.add_argument("--no-espeak", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--update-docs", action="store_true")
    ap.add_argument("--rescore", action="store_true", help="recompute retrieval from the stored transcripts")
    args = ap.parse_args()
    if args.rescore:
        rescore(args.update_docs)
        return

    import speech_clips as sc

    from mmsearch.encoders.sentence import SentenceEncoder
    from mmsearch.encoders.speech import Transcriber

    import audio_factory as af

    info = machine()
    clips = sc.librivox_clips(args.limit) + sc.pocketsphinx_clips(args.pocketsphinx)[: args.limit]
    if not args.no_espeak and af.HAVE_ESPEAK:
        clips += sc.espeak_clips()[: args.limit]
    negs = negatives()
    transcriber = Transcriber("bundled", cpu_threads=args.threads)
    sentences = SentenceEncoder("bundled")
    result = {"machine": info, "cpu_threads": args.threads, "configs": {}}
    for config, short_speech in (("before", False), ("after", True)):
        transcriber.short_speech = short_speech
        result["configs"][config] = run_config(transcriber, clips, negs, sentences)
        print(config, {k: {m: round(v, 2) for m, v in r.items()} for k, r in result["configs"][config]["sets"].items()},
              result["configs"][config]["false_transcripts"], flush=True)  # fmt: skip
    publish("bench_speech", result, markdown(result), SECTION, args.update_docs)


if __name__ == "__main__":
    main()
