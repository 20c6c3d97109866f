"""The near-duplicates report of a library: its pictures (images, video scenes) read from the catalog, judged
pair by pair by the rule (mmsearch/query/duplicates/rule.py, images pixel-checked from their files), joined into
groups that each name the copy to keep, and videos all of whose scenes are copies of one other video reported
as duplicate files.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from mmsearch.analysis.perceptual_hash import flat_of, hashed, hashes_of, image_detail
from mmsearch.errors import MediaError
from mmsearch.kinds import MediaKind, SegmentKind, Space
from mmsearch.query.duplicates.confirm import Check, compare, pixels
from mmsearch.query.duplicates.flat import flat_compare
from mmsearch.query.duplicates.rule import (
    DEFAULT_THRESHOLD,
    Confirm,
    Evidence,
    Extent,
    PairStats,
    Picture,
    UnionFind,
    duplicate_pairs,
    keep_order,
)

if TYPE_CHECKING:
    from mmsearch.context import Context


# -- the report ----------------------------------------------------------------------------------------
@dataclass
class DuplicateItem(Extent):
    path: str
    media_id: int
    segment_id: int | None
    kind: str  # image | scene | video
    bits: int | None = None  # hash distance to the picture it was matched with (None: unknown or by vectors)
    why: dict | None = None  # Evidence.to_dict() of the pair that made it a copy, with ``with``: the other path


@dataclass
class DuplicateGroup:
    kind: str  # image | scene | video
    keep: DuplicateItem
    copies: list[DuplicateItem]


@dataclass
class DuplicateReport:
    threshold: float
    groups: list[DuplicateGroup]
    compared: dict[str, int]  # pictures compared by kind
    unhashed: dict[str, int]  # of them, without a hash (judged by vectors alone)
    notes: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)  # candidate pairs pixel-checked, by kind

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Grouping:
    """Groups of rows (best copy first, largest groups first) and the pairs that joined them."""

    groups: list[list[int]]
    pairs: dict[tuple[int, int], Evidence]

    def why(self, pictures: Sequence[Picture], keep: int, row: int, threshold: float) -> tuple[int | None, dict | None]:
        """(bits, why) of ``row``: its pair with the kept copy, else the first pair that joined it."""
        key = (min(keep, row), max(keep, row))
        if key not in self.pairs:
            key = next((k for k in self.pairs if row in k), key)
        evidence = self.pairs.get(key)
        if evidence is None:
            return None, None
        other = key[0] if key[1] == row else key[1]
        shares = [pictures[k].flat for k in key]
        why = {"with": pictures[other].path,
               **evidence.to_dict(threshold, None if None in shares else max(shares))}  # type: ignore[type-var]
        return evidence.bits, why


def group_pictures(pictures: Sequence[Picture], vectors: np.ndarray, has_vector: np.ndarray,
                   threshold: float = DEFAULT_THRESHOLD, *, across_files: bool = False,
                   confirm: Confirm | None = None, stats: PairStats | None = None) -> Grouping:
    """Groups of duplicate pictures (best copy first, largest groups first), with the pairs' evidence."""
    uf = UnionFind(len(pictures))
    found = duplicate_pairs(pictures, vectors, has_vector, threshold, across_files=across_files,
                            confirm=confirm, stats=stats)
    for p in found:
        uf.union(p.i, p.j)
    groups = [sorted(g, key=lambda i: keep_order(pictures[i])) for g in uf.groups()]
    groups = sorted(groups, key=lambda g: (-len(g), pictures[g[0]].path))
    return Grouping(groups, {(p.i, p.j): p.evidence for p in found})


def _item(p: Picture, kind: str, why: tuple[int | None, dict | None] = (None, None)) -> DuplicateItem:
    return DuplicateItem(p.path, p.media_id, p.segment_id, kind, bits=why[0], why=why[1], **p.extent())


def _groups(kind: str, pictures: Sequence[Picture], grouping: Grouping, threshold: float) -> list[DuplicateGroup]:
    return [DuplicateGroup(kind, _item(pictures[g[0]], kind),
                           [_item(pictures[i], kind, grouping.why(pictures, g[0], i, threshold)) for i in g[1:]])
            for g in grouping.groups]


def image_groups(pictures: Sequence[Picture], vectors: np.ndarray, has_vector: np.ndarray,
                 threshold: float, confirm: Confirm | None = None,
                 stats: PairStats | None = None) -> list[DuplicateGroup]:
    grouping = group_pictures(pictures, vectors, has_vector, threshold, confirm=confirm, stats=stats)
    return _groups(SegmentKind.IMAGE, pictures, grouping, threshold)


def video_groups(scenes: Sequence[Picture], vectors: np.ndarray, has_vector: np.ndarray,
                 threshold: float, confirm: Confirm | None = None,
                 stats: PairStats | None = None) -> list[DuplicateGroup]:
    """Scene groups (the same moment in different files), then duplicate files: a video every one of
    whose scenes is grouped with a scene of one other video is a copy of it."""
    grouping = group_pictures(scenes, vectors, has_vector, threshold, across_files=True, stats=stats)
    groups = grouping.groups
    out = _groups(SegmentKind.SCENE, scenes, grouping, threshold)
    partners: dict[int, dict[int, int]] = {}  # media -> other media -> its scenes grouped with that one
    group_of: dict[int, int] = {}
    for n, g in enumerate(groups):
        for i in g:
            group_of[i] = n
    scenes_of: dict[int, list[int]] = {}
    for i, p in enumerate(scenes):
        scenes_of.setdefault(p.media_id, []).append(i)
    for media, rows in scenes_of.items():
        counts: dict[int, int] = {}
        for i in rows:
            if i in group_of:
                for other in {scenes[j].media_id for j in groups[group_of[i]]} - {media}:
                    counts[other] = counts.get(other, 0) + 1
        partners[media] = {other: c for other, c in counts.items() if c == len(rows)}
    uf = UnionFind(len(scenes_of))
    media_ids = list(scenes_of)
    pos = {m: n for n, m in enumerate(media_ids)}
    for media, others in partners.items():
        for other in others:
            uf.union(pos[media], pos[other])
    first = {m: scenes[rows[0]] for m, rows in scenes_of.items()}
    for g in uf.groups():
        files = sorted((first[media_ids[n]] for n in g), key=keep_order)
        out.append(DuplicateGroup(MediaKind.VIDEO, _file_item(files[0]), [_file_item(p) for p in files[1:]]))
    return out


def _file_item(p: Picture) -> DuplicateItem:
    return DuplicateItem(p.path, p.media_id, None, MediaKind.VIDEO, width=p.width, height=p.height,
                         duration=p.duration)


# -- on a library --------------------------------------------------------------------------------------
KIND_SEGMENTS: dict[MediaKind, SegmentKind] = {MediaKind.IMAGE: SegmentKind.IMAGE, MediaKind.VIDEO: SegmentKind.SCENE}
GROUPERS = {MediaKind.IMAGE: image_groups, MediaKind.VIDEO: video_groups}


def lazy_image_hashes(pictures: Iterable[Picture]) -> int:
    """Hash, from the file, the images indexed before hashes were stored (not stored back); the count.
    A file that cannot be read stays without a hash (judged by its vectors)."""
    from mmsearch.media.images import load_image

    done = 0
    for p in pictures:
        if p.hashed or p.kind != SegmentKind.IMAGE:
            continue
        try:
            image, _w, _h = load_image(p.path)
        except (MediaError, OSError) as exc:  # a moved or broken file: its vectors still speak
            logging.getLogger(__name__).warning("duplicates: %s not hashed (%s); judged by its vectors", p.path, exc)
            continue
        detail = image_detail(image)
        p.hashes, p.flat = hashes_of(detail), flat_of(detail)
        done += 1
    return done


class FileCheck:
    """The pixel check of image pairs of ``pictures``, each file decoded once on demand (only for pairs
    that need it); a file that cannot be decoded makes the check impossible (None)."""

    def __init__(self, pictures: Sequence[Picture]) -> None:
        self.pictures = pictures
        self.decoded: dict[int, Any] = {}

    def _pixels(self, row: int) -> Any:
        from mmsearch.media.images import load_image
        from mmsearch.query.duplicates.confirm import DECODE_SIDE

        if row not in self.decoded:
            try:
                self.decoded[row] = pixels(load_image(self.pictures[row].path, DECODE_SIDE)[0])
            except Exception:  # noqa: BLE001 - a moved or broken file: the pair is not reported
                self.decoded[row] = None
        return self.decoded[row]

    def __call__(self, i: int, j: int) -> Check | None:
        a, b = self._pixels(i), self._pixels(j)
        if a is None or b is None:
            return None
        flat = [self.pictures[k].hashed and not self.pictures[k].hashes for k in (i, j)]
        if not any(flat):
            return compare(a, b)
        colours = flat_compare(a.colour, b.colour)
        if all(flat) or not colours.confirmed:
            return colours
        check = compare(a, b)  # one side has a hash (nearly flat): its pixels must agree as well
        return replace(check, aligned=f"flat+{check.aligned}")


CHECKERS: dict[MediaKind, Callable[[Sequence[Picture]], Confirm | None]] = {
    MediaKind.IMAGE: FileCheck, MediaKind.VIDEO: lambda _pictures: None}


def find_duplicates(ctx: Context, kind: str | None = None, threshold: float | None = None, *,
                    use_vectors: bool = True) -> DuplicateReport:
    """Groups of near-duplicate images (``kind`` image), video scenes and videos (``kind`` video), or
    both (None), in the library of ``ctx``; ``use_vectors`` False: the hash and pixel evidence alone.
    Raises ValueError for another kind."""
    kinds = [MediaKind(kind)] if kind else list(KIND_SEGMENTS)
    if any(k not in KIND_SEGMENTS for k in kinds):
        raise ValueError(f"unknown kind {kind!r}; choose image or video")
    threshold = DEFAULT_THRESHOLD if threshold is None else float(threshold)
    report = DuplicateReport(threshold, [], {}, {})
    for k in kinds:
        rows, vectors, has_vector = ctx.catalog.duplicate_candidates(KIND_SEGMENTS[k], Space.CLIP)
        if not use_vectors:
            has_vector = np.zeros(len(rows), bool)
        pictures = [Picture(**{n: v for n, v in r.items() if n != "detail"}, hashes=hashes_of(r["detail"]),
                            hashed=hashed(r["detail"]), flat=flat_of(r["detail"])) for r in rows]
        if k == MediaKind.IMAGE:
            lazily = lazy_image_hashes(pictures)
            if lazily:
                report.notes.append(f"{lazily} images indexed before hashes were stored: hashed from their files")
            for p in pictures:
                p.flat = 1.0 if p.flat is None and p.hashes else p.flat  # not measured: always pixel-checked
        report.compared[k] = len(pictures)
        report.unhashed[k] = sum(1 for p in pictures if not p.hashes)
        if k == MediaKind.VIDEO and report.unhashed[k]:
            report.notes.append(f"{report.unhashed[k]} video scenes without a hash: not compared (the vectors "
                                "alone never make a copy)")
        stats = PairStats()
        report.groups += GROUPERS[k](pictures, vectors, has_vector, threshold, CHECKERS[k](pictures), stats)
        report.checked[k] = stats.checked
        if stats.unchecked and k == MediaKind.IMAGE:
            report.notes.append(f"{stats.unchecked} look-alike image pairs could not be pixel-checked "
                                "(a file moved or unreadable): reported only within the bits their hash alone "
                                "is trusted for")
    return report
