"""A text search with negative terms and example files (``search "beach -people" --like photo.jpg``): the
rules of :mod:`mmsearch.query.mix_rules` applied to one query's candidates.

:func:`mmsearch.query.search.search` finds the positive text's candidates as always; :meth:`QueryMix.apply` then
adds the candidates of each example's vectors, rescores every candidate on the calibrated scale (the mix
of its parts' calibrated scores, less what its resemblance to a negative costs), scales the words' bonus
by the text's share of the mix, and leaves out segments whose words hold a negative and the example files
themselves. A mix reads nothing its query has read: it works on the query's
:class:`~mmsearch.query.spaces.QuerySpaces` (space rows, indexes and calibrations read once).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmsearch.analysis.tokens import name_words
from mmsearch.catalog.records import SpaceRow
from mmsearch.errors import MmsearchError
from mmsearch.kinds import MODALITY_OF, Modality
from mmsearch.query.candidates import space_candidates
from mmsearch.query.examples import example_query
from mmsearch.query.mix_rules import LIKE_WEIGHT, MixBackground, ParsedQuery, excluded_by_words, negative_penalty
from mmsearch.query.ranking import Background, Candidate, Filters, WordMatch
from mmsearch.query.spaces import QuerySpaces


@dataclass
class QueryMix:
    """The parts of one query per space: the text's vector, the examples' vectors (weighted), the negatives;
    ``spaces``: the query's reading of the library's spaces."""

    spaces: QuerySpaces
    text: dict[str, np.ndarray]
    likes: dict[str, list[np.ndarray]] = field(default_factory=dict)
    like_weight: float = LIKE_WEIGHT
    negatives: dict[str, list[np.ndarray]] = field(default_factory=dict)
    negative_words: list[list[str]] = field(default_factory=list)
    exclude: frozenset[int] = frozenset()
    _mixes: dict[tuple[str, Modality], MixBackground] = field(default_factory=dict)
    _negs: dict[tuple[str, Modality], list[Background]] = field(default_factory=dict)

    @classmethod
    def of(cls, spaces: QuerySpaces, text: dict[str, np.ndarray], parsed: ParsedQuery, like: Sequence[Any] = (),
           like_weight: float = LIKE_WEIGHT) -> QueryMix:
        """Encode the negatives in every space that takes text and the examples by their kind of file."""
        if not (like_weight > 0 and np.isfinite(like_weight)):
            raise MmsearchError(f"like weight must be a positive number, not {like_weight}")
        likes: dict[str, list[np.ndarray]] = {}
        exclude = set()
        for item in like:
            example = example_query(spaces, item)
            for space, vector in example.means().items():
                likes.setdefault(space, []).append(vector)
            if example.media_id is not None:
                exclude.add(example.media_id)
        negatives: dict[str, list[np.ndarray]] = {}
        for term in parsed.negatives:
            for sp in spaces.rows.values():
                encoded = spaces.ctx.models.text_vector(sp.name, term)
                if encoded is not None:
                    negatives.setdefault(sp.name, []).append(encoded)
        return cls(spaces, dict(text), likes, float(like_weight), negatives, parsed.negative_words(),
                   frozenset(exclude))

    # -- the pipeline ---------------------------------------------------------------------------------
    def apply(self, per_space: list[list[Candidate]], lexical: dict[int, tuple[WordMatch, Candidate]],
              k: int, filters: Filters) -> tuple[list[list[Candidate]], dict[int, tuple[WordMatch, Candidate]]]:
        """The candidates of a search rescored by this mix (see the module docstring)."""
        ctx, spaces = self.spaces.ctx, self.spaces.rows
        semantic = [c for cands in per_space for c in cands]
        for name, vectors in self.likes.items():
            space = spaces.get(name)
            if space is not None:
                for vector in vectors:
                    semantic += space_candidates(ctx, space, vector, 2 * k, filters, self.spaces)
        pool = semantic + [c for _, c in lexical.values()]
        blobs = ctx.catalog.vector_blobs(sorted({c.row.id for c in pool if c.space in self._spaces()}))

        def rescore(c: Candidate) -> Candidate | None:
            row = c.row
            if row.media_id in self.exclude or (self.negative_words and excluded_by_words(
                    self.negative_words, (row.text, name_words(row.path)))):
                return None
            space, blob = spaces.get(c.space), blobs.get(row.id)
            if space is None or blob is None:
                return c
            vector = np.frombuffer(bytes(blob), dtype=np.float16).astype(np.float32)
            if vector.shape != (space.dim,):
                return c
            return dataclasses.replace(c, score=self.score(space, row.kind, vector, c.score))

        kept = [r for r in map(rescore, semantic) if r is not None]
        share = self.text_share()
        words = {}
        for seg_id, (match, cand) in lexical.items():
            r = rescore(cand)
            if r is not None:
                # the words count the text's share of the mix; how much of the passage they explain stays
                words[seg_id] = (dataclasses.replace(match, exact=match.exact * share,
                                                     phonetic=match.phonetic * share), r)
        return [kept], words

    def text_share(self) -> float:
        """The words' part of the query: a word match counts ``1 / (1 + like_weight x examples)`` of its
        full weight, as the text's calibrated score does in the mix."""
        examples = max((len(v) for v in self.likes.values()), default=0)
        return 1.0 / (1.0 + self.like_weight * examples)

    def _spaces(self) -> set[str]:
        return set(self.text) | set(self.likes) | set(self.negatives)

    def score(self, space: SpaceRow, kind: str, vector: np.ndarray, score: float) -> float:
        """A candidate's score in this mix: its parts' calibrated mix (its own ``score`` when the space has one
        part only), less the cost of its strongest resemblance to a negative."""
        modality = MODALITY_OF.get(kind, Modality.VISUAL)
        parts = ([(1.0, self.text[space.name])] if space.name in self.text else []) + [
            (self.like_weight, v) for v in self.likes.get(space.name, [])]
        if len(parts) > 1:
            key = (space.name, modality)
            if key not in self._mixes:
                self._mixes[key] = MixBackground.of(self._sample(space, modality),
                                                    np.stack([v for _, v in parts]), [w for w, _ in parts])
            score = float(self._mixes[key].score(np.stack([v for _, v in parts]) @ vector))
        negatives = self.negatives.get(space.name)
        if negatives:
            key = (space.name, modality)
            if key not in self._negs:
                sample = self._sample(space, modality)
                self._negs[key] = [Background.of(sample, v) for v in negatives]
            neg_z = max(b.calibrate(float(v @ vector)) for b, v in zip(self._negs[key], negatives))
            score -= negative_penalty(neg_z)
        return score

    def _sample(self, space: SpaceRow, modality: Modality) -> np.ndarray:
        ctx = self.spaces.ctx
        return ctx.backgrounds.sample(ctx.catalog, space, modality, self.spaces.index(space).ntotal)
