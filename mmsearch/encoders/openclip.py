"""open_clip image+text encoder: the ``clip`` space shared by photos, video frames and texts.

Model spec: ``ARCH:PRETRAINED``.
- ``ARCH`` is an open_clip model name (``ViT-B-32``) or a path to a model-config JSON (registered
  with ``open_clip.add_model_config``, for custom architectures).
- ``PRETRAINED`` is an open_clip tag (``laion2b_s34b_b79k``: downloaded on first use and cached) or a
  path to a local checkpoint file (works offline).
- ``hf-hub:ORG/REPO`` names an open_clip model on the Hugging Face hub.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmsearch.encoders.base import CPU_BATCH, batch_for_memory, l2_normalize
from mmsearch.encoders.hub import prepare_hub
from mmsearch.errors import ModelUnavailableError
from mmsearch.threads import single_threaded

QUERY_BATCH = 4  # up to this many texts are a query (latency path), more are an ingest batch

SETTING_HINT = (
    "set MMSEARCH_MODEL (or --model) to ARCH:/path/to/checkpoint.pt for local weights, "
    "or run once on a machine with internet access so the weights are cached"
)


def parse_spec(spec: str) -> tuple[str, str | None]:
    """Split ``ARCH:PRETRAINED`` (a ``.json:`` config path may itself contain colons)."""
    if spec.startswith("hf-hub:"):
        return spec, None
    if ".json:" in spec:
        arch, pretrained = spec.split(".json:", 1)
        return arch + ".json", pretrained or None
    arch, _, pretrained = spec.partition(":")
    return arch, pretrained or None


def _looks_like_path(value: str) -> bool:
    return "/" in value or "\\" in value or value.endswith((".pt", ".pth", ".bin", ".safetensors"))


def file_digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=8)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


_PREPROCESS_KEYS = {"mean": "image_mean", "std": "image_std", "interpolation": "image_interpolation",
                    "resize_mode": "image_resize_mode"}


def checkpoint_preprocess(arch: str) -> dict:
    """How a local checkpoint of ``arch`` wants its images prepared: the normalisation, interpolation and
    resize mode that every published pretrained tag of the architecture agrees on (MobileCLIP2: mean 0 /
    std 1; SigLIP 2: 0.5 / 0.5, squash), as ``create_model_and_transforms`` keywords. Empty when the arch
    has no tags or its tags disagree: open_clip's defaults (OpenAI's) then apply."""
    import open_clip

    seen: set[tuple] = set()
    for tag in open_clip.list_pretrained_tags_by_model(arch):
        cfg = open_clip.get_pretrained_cfg(arch, tag)
        seen.add(tuple((key, tuple(v) if isinstance(v, list) else v) for key in _PREPROCESS_KEYS
                       if (v := cfg.get(key)) is not None))
    if len(seen) != 1:
        return {}
    return {_PREPROCESS_KEYS[key]: (list(v) if isinstance(v, tuple) else v) for key, v in seen.pop()}


class OpenClipEncoder:
    """Images and texts into one space with an open_clip model. fp16 on CUDA; on the CPU the image tower in
    bf16 where the CPU computes bf16 natively, everything else in fp32 (precision.py has the rule).

    ``image_dtype``: force the image tower's number format (``"float32"``/``"bfloat16"``; benchmarks compare
    the two in one run); None = the rule."""

    space = "clip"
    modalities = frozenset({"image", "text"})

    def __init__(self, spec: str, device: str = "cpu", image_dtype: str | None = None) -> None:
        import open_clip
        import torch

        arch, pretrained = parse_spec(spec)
        if arch.endswith(".json"):
            config = Path(arch).expanduser()
            if not config.is_file():
                raise ModelUnavailableError(f"model config {config} does not exist; {SETTING_HINT}")
            open_clip.add_model_config(config)
            arch = config.stem
        model_name = arch
        source: str | None  # a checkpoint file, a pretrained tag, or None for open_clip's default
        preprocess_cfg: dict = {}
        if pretrained and _looks_like_path(pretrained):
            ckpt = Path(pretrained).expanduser()
            if not ckpt.is_file():
                raise ModelUnavailableError(f"checkpoint {ckpt} does not exist; {SETTING_HINT}")
            self.model_id = f"{arch}:{ckpt.name}#{file_digest(ckpt)}"
            source = str(ckpt)
            preprocess_cfg = checkpoint_preprocess(arch)
        else:
            if arch not in open_clip.list_models() and not arch.startswith("hf-hub:"):
                raise ModelUnavailableError(
                    f"unknown open_clip architecture {arch!r} in model spec {spec!r}; "
                    f"set MMSEARCH_MODEL (or --model) to ARCH:PRETRAINED, e.g. ViT-B-32:laion2b_s34b_b79k"
                )
            self.model_id = spec
            source = pretrained
            # Offline, the hub libraries now look only in the local cache and fail fast.
            online = prepare_hub()
        self.device = device
        use_half = device.startswith("cuda")
        try:
            # open_clip logs its own download failure on the root logger; the one message the user
            # needs is the ModelUnavailableError below.
            logging.disable(logging.ERROR)
            try:
                model, _, preprocess = open_clip.create_model_and_transforms(
                    model_name, pretrained=source, device=device, precision="fp16" if use_half else "fp32",
                    **preprocess_cfg,
                )
            finally:
                logging.disable(logging.NOTSET)
        except Exception as exc:  # noqa: BLE001 - every loader failure gets the same actionable message
            if source is not None and not _looks_like_path(source) and not locals().get("online", True):
                why = "its weights are not in the local cache and the model hub cannot be reached"
            else:
                why = str(exc).splitlines()[0][:300]
            raise ModelUnavailableError(f"cannot load open_clip model {spec!r}: {why}; {SETTING_HINT}") from None
        model.eval()
        from mmsearch.encoders.precision import image_dtype_name, visual_to_bf16

        self.image_dtype = image_dtype_name(device, model.visual, forced=image_dtype)
        if self.image_dtype == "bfloat16":
            visual_to_bf16(model.visual)
        self._image_dtype = getattr(torch, self.image_dtype)
        from mmsearch.encoders.text_tower import BlasTextTower

        # Queries on the CPU take the BLAS text tower (same numbers, ~25% less time); see text_tower.py.
        self._tower = BlasTextTower(model) if device == "cpu" and BlasTextTower.supports(model) else None
        self._torch = torch
        self._model = model
        from mmsearch.encoders.pil_tensor import PilPreprocess

        self._preprocess = preprocess
        # the same tensors, without torch's thread pool per picture (see pil_tensor.py)
        self._prepare = PilPreprocess.from_transforms(preprocess) or preprocess
        from mmsearch.media.jpeg_tensor import TensorPreprocess

        self._tensor_preprocess = TensorPreprocess.from_transforms(preprocess)
        self._tokenizer = open_clip.get_tokenizer(model_name)
        # One forward at a time: a model is not re-entrant on the GPU, and threads on the CPU
        # would only fight over the same cores.
        self._lock = threading.Lock()
        self.dim = int(self.encode_text(["a"]).shape[1])

    def _autocast(self):
        if self.device.startswith("cuda"):
            return self._torch.autocast("cuda", dtype=self._torch.float16)
        return contextlib.nullcontext()

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, getattr(self, "dim", 0)), np.float32)
        tokens = self._tokenizer(list(texts))
        query_sized = len(texts) <= QUERY_BATCH
        if self._tower is not None and query_sized:
            with self._lock, self._torch.inference_mode(), single_threaded():
                return l2_normalize(self._tower(tokens.numpy()))
        tokens = tokens.to(self.device)
        with self._lock, self._torch.inference_mode(), self._autocast():
            with single_threaded() if query_sized and self.device == "cpu" else contextlib.nullcontext():
                out = self._encode_trimmed(tokens) if self._can_trim() else self._model.encode_text(tokens)
        return l2_normalize(out.float().cpu().numpy())

    def _can_trim(self) -> bool:
        m = self._model
        return (
            type(m).__name__ == "CLIP"
            and getattr(m, "text_pool_type", None) in ("argmax", "eos")
            and getattr(m, "attn_mask", None) is not None
        )

    def _encode_trimmed(self, tokens):
        """CLIP's text tower on the tokens up to the longest text's end instead of all 77 positions.

        The tower is causal and pools at the end-of-text token, so the padding after it never changes
        the result; a short query costs a few positions instead of 77 (~7x less work per query).
        """
        from open_clip.transformer import text_global_pool

        from mmsearch.encoders.text_tower import text_length

        m = self._model
        n = text_length(tokens)
        t = tokens[:, :n]
        cast = m.transformer.get_cast_dtype()
        x = m.token_embedding(t).to(cast) + m.positional_embedding[:n].to(cast)
        x = m.transformer(x, attn_mask=m.attn_mask[:n, :n])
        x = m.ln_final(x)
        x = text_global_pool(x, t, m.text_pool_type, eos_token_id=getattr(m, "text_eos_id", None))
        if m.text_projection is not None:
            x = m.text_projection(x) if isinstance(m.text_projection, self._torch.nn.Linear) else x @ m.text_projection
        return x

    def prepare_image(self, image: Any) -> Any:
        return self._prepare(image.convert("RGB"))

    def prepare_jpeg(self, data: bytes) -> tuple[Any, int, int] | None:
        """Decode and preprocess a JPEG's bytes with torchvision on this encoder's device (nvJPEG on
        CUDA): ``(prepared, width, height)``, or None when this path cannot take it (the caller then
        decodes with Pillow, which also judges a damaged file). Safe to call from worker threads."""
        from mmsearch.media.jpeg_tensor import decode_jpeg, is_complete_jpeg

        if self._tensor_preprocess is None or not is_complete_jpeg(data):
            return None
        try:
            image, width, height = decode_jpeg(data, self.device)
            with self._torch.inference_mode():
                return self._tensor_preprocess(image), width, height
        except Exception:  # noqa: BLE001 - any decoder complaint sends the file the Pillow way
            return None

    def fit_batch_size(self, cap: int = 512) -> int:
        """Images per batch for this device: CPU_BATCH on the CPU; on CUDA, measured: the activation
        memory of a probe batch, scaled to half the card's free memory (a power of two, 16..cap)."""
        if not self.device.startswith("cuda"):
            return CPU_BATCH
        torch = self._torch
        probe = 8
        size = self._tensor_preprocess.crop if self._tensor_preprocess else (224, 224)
        x = torch.zeros((probe, 3, *size), device=self.device, dtype=torch.float16)
        torch.cuda.synchronize(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        base = torch.cuda.memory_allocated(self.device)
        with self._lock, torch.inference_mode(), self._autocast():
            self._model.encode_image(x)
        torch.cuda.synchronize(self.device)
        per_item = (torch.cuda.max_memory_allocated(self.device) - base) / probe
        free, _total = torch.cuda.mem_get_info(self.device)
        return batch_for_memory(free, int(per_item), cap=cap)

    def encode_prepared(self, prepared: Sequence[Any]) -> np.ndarray:
        if not prepared:
            return np.zeros((0, self.dim), np.float32)
        # Pillow-prepared tensors are on the CPU, torchvision-prepared ones already on the device.
        batch = self._torch.stack([p.to(self.device) for p in prepared]).to(self._image_dtype)
        with self._lock, self._torch.inference_mode(), self._autocast():
            out = self._model.encode_image(batch)
        return l2_normalize(out.float().cpu().numpy())
