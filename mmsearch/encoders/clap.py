"""CLAP (contrastive language-audio pretraining) for the ``audio`` space: sounds and text in one space.

Model specs (setting ``MMSEARCH_AUDIO_MODEL``, or ``audio_model`` in the config file): a Hugging Face hub id of a
transformers CLAP checkpoint (default ``laion/clap-htsat-unfused``, ~600 MB, downloaded once to the
Hugging Face cache) or a local directory in ``save_pretrained`` layout (``config.json``, weights, the
feature extractor's ``preprocessor_config.json`` and the tokenizer files).

Audio input: mono float32 waves at :attr:`ClapEncoder.sample_rate` (48 kHz for the LAION checkpoints).
A wave up to the model's clip length (``max_length_s``, 10 s) is one embedding (shorter ones are
repeat-padded by the feature extractor). A longer wave is cut into clip-length pieces (the last aligned
to the wave's end) whose embeddings are averaged, so the result never depends on random crops and a
wave's embedding is the same alone or in a batch.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from mmsearch.encoders.base import l2_normalize
from mmsearch.encoders.hub import looks_like_path as _looks_like_path
from mmsearch.errors import ModelUnavailableError, brief

DEFAULT_MODEL = "laion/clap-htsat-unfused"


def _unavailable(spec: str, why: str) -> ModelUnavailableError:
    return ModelUnavailableError(
        f"cannot load the audio model {spec!r}: {why}. Set MMSEARCH_AUDIO_MODEL (or audio_model in config.toml) to a "
        f"transformers CLAP hub id such as {DEFAULT_MODEL!r} (downloaded once, needs network) or to a local "
        "directory saved with ClapModel.save_pretrained + ClapProcessor.save_pretrained"
    )


class ClapEncoder:
    """Encoder for the ``audio`` space (modalities audio and text).

    Attributes:
        space: ``"audio"``.
        model_id: the hub id, or the absolute path of a local directory.
        dim: projection dimension (512 for the LAION checkpoints).
        sample_rate: rate ``encode_audio`` expects (48000).
        clip_seconds: the model's clip length (10 s); use it as the window length.

    Thread safety: ``encode_*`` may be called from one thread at a time per instance (the feature extractor
    is numpy, the model a torch module); CPU feature extraction of a 10 s window takes ~10 ms.
    """

    space = "audio"
    modalities = frozenset({"audio", "text"})

    def __init__(self, spec: str = DEFAULT_MODEL, device: str = "cpu", batch_size: int = 8) -> None:
        spec = (spec or DEFAULT_MODEL).strip()
        self.spec = spec
        self.device = device
        self.batch_size = max(1, int(batch_size))
        expanded = os.path.expanduser(spec)
        if os.path.isdir(expanded):
            source = os.path.abspath(expanded)
            self.model_id = source
        elif _looks_like_path(spec) or os.path.exists(expanded):
            raise _unavailable(spec, "no such directory")
        else:
            source = spec
            self.model_id = spec
        try:
            import torch
            from transformers import ClapModel, ClapProcessor
        except ImportError as e:  # pragma: no cover - dependency missing
            raise _unavailable(spec, f"transformers/torch missing ({e})") from None
        try:
            self._processor = ClapProcessor.from_pretrained(source)
            model = ClapModel.from_pretrained(source)
        except Exception as e:  # noqa: BLE001 - any load failure is one ModelUnavailableError line
            raise _unavailable(spec, brief(e)) from None
        model.eval()
        self._dtype = torch.float32
        if str(device).startswith("cuda"):
            model = model.half()
            self._dtype = torch.float16
        # transformers wraps ``to`` in functools.wraps(torch.nn.Module.to), which the stubs type as an unbound
        # function wanting the model as its first argument; the call itself is the ordinary bound one.
        self._model = cast(Any, model).to(device)
        self._torch = torch
        fe = self._processor.feature_extractor
        self.sample_rate = int(fe.sampling_rate)
        self._max_samples = int(getattr(fe, "nb_max_samples", 0) or fe.max_length_s * fe.sampling_rate)
        self.clip_seconds = self._max_samples / self.sample_rate
        self.dim = int(model.config.projection_dim)
        # a fused checkpoint takes 4 mel views per clip, an unfused one a single view: follow the model,
        # whatever the saved feature extractor says
        self._truncation = "fusion" if getattr(model.config.audio_config, "enable_fusion", False) else "rand_trunc"
        tok = self._processor.tokenizer
        limit = int(getattr(model.config.text_config, "max_position_embeddings", 514)) - 2
        model_max = getattr(tok, "model_max_length", None) or limit
        self._text_max_len = max(8, min(limit, int(model_max) if model_max < 1e9 else limit))

    # -- text ------------------------------------------------------------------------------------

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32 unit vectors; an empty list gives (0, dim)."""
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        torch = self._torch
        out = []
        for i in range(0, len(texts), 64):
            batch = self._processor.tokenizer(
                texts[i : i + 64], padding=True, truncation=True, max_length=self._text_max_len, return_tensors="pt"
            )
            batch = {k: v.to(self.device) for k, v in batch.items() if k in ("input_ids", "attention_mask")}
            with torch.inference_mode():
                feats = self._model.get_text_features(**batch)
            out.append(_tensor(feats).float().cpu().numpy())
        return l2_normalize(np.concatenate(out))

    # -- audio -----------------------------------------------------------------------------------

    def _pieces(self, wave: np.ndarray) -> list[np.ndarray]:
        x = np.asarray(wave, dtype=np.float32)
        if x.ndim == 2:  # (channels, n) or (n, channels)
            x = x.mean(axis=0) if x.shape[0] < x.shape[1] else x.mean(axis=1)
        x = np.nan_to_num(x.reshape(-1))
        if x.size == 0:
            raise ValueError("cannot embed an empty waveform")
        n = self._max_samples
        if x.size <= n:
            return [x]
        starts = list(range(0, x.size - n, n)) + [x.size - n]
        return [x[s : s + n] for s in starts]

    def encode_audio(self, waves: Sequence[np.ndarray]) -> np.ndarray:
        """Embed mono waves sampled at :attr:`sample_rate`; (n, dim) float32 unit vectors.

        Waves are batched ``batch_size`` clips at a time; a wave longer than :attr:`clip_seconds` is the mean
        of its clip-length pieces. Raises ValueError for an empty wave.
        """
        waves = list(waves)
        if not waves:
            return np.zeros((0, self.dim), np.float32)
        pieces: list[np.ndarray] = []
        owner: list[int] = []
        for i, w in enumerate(waves):
            for p in self._pieces(w):
                pieces.append(p)
                owner.append(i)
        torch = self._torch
        fe = self._processor.feature_extractor
        embs = []
        for i in range(0, len(pieces), self.batch_size):
            chunk = pieces[i : i + self.batch_size]
            feats = fe(chunk, sampling_rate=self.sample_rate, truncation=self._truncation, return_tensors="pt")
            # every piece fits the clip length: tell the model so (the feature extractor marks a random
            # one as "longer" in fusion mode, which would make results depend on the batch)
            is_longer = torch.zeros((len(chunk), 1), dtype=torch.bool, device=self.device)
            with torch.inference_mode():
                out = self._model.get_audio_features(
                    input_features=feats["input_features"].to(self.device, self._dtype), is_longer=is_longer
                )
            embs.append(_tensor(out).float().cpu().numpy())
        e = l2_normalize(np.concatenate(embs))
        if len(pieces) == len(waves):
            return e
        pooled = np.zeros((len(waves), self.dim), np.float32)
        np.add.at(pooled, np.asarray(owner), e)
        return l2_normalize(pooled)

    # -- images: not in this space -------------------------------------------------------------------

    def prepare_image(self, image: Any) -> Any:
        raise NotImplementedError("the audio space has no image encoder")

    def encode_prepared(self, prepared: Sequence[Any]) -> np.ndarray:
        raise NotImplementedError("the audio space has no image encoder")


def _tensor(out: Any) -> Any:
    """transformers < 5 returns the projected tensor, >= 5 a ModelOutput whose pooler_output holds it."""
    if hasattr(out, "pooler_output") and not hasattr(out, "dim"):
        return out.pooler_output
    if isinstance(out, (tuple, list)):
        return out[0]
    return out


__all__ = ["ClapEncoder", "DEFAULT_MODEL"]
