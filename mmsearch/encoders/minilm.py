"""A BERT sentence encoder (all-MiniLM-L6-v2 and its kin) on numpy alone: tokenizer, encoder, mean pooling.

Why: a command-line query used to load ``sentence_transformers``, which imports torch, transformers and
their whole import graph (seconds) to embed a dozen tokens. This forward reads the same files (the
``tokenizers`` JSON, ``model.safetensors``) and computes what ``SentenceTransformer.encode`` does for a
``Transformer -> Pooling(mean) [-> Normalize]`` model on the CPU in float32: equal within float32 rounding
(tests/e2e/encoders/test_text_tower.py compares the two on real sentences).

:func:`supports` says whether a model folder is one this module runs; any other keeps sentence_transformers.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def supports(folder: str | Path) -> bool:
    """A sentence-transformers folder of a BERT model with mean pooling whose files this module reads."""
    root = Path(folder)
    try:
        modules = json.loads((root / "modules.json").read_text())
        config = json.loads((root / "config.json").read_text())
        pooling = next((m for m in modules if m["type"].endswith("models.Pooling")), None)
        pool = json.loads((root / pooling["path"] / "config.json").read_text()) if pooling else {}
    except (OSError, ValueError, KeyError, TypeError):
        return False
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    mean_only = pool.get("pooling_mode_mean_tokens") and not any(
        v for k, v in pool.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens")
    return (kinds in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]) and bool(mean_only)
            and config.get("model_type") == "bert" and config.get("hidden_act") == "gelu"
            and config.get("position_embedding_type", "absolute") == "absolute"
            and (root / "model.safetensors").is_file() and (root / "tokenizer.json").is_file())


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to ~1e-7 (Abramowitz and Stegun 7.1.26): float32's own rounding is larger."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + _ERF_P * a)
    poly = t * (_ERF_A[0] + t * (_ERF_A[1] + t * (_ERF_A[2] + t * (_ERF_A[3] + t * _ERF_A[4]))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


class NumpyMiniLM:
    """``encode(texts) -> (n, dim)`` float32 mean-pooled (not normalized) sentence vectors."""

    def __init__(self, folder: str | Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        root = Path(folder)
        config = json.loads((root / "config.json").read_text())
        st_config = root / "sentence_bert_config.json"
        max_len = json.loads(st_config.read_text()).get("max_seq_length") if st_config.is_file() else None
        self.max_length = int(max_len or config.get("max_position_embeddings", 512))
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.dim = int(config["hidden_size"])
        self._w = {k.removeprefix("bert."): v for k, v in load_file(str(root / "model.safetensors")).items()}
        self._tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(self.max_length)

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self._w[name + ".weight"].T + self._w[name + ".bias"]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(list(texts))
        n, length = len(encodings), max(len(e.ids) for e in encodings)
        ids = np.zeros((n, length), np.int64)
        types = np.zeros((n, length), np.int64)
        mask = np.zeros((n, length), np.float32)
        for i, e in enumerate(encodings):
            ids[i, : len(e.ids)], types[i, : len(e.ids)], mask[i, : len(e.ids)] = e.ids, e.type_ids, 1.0
        w = self._w
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][types])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]  # padded keys get no attention
        for i in range(self.layers):
            x = self._layer(x, f"encoder.layer.{i}", bias)
        summed = (x * mask[:, :, None]).sum(1)
        return (summed / np.maximum(mask.sum(1, keepdims=True), 1e-9)).astype(np.float32)

    def _layer(self, x: np.ndarray, p: str, bias: np.ndarray) -> np.ndarray:
        n, length, dim = x.shape
        head = dim // self.heads

        def split(t: np.ndarray) -> np.ndarray:
            return t.reshape(n, length, self.heads, head).transpose(0, 2, 1, 3)

        q = split(self._dense(x, p + ".attention.self.query"))
        k = split(self._dense(x, p + ".attention.self.key"))
        v = split(self._dense(x, p + ".attention.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        attn = (scores / scores.sum(-1, keepdims=True)) @ v
        attn = attn.transpose(0, 2, 1, 3).reshape(n, length, dim)
        w = self._w
        norm = p + ".attention.output.LayerNorm"
        x = _layer_norm(self._dense(attn, p + ".attention.output.dense") + x, w[norm + ".weight"], w[norm + ".bias"],
                        self.eps)
        hidden = _gelu(self._dense(x, p + ".intermediate.dense"))
        return _layer_norm(self._dense(hidden, p + ".output.dense") + x,
                           w[p + ".output.LayerNorm.weight"], w[p + ".output.LayerNorm.bias"], self.eps)


def load(folder: str | Path) -> Any:
    return NumpyMiniLM(folder)
