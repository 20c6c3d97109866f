"""The number format a model computes in, chosen by the hardware it runs on.

The rule: on CUDA the clip model runs in fp16 (open_clip's ``precision="fp16"``). On a CPU that computes
bf16 natively (AMX or AVX512-BF16, :func:`native_bf16`) the *image tower* runs in bf16 the way open_clip's
own ``precision="bf16"`` does it: the weights of its convolutions, linear layers and attention in bf16,
its LayerNorms in fp32 (:func:`visual_to_bf16`). Anywhere else, and for every text tower on the CPU
(queries: the exact BLAS tower, text_tower.py), fp32.

Why the image tower: it is the video pass's critical path and the picture pass's main cost. Measured on this
project's machine (AMX, one thread, ViT-B-32, batches of 8): 16.8 ms a frame against 57.9 ms in fp32; the
embeddings' cosine to fp32 is at least 0.999 (tested; 0.99994 measured with random-init weights). CLIP
models are trained under mixed precision, so bf16 weights with fp32 normalisation is the regime their
weights were made in.
``torch.autocast`` on the CPU is not used for it: it was ~5x *slower* than fp32 for this tower here.

Only towers whose layers are known are converted (:data:`BF16_TOWERS`: open_clip's own VisionTransformer);
another tower (timm, MobileCLIP's convolutions with BatchNorm) stays fp32 rather than be converted unchecked.
"""
from __future__ import annotations

from typing import Any

__all__ = ["BF16_TOWERS", "CPU_FORMATS", "native_bf16", "image_dtype_name", "visual_to_bf16"]

_BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})  # CPU features that run bf16 natively (Linux /proc/cpuinfo)
BF16_TOWERS = frozenset({"VisionTransformer"})  # image towers whose layers visual_to_bf16 converts correctly


def native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU computes in bf16 natively (AMX or AVX512-BF16); False where it cannot be told."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return bool(_BF16_FLAGS & set(flags.split()))


CPU_FORMATS = ("float32", "bfloat16")  # what a caller may force on the CPU


def image_dtype_name(device: str, visual: Any, native: bool | None = None, forced: str | None = None) -> str:
    """The image tower's number format on ``device``: ``float16`` on CUDA, ``bfloat16`` on a CPU with native
    bf16 for a tower in :data:`BF16_TOWERS`, else ``float32``. ``native``: the CPU's answer (default: read).
    ``forced`` (benchmarks compare the two): one of :data:`CPU_FORMATS` on the CPU, ``bfloat16`` only for a
    tower in :data:`BF16_TOWERS` (ValueError otherwise); CUDA stays ``float16``."""
    if device.startswith("cuda"):
        return "float16"
    known = type(visual).__name__ in BF16_TOWERS
    if forced is not None:
        if forced not in CPU_FORMATS or (forced == "bfloat16" and not known):
            raise ValueError(f"image tower format {forced!r}: the CPU takes {' or '.join(CPU_FORMATS)}, bfloat16 "
                             f"only for {', '.join(sorted(BF16_TOWERS))} (this tower: {type(visual).__name__})")
        return forced
    if device != "cpu" or not known:
        return "float32"
    return "bfloat16" if (native_bf16() if native is None else native) else "float32"


def visual_to_bf16(visual: Any) -> None:
    """Convert an fp32 image tower in place the way open_clip's ``precision="bf16"`` builds one: its
    convolutions, linear layers, attention and projection in bf16, every LayerNorm computing in fp32
    (open_clip's ``LayerNormFp32``: input cast up, output cast back); and every other parameter in bf16 too
    (tower variants: LayerScale, the attentional pooler, scaled-cosine attention)."""
    import torch
    from open_clip.model import convert_weights_to_lp
    from open_clip.transformer import LayerNorm, LayerNormFp32

    convert_weights_to_lp(visual, dtype=torch.bfloat16)
    norms = [m for m in visual.modules() if type(m) in (LayerNorm, torch.nn.LayerNorm)]
    for module in norms:
        module.__class__ = LayerNormFp32
    # what open_clip's recipe leaves in fp32 and a tower variant multiplies or attends with (LayerScale's gamma,
    # the attentional pooler's queries, scaled-cosine attention's scales), so that no fp32 tensor meets a bf16 one
    kept = {id(p) for m in norms for p in m.parameters(recurse=False)}
    for param in visual.parameters():
        if id(param) not in kept and param.is_floating_point():
            param.data = param.data.to(torch.bfloat16)
