"""The decision stage: which candidates of the dense stream are transitions, and where each cut goes.

Two judges, neither of them a cosine (the cuts are the same whichever model embeds the frames):

* the *pixels* (:class:`~mmsearch.analysis.scenes.stream.Candidate`): ``persistence`` = how much the picture
  ``WINDOW`` frames after differs from the one before, relative to how much each side changes by itself
  (scale-free: a new shot, even one of the same colours, stays different; a pan, a zoom, shake do not),
  ``across`` = that difference in pixels, ``colour`` = the colour mass moved.

  - *alike* (no cut, whatever else says so): across < ``MIN_ACROSS``, or persistence < ``FLASH`` without
    a big change (colour >= ``COLOUR_CLEAR`` with across >= ``BIG_ACROSS``): the pictures either side are
    the same shot (a 2-frame flash of white or of another shot, a glitched
    frame, camera motion). Bare TransNetV2 does cut at many such flashes;
  - *a cut*: persistence >= ``PERSISTENT``, or a big change (a shot shorter than the pictures' reach
    leaves persistence low, but not the colour, which skips flashes by construction);
  - otherwise the pixels are unsure (a cut between look-alike shots with a moving camera, a long
    dissolve): the grey zone.
* the *shot model* (TransNetV2, :mod:`mmsearch.encoders.shots`), when installed, judges the grey zone:
  a window of ``2 * MODEL_HALF + 1`` low-res frames around each such candidate (batched, one per
  transition, edge frames padding at the video's ends), a cut when its peak probability within
  ``MODEL_HALF / 2`` frames of the split is >= ``MODEL_CUT`` (0.5, its own threshold). Without a model,
  no cut there. The model vetoes nothing: on the development set its only vetoes of a pixel cut were
  real dissolves (a short window sees too little of a 15-25 frame dissolve), never a false cut.

Of two cuts closer than ``MIN_GAP`` seconds the stronger stays (a fade's two halves, a dissolve's ends).

The model may be asked early: :func:`ask_ahead`, while the stream is still fed, answers the windows whose
group has settled (no later candidate changes it but for rare chains of look-alike splits);
:func:`consult_model` then asks only the rest and decides as if it had asked every window itself (its budget
chooses which answers count; an early answer it does not choose is work lost, never a different cut).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mmsearch.analysis.scenes.cutting import normalise
from mmsearch.analysis.scenes.signals import robust
from mmsearch.analysis.scenes.stream import LOOK, WINDOW, Candidate, ShotStream

__all__ = ["Cut", "ask_ahead", "consult_model", "decide_cuts", "embedding_changes", "MODEL_HALF", "model_windows",
           "SETTLED"]

MODEL_HALF = 12           # frames each side of a candidate the model sees (window 25 frames)
MODEL_CUT = 0.5           # the model's probability that makes a cut (its own threshold)
PERSISTENT = 3.0          # persistence that is a cut on the pixels' word
COLOUR_CLEAR = 0.5        # ... or this much colour change (total variation, 0..1)
BIG_ACROSS = 0.1          # ... with at least this mean pixel change (0..1)
FLASH = 1.6               # persistence below this: the pictures either side are alike, no cut
MIN_ACROSS = 0.02         # ... or a mean pixel change (0..1) below this between them (dark footage: ~0.04)
MIN_GAP = 1.0             # seconds: of two cuts closer than this, the stronger one stays
_SAME_CUT = WINDOW // 4   # frames: candidates whose cuts are this close describe one transition
_WINDOW_FRAMES = 2 * MODEL_HALF + 1
# Frames behind the stream's last frame before which no candidate to come can place its split, plus two groups'
# reach: a candidate is decided LOOK frames after its peak and splits within 2 * WINDOW of it, so a window whose
# split lies further back has its final group and representative (ask_ahead), but for a chain of three or
# more look-alike splits (then its answer goes unused: see ask_ahead).
SETTLED = LOOK + 2 * WINDOW + 2 * _SAME_CUT


@dataclass(frozen=True)
class Cut:
    """An accepted transition: ``time`` = first frame of the new shot (the middle of a gradual one)."""
    time: float
    index: int
    persistence: float
    colour: float
    embedding_z: float
    probability: float | None
    by: str                   # "pixels" or "model"


def embedding_changes(times: np.ndarray, embeddings: np.ndarray, candidates: Sequence[Candidate],
                      frame_times: Sequence[float]) -> list[float]:
    """Robust z-score of the embedding change across each candidate.

    The change across a candidate is ``1 - cos`` between the last sampled frame before its window
    and the first one after it. Its z-score is taken against the changes between consecutive sampled
    frames with no candidate between them (the video's own within-shot changes, in the encoder's own
    scale); with fewer than 3 such pairs, against all consecutive pairs."""
    e = normalise(embeddings)
    t = np.asarray(times, dtype=np.float64)
    if len(t) < 2:
        return [0.0] * len(candidates)
    step = 1.0 - np.sum(e[1:] * e[:-1], axis=1)
    ft = np.asarray(frame_times, dtype=np.float64)
    spans = np.zeros(len(step), dtype=bool)
    for c in candidates:
        j = int(np.searchsorted(t, c.cut_time, side="left"))
        if 1 <= j < len(t):
            spans[j - 1] = True
    quiet = step[~spans] if np.count_nonzero(~spans) >= 3 else step
    med, scale = robust(quiet)
    scale = max(scale, 0.1 * med, 1e-6)
    out = []
    for c in candidates:
        lo_t = ft[c.first]
        hi_t = ft[min(len(ft) - 1, c.first + 2 * WINDOW)]
        jb = int(np.searchsorted(t, lo_t + 1e-6, side="right") - 1)
        ja = int(np.searchsorted(t, hi_t - 1e-6, side="left"))
        jb = min(max(jb, 0), len(t) - 1)
        ja = min(max(ja, 0), len(t) - 1)
        if ja <= jb:   # no sample on one side: use the pair around the cut
            ja = min(max(int(np.searchsorted(t, c.cut_time, side="left")), 1), len(t) - 1)
            jb = ja - 1
        change = 1.0 - float(e[jb] @ e[ja])
        out.append((change - med) / scale)
    return out


def model_windows(cands: Sequence[Candidate]) -> list[tuple[int, np.ndarray]]:
    """``(candidate number, window)`` for each grey-zone candidate (one window per group of candidates
    whose splits are within ``_SAME_CUT`` frames): ``2 * MODEL_HALF + 1`` frames centred on the split,
    cut from the candidate's stored frames, padded with its edge frames; the most persistent first (a
    budget goes where a cut is likeliest)."""
    return [(k, _window(cands[k])) for k in _representatives(cands)]


def _representatives(cands: Sequence[Candidate]) -> list[int]:
    """The candidate numbers :func:`model_windows` makes a window of, in its order."""
    out: list[int] = []
    seen: set[int] = set()  # the representatives' splits (a set: ask_ahead runs this on every idle turn)
    for k in sorted(range(len(cands)), key=lambda j: (-cands[j].persistence, -cands[j].score)):
        c = cands[k]
        near = range(c.cut_index - _SAME_CUT, c.cut_index + _SAME_CUT + 1)
        if c.frames is None or not _grey(c) or any(s in seen for s in near):
            continue
        seen.add(c.cut_index)
        out.append(k)
    return out


def _window(c: Candidate) -> np.ndarray:
    assert c.frames is not None
    centre = c.cut_index - c.first
    idx = np.clip(np.arange(centre - MODEL_HALF, centre + MODEL_HALF + 1), 0, len(c.frames) - 1)
    return c.frames[idx]


def _answer(stream: ShotStream, cands: Sequence[Candidate], ks: Sequence[int], model) -> None:
    """The model's answers for the windows of candidates ``ks`` not answered yet, into ``stream.answers``
    (by the candidate's peak frame: a candidate and so its window never change once made). A model that
    failed on this stream is not asked again: its exception is raised again (``stream.model_error``)."""
    if stream.model_error is not None:
        raise stream.model_error
    todo = [k for k in ks if cands[k].index not in stream.answers]
    if todo:
        try:
            probs = model.probabilities([_window(cands[k]) for k in todo])
        except BaseException as exc:
            stream.model_error = exc
            raise
        for k, p in zip(todo, probs):
            stream.answers[cands[k].index] = np.asarray(p, dtype=np.float64)


def ask_ahead(stream: ShotStream, model, budget_frames: int | None, most: int = 4) -> int:
    """Ask ``model`` now, while ``stream`` is still being fed (from another thread), about up to ``most``
    grey-zone windows whose group has settled (split more than :data:`SETTLED` frames back) and not asked yet;
    returns how many it asked. ``budget_frames``: the budget of the frames seen so far (it only grows); once
    the windows so far outnumber it, nothing more is asked ahead (the final budget picks the most persistent
    of them all, so an early answer may go unused: never more than one budget of work lost).

    The answers are kept and reused by :func:`consult_model`, which decides as if it had asked every window
    itself. A window asked ahead whose group a later candidate still changes (a chain of look-alike splits
    longer than :data:`SETTLED` allows; not seen on the development sets) or that the final budget leaves out
    is simply not used: work lost, never a different cut, up to the float rounding of the model's batched
    kernels (on this project's CPU its answers are the same to the last bit in batches of 1, 2 and 8)."""
    if model is None or budget_frames == 0:
        return 0
    with stream.asking:
        settled = len(stream) - SETTLED  # read before the candidates: none made after it can be missing below
        cands = list(stream.candidates)
        reps = _representatives(cands)
        if budget_frames is not None and len(reps) > budget_frames // _WINDOW_FRAMES:
            return 0
        ks = [k for k in reps if cands[k].cut_index < settled and cands[k].index not in stream.answers][:most]
        _answer(stream, cands, ks, model)
        return len(ks)


def _ask_model(stream: ShotStream, model, budget_frames: int | None) -> None:
    cands = stream.candidates
    ks = _representatives(cands)
    if budget_frames is not None:
        ks = ks[:max(0, budget_frames // _WINDOW_FRAMES)]
    if not ks:
        return
    with stream.asking:  # a turn of ask_ahead still running on another thread finishes first
        _answer(stream, cands, ks, model)
    for k in ks:
        p = stream.answers[cands[k].index]
        lo, hi = MODEL_HALF - MODEL_HALF // 2, MODEL_HALF + MODEL_HALF // 2 + 1
        peak = lo + int(np.argmax(p[lo:hi]))
        c = cands[k]
        for other in cands:             # its neighbours' duplicates get the same answer
            if other.probability is None and abs(other.cut_index - c.cut_index) <= _SAME_CUT:
                other.probability = float(p[peak])
                other.model_index = c.cut_index + peak - MODEL_HALF


def consult_model(stream: ShotStream, model, budget_frames: int | None) -> None:
    """Finish ``stream`` and ask ``model`` about its grey-zone candidates now (their ``probability`` set;
    arguments as for :func:`decide_cuts`). A later ``decide_cuts(..., model=None)`` judges with these answers:
    the answers are the same whenever they are asked, so a caller may ask as soon as the decode ends, beside
    other work (the video pass encodes its last sampled frames meanwhile)."""
    stream.finish()
    if model is not None and budget_frames != 0 and stream.candidates:
        _ask_model(stream, model, budget_frames)


def _alike(c: Candidate) -> bool:
    """The pictures either side are alike: a flash, a glitched frame, camera motion; never a cut. (A large
    colour change is never "alike": the colour pictures skip a flash by construction, and a shot shorter
    than the pictures' reach leaves persistence low.)"""
    return c.across < MIN_ACROSS or (c.persistence < FLASH and not _big(c))


def _big(c: Candidate) -> bool:
    """Most of the colour mass moved *and* the pictures differ clearly in pixels: on a light plain
    background a slight brightness change can move the histogram's mass across a bin edge alone."""
    return c.colour >= COLOUR_CLEAR and c.across >= BIG_ACROSS


def _pixels(c: Candidate) -> bool:
    """A cut on the pixels' word: a persistent change, or one that moved most of the colour mass."""
    return not _alike(c) and (c.persistence >= PERSISTENT or _big(c))


def _grey(c: Candidate) -> bool:
    """Neither alike nor a cut on the pixels' word: the model's to judge."""
    return not _alike(c) and not _pixels(c)


def _judge(c: Candidate) -> tuple[bool, str]:
    """(is it a cut, who decided): see the module docstring."""
    if not _grey(c):
        return _pixels(c), "pixels"
    if c.probability is None:
        return False, "pixels"
    return c.probability >= MODEL_CUT, "model"


def decide_cuts(stream: ShotStream, times: np.ndarray, embeddings: np.ndarray, *,
                model=None, budget_frames: int | None = None) -> list[Cut]:
    """The cuts of a video from its dense stream's candidates (module docstring).

    ``model``: ``model.probabilities(list of (T, 27, 48, 3) uint8) -> list of (T,) floats`` or None.
    ``budget_frames``: the most frames the model may see (None: every candidate; 0: no model).
    Candidates already answered (:func:`consult_model`) keep their answers.
    The embeddings decide nothing; their robust change across each cut is reported (``embedding_z``)."""
    consult_model(stream, model, budget_frames)
    cands = stream.candidates
    if not cands:
        return []
    ez = embedding_changes(times, embeddings, cands, stream.times)
    cuts: list[Cut] = []
    for c, z in zip(cands, ez):
        ok, by = _judge(c)
        if not ok:
            continue
        index = c.model_index if by == "model" and c.model_index is not None else c.cut_index
        cut = Cut(time=stream.times[index], index=int(index), persistence=c.persistence, colour=c.colour,
                  embedding_z=float(z), probability=c.probability, by=by)
        if cuts and cut.time - cuts[-1].time < MIN_GAP:
            if _strength(cuts[-1]) >= _strength(cut):
                continue
            cuts.pop()
        cuts.append(cut)
    return cuts


def _strength(cut: Cut) -> float:
    return (cut.probability or 0.0) + min(cut.persistence, 10.0) / 10.0
