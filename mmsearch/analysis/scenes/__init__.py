"""Cut a video into scenes (pure numpy; the shot model is handed in): where transitions are, and the
scenes between them.

Stages, one module each, fed by the sampler's single decoding pass (never a second decode):

* :mod:`~mmsearch.analysis.scenes.stream` — the *candidate* stage: every decoded frame at 48x27, reduced on the
  fly to the frames where the picture changes more than this video usually does (cheap, high recall:
  hard cuts between shots of similar colour, dissolves, fades; flashes too, on purpose);
* :mod:`~mmsearch.analysis.scenes.decide` — the *decision* stage: TransNetV2 on a short window around each
  candidate (batched), the pixels' persistence test against flashes, the pixels alone without a model;
* :mod:`~mmsearch.analysis.scenes.cutting` — scenes from the cuts (minimum and maximum length, keyframes), and the
  embeddings-only rule for callers without a dense stream;
* :mod:`~mmsearch.analysis.scenes.signals` — the pixel measures they share.
"""
from __future__ import annotations

from mmsearch.analysis.scenes.cutting import DEFAULT_Z, Scene, cut_scenes, find_cuts
from mmsearch.analysis.scenes.decide import Cut, ask_ahead, consult_model, decide_cuts, embedding_changes
from mmsearch.analysis.scenes.stream import SHOT_SIZE, Candidate, ShotStream

__all__ = ["Scene", "find_cuts", "cut_scenes", "ShotStream", "Candidate", "Cut", "ask_ahead", "consult_model",
           "decide_cuts",
           "SHOT_SIZE", "DEFAULT_Z", "embedding_changes"]
