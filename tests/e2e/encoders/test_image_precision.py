"""The image tower's number format by hardware (mmsearch/encoders/precision.py): bf16 on a CPU with native
bf16 for open_clip's own ViT, converted the way open_clip's ``precision="bf16"`` does it, and the same
embeddings as fp32 up to bf16's rounding; the text tower untouched."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mmsearch.encoders.openclip import OpenClipEncoder
from mmsearch.encoders.precision import image_dtype_name, native_bf16, visual_to_bf16


class VisionTransformer:  # stands for open_clip's tower of that name: the rule reads the class name only
    pass


class TimmModel:
    pass


@pytest.mark.parametrize(("device", "tower", "native", "dtype"), [
    ("cuda", VisionTransformer(), False, "float16"),
    ("cuda:1", TimmModel(), True, "float16"),
    ("cpu", VisionTransformer(), True, "bfloat16"),
    ("cpu", VisionTransformer(), False, "float32"),  # no native bf16: oneDNN would emulate it, slower
    ("cpu", TimmModel(), True, "float32"),           # a tower whose layers the conversion does not know
])
def test_the_format_is_looked_up_from_device_cpu_and_tower(device, tower, native, dtype):
    assert image_dtype_name(device, tower, native=native) == dtype


def test_conversion_keeps_layernorm_in_fp32_and_the_embeddings_close():
    import open_clip
    from open_clip.transformer import LayerNormFp32

    torch.manual_seed(3)
    model = open_clip.create_model("ViT-B-32")  # random init, the default architecture
    model.eval()
    x = torch.rand(3, 3, 224, 224)
    with torch.inference_mode():
        before = model.encode_image(x).float()
    visual_to_bf16(model.visual)
    norms = [m for m in model.visual.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert norms and all(type(m) is LayerNormFp32 and m.weight.dtype == torch.float32 for m in norms)
    linears = [m for m in model.visual.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    assert linears and all(m.weight.dtype == torch.bfloat16 for m in linears)
    assert model.visual.proj.dtype == torch.bfloat16
    assert all(p.dtype == torch.float32 for p in model.transformer.parameters())  # text tower untouched
    with torch.inference_mode():
        after = model.encode_image(x.bfloat16()).float()
    cos = torch.nn.functional.cosine_similarity(before, after)
    assert cos.min().item() > 0.999, cos
    assert not torch.equal(before, after)  # it did compute in bf16


@pytest.mark.parametrize("variant", [
    {},
    {"ls_init_value": 0.1},                                                      # LayerScale's gamma
    {"attentional_pool": True, "attn_pooler_queries": 8, "attn_pooler_heads": 2},  # the pooler's queries
    {"pool_type": "avg", "final_ln_after_pool": True},
    {"qk_norm": True},
    {"scale_fc": True, "scale_attn": True},
    {"no_ln_pre": True},
], ids=["plain", "layerscale", "attentional-pool", "avg-pool", "qk-norm", "scaled", "no-ln-pre"])
def test_every_vit_variant_of_open_clip_converts_and_computes(variant, tmp_path):
    """No fp32 parameter of a tower variant meets a bf16 tensor (open_clip's recipe alone leaves LayerScale's
    gamma and the attentional pooler's queries in fp32, which fails at the first picture)."""
    import json

    import open_clip

    config = {"embed_dim": 32, "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2,
                                            "layers": 1},
              "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16, **variant}}
    path = tmp_path / f"mmsearch-vit-{tmp_path.name}.json"  # a config name of its own per variant
    path.write_text(json.dumps(config))
    open_clip.add_model_config(path)
    torch.manual_seed(0)
    model = open_clip.create_model(path.stem)
    model.eval()
    assert type(model.visual).__name__ == "VisionTransformer"
    x = torch.rand(2, 3, 32, 32)
    with torch.inference_mode():
        before = model.encode_image(x).float()
        visual_to_bf16(model.visual)
        after = model.encode_image(x.bfloat16()).float()
    assert torch.nn.functional.cosine_similarity(before, after).min().item() > 0.999


def test_a_forced_format_is_checked():
    import open_clip

    visual = open_clip.create_model("ViT-B-32").visual
    assert image_dtype_name("cpu", visual, native=True, forced="float32") == "float32"
    assert image_dtype_name("cpu", visual, native=False, forced="bfloat16") == "bfloat16"  # a benchmark may ask
    assert image_dtype_name("cuda", visual, native=True, forced="float32") == "float16"    # CUDA is fp16
    with pytest.raises(ValueError, match="bfloat16"):
        image_dtype_name("cpu", TimmModel(), native=True, forced="bfloat16")  # a tower the conversion does not know
    with pytest.raises(ValueError, match="float16"):
        image_dtype_name("cpu", visual, native=True, forced="float16")
    assert image_dtype_name("xpu", visual, native=True) == "float32"  # the CPU's rule is the CPU's


def test_the_encoder_gives_the_same_ranking_in_bf16_and_fp32(tiny_clip):
    fp32 = OpenClipEncoder(tiny_clip, image_dtype="float32")
    bf16 = OpenClipEncoder(tiny_clip, image_dtype="bfloat16")
    assert fp32.image_dtype == "float32" and bf16.image_dtype == "bfloat16"
    colours = [(200, 40, 40), (30, 60, 220), (240, 240, 240), (20, 160, 60), (10, 10, 10)]
    images = [Image.new("RGB", (64, 48), c) for c in colours]
    a = fp32.encode_prepared([fp32.prepare_image(im) for im in images])
    b = bf16.encode_prepared([bf16.prepare_image(im) for im in images])
    assert a.dtype == b.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, rtol=1e-5)
    assert np.min(np.sum(a * b, axis=1)) > 0.999
    assert np.array_equal(np.argsort(-(a @ a.T), axis=1)[:, :2], np.argsort(-(b @ b.T), axis=1)[:, :2])
    np.testing.assert_array_equal(fp32.encode_text(["a red square"]), bf16.encode_text(["a red square"]))


def test_the_default_follows_the_cpu(tiny_clip):
    assert OpenClipEncoder(tiny_clip).image_dtype == ("bfloat16" if native_bf16() else "float32")
