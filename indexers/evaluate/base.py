"""What every evaluation task shares: the manifest (its rows and formats), the :class:`Task` record the task
table (``__init__``) holds, and recall@K from ranks.

A *manifest* lists labelled examples. Formats:

- CSV / TSV with a header row, or JSON Lines, or a JSON list of objects: one row per example, e.g.
  ``image,caption`` (an image with several captions has several rows);
- the Karpathy-split JSON of Flickr30k / COCO: ``{"images": [{"filename": ..., "filepath": ...,
  "split": "test", "sentences": [{"raw": ...}, ...]}, ...]}`` (``split`` selects, default ``test``).

Relative paths resolve against ``images`` (default: the manifest's folder; for Karpathy JSON also
``images/filepath``).
"""
from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmsearch.errors import MmsearchError

KS = (1, 5, 10)


class ManifestError(MmsearchError):
    """A manifest that cannot be read or used."""


@dataclass(frozen=True)
class Task:
    """An evaluation kind: the manifest columns that select it, how rows become records, how records
    are measured (``run(ctx, manifest, ks, progress) -> dict``), and the report's figures: (label, key)
    of each direction measured, each key holding ``{"exact": recall, "engine": recall}``."""

    name: str
    columns: frozenset[str]
    build: Callable[[list[dict], Path], list]
    run: Callable[..., dict]
    describe: str = ""
    figures: tuple[tuple[str, str], ...] = ()


@dataclass
class Manifest:
    path: Path
    task: str
    root: Path
    records: list = field(default_factory=list)


def recall_from_ranks(ranks: Sequence[float] | np.ndarray, ks: Sequence[int] = KS) -> dict[str, float]:
    """recall@K from 0-based ranks of the right answer (``inf`` when it was not found)."""
    r = np.asarray(ranks, dtype=np.float64)
    return {f"R@{k}": round(float(np.mean(r < k)), 4) for k in ks}


# -- loading ------------------------------------------------------------------------------------------
def read_rows(path: Path, split: str | None = None) -> tuple[list[dict], str | None]:
    """Rows of a manifest file as dicts; for Karpathy JSON the rows it implies. Returns (rows, the
    Karpathy ``filepath`` convention used or None)."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"no manifest file at {path}")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            with open(path, newline="", encoding="utf-8-sig") as fh:
                dialect = "excel-tab" if suffix == ".tsv" else "excel"
                rows = [{(k or "").strip().lower(): (v or "").strip() for k, v in r.items()}
                        for r in csv.DictReader(fh, dialect=dialect)]
            return rows, None
        if suffix == ".jsonl":
            with open(path, encoding="utf-8") as fh:
                return [_lower(json.loads(line)) for line in fh if line.strip()], None
        if suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("images"), list):
                return _karpathy_rows(data, split), "karpathy"
            if isinstance(data, list):
                return [_lower(r) for r in data], None
            raise ManifestError(f"{path}: JSON must be a list of rows or Karpathy-split {{'images': [...]}}")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc}") from None
    raise ManifestError(f"{path}: unknown manifest format {suffix!r}; use .csv, .tsv, .jsonl or .json")


def _lower(row: Any) -> dict:
    if not isinstance(row, dict):
        raise ManifestError(f"manifest rows must be objects, got {type(row).__name__}")
    return {str(k).strip().lower(): v for k, v in row.items()}


def _karpathy_rows(data: dict, split: str | None) -> list[dict]:
    images = data["images"]
    splits = {im.get("split") for im in images if isinstance(im, dict)}
    if split is None:
        split = "test" if "test" in splits else "all"
    rows = []
    for im in images:
        if split != "all" and im.get("split") != split:
            continue
        name = im.get("filename")
        if not name:
            raise ManifestError("Karpathy JSON image without 'filename'")
        rel = str(Path(im["filepath"]) / name) if im.get("filepath") else name
        for sentence in im.get("sentences") or []:
            raw = sentence.get("raw") if isinstance(sentence, dict) else sentence
            if raw:
                rows.append({"image": rel, "caption": str(raw).strip()})
    if not rows:
        raise ManifestError(f"no captioned images in split {split!r} (splits present: {sorted(map(str, splits))})")
    return rows
