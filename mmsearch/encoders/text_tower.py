"""CLIP's causal text tower for query-sized batches on the CPU, run on numpy's BLAS.

Why: a text query is a handful of tokens, so every linear layer multiplies a few rows by a whole
weight matrix: little arithmetic, all of it waiting on the weights streaming from memory. torch's CPU
GEMM (MKL) repacks each weight on every call; OpenBLAS (numpy's), asked for ``W @ x.T`` on the
weights as torch stores them (out, in), streams them once. Measured on this project's 2-core machine,
one thread, ViT-B-32 (benchmarks/bench_text_query.py, docs/benchmarks.md): ~50 ms a query against
torch's ~70-80 ms, equal within float32 rounding. (The textbook ``x @ W.T`` is no faster than torch
and has a cliff at 12 tokens, where OpenBLAS changes kernels: 46 -> 90 ms.)

The arrays are numpy views of the torch parameters: nothing is copied or re-laid.

Only the standard open_clip ``CLIP`` text tower is taken (pre-norm residual blocks with
``nn.MultiheadAttention``, GELU or QuickGELU, optional LayerScale, causal mask, argmax/eos pooling);
any other model keeps torch's forward.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class _Block:
    ln_1: tuple[np.ndarray, np.ndarray, float]
    in_w: np.ndarray  # (3 width, width), torch's (out, in) layout, a view of the parameter
    in_b: np.ndarray | None
    out_w: np.ndarray
    out_b: np.ndarray | None
    ls_1: np.ndarray | None
    ln_2: tuple[np.ndarray, np.ndarray, float]
    fc_w: np.ndarray
    fc_b: np.ndarray | None
    proj_w: np.ndarray
    proj_b: np.ndarray | None
    ls_2: np.ndarray | None
    heads: int


class BlasTextTower:
    """Inference-only forward of a CPU float32 open_clip ``CLIP`` text tower on numpy arrays."""

    def __init__(self, model: Any) -> None:
        if not self.supports(model):
            raise ValueError("not a standard open_clip CLIP text tower on the CPU in float32")
        act = _activation(model.transformer.resblocks[0].mlp.gelu)
        if act is None:  # supports() admits only activations _activation knows
            raise ValueError("text tower activation has no numpy equivalent")
        self._act = act
        self._blocks = [_block(r) for r in model.transformer.resblocks]
        self._token_embedding = _np(model.token_embedding.weight)
        self._positional = _np(model.positional_embedding)
        self._mask = _np(model.attn_mask)
        self._ln_final = _norm(model.ln_final)
        proj = model.text_projection
        if proj is None:
            self._proj_w, self._proj_b = None, None
        elif hasattr(proj, "weight"):  # nn.Linear
            self._proj_w, self._proj_b = _np(proj.weight), _np_or_none(proj.bias)
        else:
            self._proj_w, self._proj_b = _np(proj).T, None  # a Parameter is (in, out): x @ proj
        self._pool = model.text_pool_type
        self._eos_id = getattr(model, "text_eos_id", None)

    @staticmethod
    def supports(model: Any) -> bool:
        """True when this class computes exactly what ``model.encode_text`` computes."""
        import torch
        from open_clip.transformer import LayerScale, ResidualAttentionBlock

        try:
            if type(model).__name__ != "CLIP" or model.attn_mask is None:
                return False
            if model.text_pool_type not in ("argmax", "eos") or model.token_embedding.weight.device.type != "cpu":
                return False
            if model.token_embedding.weight.dtype != torch.float32:
                return False
            if not isinstance(model.ln_final, torch.nn.LayerNorm):
                return False
            for r in model.transformer.resblocks:
                if type(r) is not ResidualAttentionBlock or hasattr(r, "ln_1_kv"):
                    return False
                a = r.attn
                if not isinstance(a, torch.nn.MultiheadAttention) or a.in_proj_weight is None:
                    return False
                if a.bias_k is not None or a.add_zero_attn or a.dropout:
                    return False
                if not (isinstance(r.ln_1, torch.nn.LayerNorm) and isinstance(r.ln_2, torch.nn.LayerNorm)):
                    return False
                if list(r.mlp._modules) != ["c_fc", "gelu", "c_proj"] or _activation(r.mlp.gelu) is None:
                    return False
                if not all(isinstance(ls, (torch.nn.Identity, LayerScale)) for ls in (r.ls_1, r.ls_2)):
                    return False
            return True
        except AttributeError:
            return False

    def __call__(self, tokens: np.ndarray) -> np.ndarray:
        """Unnormalised text features for a (batch, context) array of token ids.

        Positions after the longest text's end-of-text token are dropped: the tower is causal and
        pools at that token, so they never change the result.
        """
        tokens = np.asarray(tokens)
        n = text_length(tokens)
        t = tokens[:, :n]
        batch = len(t)
        x = self._token_embedding[t] + self._positional[:n]  # (batch, n, width)
        mask = self._mask[:n, :n]
        for b in self._blocks:
            x = x + _scaled(self._attention(_layer_norm(x, b.ln_1), b, mask), b.ls_1)
            h = self._act(_linear(_layer_norm(x, b.ln_2), b.fc_w, b.fc_b))
            x = x + _scaled(_linear(h, b.proj_w, b.proj_b), b.ls_2)
        x = _layer_norm(x, self._ln_final)
        if self._pool == "argmax":
            where = t.argmax(axis=1)
        else:
            where = (t == self._eos_id).argmax(axis=1)
        pooled = x[np.arange(batch), where]
        if self._proj_w is None:
            return pooled
        return _linear(pooled, self._proj_w, self._proj_b)

    @staticmethod
    def _attention(x: np.ndarray, b: _Block, mask: np.ndarray) -> np.ndarray:
        batch, n, width = x.shape
        hd = width // b.heads
        qkv = _linear(x, b.in_w, b.in_b).reshape(batch, n, 3, b.heads, hd).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (batch, heads, n, hd)
        s = (q @ k.transpose(0, 1, 3, 2)) * np.float32(1.0 / math.sqrt(hd)) + mask
        s = np.exp(s - s.max(axis=-1, keepdims=True))
        s /= s.sum(axis=-1, keepdims=True)
        o = (s @ v).transpose(0, 2, 1, 3).reshape(batch, n, width)
        return _linear(o, b.out_w, b.out_b)


def text_length(tokens: Any) -> int:
    """Positions up to the longest text's end-of-text token (padding is 0) in a (batch, context)
    array or tensor of token ids: all a causal tower pooling at that token needs."""
    return max(1, int((tokens != 0).sum(1).max()))


def _np(t: Any) -> np.ndarray:
    return t.detach().numpy()


def _np_or_none(t: Any) -> np.ndarray | None:
    return None if t is None else _np(t)


def _norm(ln: Any) -> tuple[np.ndarray, np.ndarray, float]:
    return _np(ln.weight), _np(ln.bias), float(ln.eps)


def _block(r: Any) -> _Block:
    a = r.attn
    return _Block(
        ln_1=_norm(r.ln_1), in_w=_np(a.in_proj_weight), in_b=_np_or_none(a.in_proj_bias),
        out_w=_np(a.out_proj.weight), out_b=_np_or_none(a.out_proj.bias),
        ls_1=_np(r.ls_1.gamma) if hasattr(r.ls_1, "gamma") else None,
        ln_2=_norm(r.ln_2), fc_w=_np(r.mlp.c_fc.weight), fc_b=_np_or_none(r.mlp.c_fc.bias),
        proj_w=_np(r.mlp.c_proj.weight), proj_b=_np_or_none(r.mlp.c_proj.bias),
        ls_2=_np(r.ls_2.gamma) if hasattr(r.ls_2, "gamma") else None,
        heads=int(a.num_heads),
    )


def _activation(module: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """The block's activation as a numpy function, or None when it is not one this module knows."""
    import torch

    name = type(module).__name__
    if name == "QuickGELU":
        return lambda x: x * (1.0 / (1.0 + np.exp(np.float32(-1.702) * x)))
    if isinstance(module, torch.nn.GELU):
        approximate = module.approximate

        def gelu(x: np.ndarray) -> np.ndarray:
            # torch's own kernel on a zero-copy view: numpy has no erf.
            return torch.nn.functional.gelu(torch.from_numpy(x), approximate=approximate).numpy()

        return gelu
    return None


def _linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """``x @ w.T + b`` for ``w`` in torch's (out, in) layout, as one ``w @ x.T`` BLAS call."""
    y = (w @ x.reshape(-1, x.shape[-1]).T).T.reshape(*x.shape[:-1], w.shape[0])
    if b is not None:
        y += b
    return y


def _scaled(x: np.ndarray, gamma: np.ndarray | None) -> np.ndarray:
    return x if gamma is None else x * gamma


def _layer_norm(x: np.ndarray, params: tuple[np.ndarray, np.ndarray, float]) -> np.ndarray:
    w, b, eps = params
    mu = x.mean(axis=-1, keepdims=True)
    d = x - mu
    var = (d * d).mean(axis=-1, keepdims=True)
    return d * (1.0 / np.sqrt(var + np.float32(eps))) * w + b
