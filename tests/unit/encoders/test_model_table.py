"""The recommended-model table (mmsearch/encoders/model_table.py): its data agrees with open_clip, and
every model in it loads through OpenClipEncoder from a local checkpoint and embeds, offline.

Each model is the real architecture at full size with random weights (a smaller config would not be
the model the table recommends): building, saving and loading one takes 15 s (ViT-B-32) to 45 s
(SigLIP 2) on a 2-core machine, so each is tested once, marked slow. Models whose tokenizer is a hub download get a local
stand-in tokenizer (benchmarks/bench_models.py ``offline_arch``): their text tower is exercised with it.
"""
from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image

from mmsearch.encoders.model_table import MODELS, by_spec
from mmsearch.encoders.openclip import OpenClipEncoder

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from bench_models import offline_arch, random_checkpoint

IDS = [m.arch for m in MODELS]


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_table_agrees_with_open_clip(model):
    assert (model.arch, model.pretrained) in open_clip.list_pretrained()
    config = open_clip.get_model_config(model.arch)
    assert config["embed_dim"] == model.dim
    assert config["vision_cfg"].get("image_size") == model.image_size
    assert model.retrieval, "every model cites at least one published retrieval benchmark"
    for r in model.retrieval:
        assert r.source
        for value in (r.text_to_image_r1, r.image_to_text_r1):
            assert value is None or 0 < value < 100
    assert by_spec(model.spec) is model


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_offline_tokenizer_flag_is_true(model, tmp_path):
    """``tokenizer_offline`` says whether the tokenizer loads with no network and an empty hub cache."""
    if model.tokenizer_offline:
        tokens = open_clip.get_tokenizer(model.arch, cache_dir=str(tmp_path))(["a red square"])
        assert tokens.shape[0] == 1
    else:
        with pytest.raises(OSError):
            open_clip.get_tokenizer(model.arch, cache_dir=str(tmp_path))


def _unit_rows(v: np.ndarray, dim: int) -> None:
    assert v.shape == (1, dim) and v.dtype == np.float32
    assert np.all(np.isfinite(v))
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_model_loads_from_a_local_checkpoint_and_embeds(model, tmp_path):
    arch, stand_in = offline_arch(model, tmp_path)
    assert stand_in == (not model.tokenizer_offline)
    if stand_in:  # the same architecture as open_clip's: only the hub-only parts point elsewhere
        ours = json.loads(Path(arch).read_text())
        theirs = copy.deepcopy(open_clip.get_model_config(model.arch))
        for cfg in (ours, theirs):
            for key in ("hf_tokenizer_name", "hf_model_name"):
                cfg["text_cfg"].pop(key, None)
        assert ours == theirs
        if model.hf_text_config is not None:
            assert open_clip.get_model_config(model.arch)["text_cfg"]["hf_model_name"] == "xlm-roberta-base"
    ckpt = tmp_path / "random.pt"
    params = random_checkpoint(arch, ckpt, seed=1)
    if model.published_params_m is not None:  # the architecture built offline is the published one
        assert round(params / 1e6, 2) == model.published_params_m

    encoder = OpenClipEncoder(f"{arch}:{ckpt}")
    assert encoder.dim == model.dim
    saved = torch.load(ckpt, map_location="cpu", mmap=True, weights_only=True)["state_dict"]
    loaded = encoder._model.state_dict()
    for key in list(saved)[:: max(1, len(saved) // 8)]:  # the checkpoint's weights (in the tower's format: bf16
        assert torch.equal(saved[key].to(loaded[key].dtype), loaded[key]), key  # on an AMX CPU), not a fresh init
    del saved, loaded

    image = encoder.prepare_image(Image.new("RGB", (96, 64), (200, 40, 40)))
    other = encoder.prepare_image(Image.new("RGB", (96, 64), (30, 60, 220)))
    vectors = encoder.encode_prepared([image, other])
    _unit_rows(vectors[:1], model.dim)
    assert not np.allclose(vectors[0], vectors[1]), "different images, different vectors"
    text = encoder.encode_text(["a red square"])
    _unit_rows(text, model.dim)

    if model.reparameterizable:  # timm's folding of the train-time branches keeps the vectors
        from timm.utils.model import reparameterize_model

        unfolded = encoder._model.visual
        encoder._model.visual = reparameterize_model(unfolded)
        folded = encoder.encode_prepared([image, other])
        np.testing.assert_allclose(folded, vectors, atol=1e-4)
