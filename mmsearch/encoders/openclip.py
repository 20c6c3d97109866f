"""open_clip image+text encoder: the ``clip`` space shared by photos, video frames and texts.

Model spec: ``ARCH:PRETRAINED``.
- ``ARCH`` is an open_clip model name (``ViT-B-32``) or a path to a model-config JSON (registered
  with ``open_clip.add_model_config``, for custom architectures).
- ``PRETRAINED`` is an open_clip tag (``laion2b_s34b_b79k``: downloaded on first use and cached) or a
  path to a local checkpoint file (works offline).
- ``hf-hub:ORG/REPO`` names an open_clip model on the Hugging Face hub.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import ModelUnavailableError
from .base import l2_normalize
from .hub import prepare_hub

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


class OpenClipEncoder:
    """Images and texts into one space with an open_clip model. fp16 on CUDA, fp32 on CPU."""

    space = "clip"
    modalities = frozenset({"image", "text"})

    def __init__(self, spec: str, device: str = "cpu") -> None:
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
        if pretrained and _looks_like_path(pretrained):
            ckpt = Path(pretrained).expanduser()
            if not ckpt.is_file():
                raise ModelUnavailableError(f"checkpoint {ckpt} does not exist; {SETTING_HINT}")
            self.model_id = f"{arch}:{ckpt.name}#{file_digest(ckpt)}"
            source = str(ckpt)
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
                    model_name, pretrained=source, device=device, precision="fp16" if use_half else "fp32"
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
        self._torch = torch
        self._model = model
        self._preprocess = preprocess
        self._tokenizer = open_clip.get_tokenizer(model_name)
        # One forward at a time: a model is not re-entrant on the GPU, and threads on the CPU
        # would only fight over the same cores.
        self._lock = threading.Lock()
        self.dim = int(self.encode_text(["a"]).shape[1])

    def _autocast(self):
        if self.device.startswith("cuda"):
            return self._torch.autocast("cuda", dtype=self._torch.float16)
        import contextlib

        return contextlib.nullcontext()

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, getattr(self, "dim", 0)), np.float32)
        tokens = self._tokenizer(list(texts)).to(self.device)
        with self._lock, self._torch.inference_mode(), self._autocast():
            out = self._model.encode_text(tokens)
        return l2_normalize(out.float().cpu().numpy())

    def prepare_image(self, image: Any) -> Any:
        return self._preprocess(image.convert("RGB"))

    def encode_prepared(self, prepared: Sequence[Any]) -> np.ndarray:
        if not prepared:
            return np.zeros((0, self.dim), np.float32)
        batch = self._torch.stack(list(prepared)).to(self.device)
        if self.device.startswith("cuda"):
            batch = batch.half()
        with self._lock, self._torch.inference_mode(), self._autocast():
            out = self._model.encode_image(batch)
        return l2_normalize(out.float().cpu().numpy())
