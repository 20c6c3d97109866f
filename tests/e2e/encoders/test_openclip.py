"""The real open_clip loading path, with a tiny random-init model saved as a checkpoint by the test."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mmsearch import Engine, ModelUnavailableError
from mmsearch.encoders import load_image_text_encoder
from mmsearch.encoders.openclip import parse_spec

REPO = Path(__file__).resolve().parents[3]


def test_parse_spec():
    assert parse_spec("ViT-B-32:laion2b_s34b_b79k") == ("ViT-B-32", "laion2b_s34b_b79k")
    assert parse_spec("ViT-B-32:/w/ckpt.pt") == ("ViT-B-32", "/w/ckpt.pt")
    assert parse_spec("/cfg/my:model.json:/w/c.pt") == ("/cfg/my:model.json", "/w/c.pt")
    assert parse_spec("hf-hub:laion/CLIP-ViT-B-32") == ("hf-hub:laion/CLIP-ViT-B-32", None)


def test_checkpoint_loads_and_encodes_unit_vectors(tiny_clip):
    from PIL import Image

    enc = load_image_text_encoder(tiny_clip, "cpu")
    assert enc.dim == 32 and enc.space == "clip"
    assert enc.model_id.startswith("mmsearch-tiny:tiny.pt#")
    texts = enc.encode_text(["a photo of a cat", "a rocket", "a photo of a cat"])
    assert texts.shape == (3, 32) and texts.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(texts[0], texts[2], atol=1e-6)
    assert not np.allclose(texts[0], texts[1])
    imgs = [Image.new("RGB", (50, 40), c) for c in ("red", "blue")]
    batch = enc.encode_prepared([enc.prepare_image(i) for i in imgs])
    single = enc.encode_prepared([enc.prepare_image(imgs[1])])
    np.testing.assert_allclose(batch[1], single[0], atol=1e-5)  # batching does not change results


def test_engine_with_checkpoint_end_to_end(tmp_path, colour_folder, tiny_clip):
    with Engine(tmp_path / "lib", model=tiny_clip) as e:
        report = e.index([colour_folder])
        assert report.added == 8 and report.failed == 0
        hits = e.search("a red square", k=8)
        assert len(hits) == 8
        # random weights: no meaning, but the exact ranking must match the encoder's own cosines
        q = e.encoder().encode_text(["a red square"])[0]
        stored = e.catalog.vectors_of_media(hits[0].media_id)["clip"]
        assert abs(float((stored @ q).max()) - hits[0].extra["cosine"]) < 1e-5
        assert e.stats()["spaces"][0]["model"].startswith("mmsearch-tiny:")


def test_missing_checkpoint_names_the_setting(tmp_path):
    with pytest.raises(ModelUnavailableError, match="MMSEARCH_MODEL"):
        load_image_text_encoder(f"ViT-B-32:{tmp_path / 'nope.pt'}", "cpu")
    with pytest.raises(ModelUnavailableError, match="unknown open_clip architecture"):
        load_image_text_encoder("NoSuchNet:whatever", "cpu")


def test_default_model_without_network_fails_fast_with_one_clear_message(tmp_path):
    t0 = time.monotonic()
    with pytest.raises(ModelUnavailableError) as info:
        load_image_text_encoder("ViT-B-32:laion2b_s34b_b79k", "cpu")
    assert time.monotonic() - t0 < 60
    assert "MMSEARCH_MODEL" in str(info.value) and "laion2b_s34b_b79k" in str(info.value)


def _demo(tmp_path, **env) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("MMSEARCH_")}
    full.update(env, XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    return subprocess.run(
        [sys.executable, "-m", "mmsearch.cli", "demo", str(REPO / "sample_data"), "--library", str(tmp_path / "lib")],
        env=full, capture_output=True, text=True, timeout=600,
    )


@pytest.mark.slow
def test_demo_without_clip_weights_answers_from_the_bundled_models_then_backfills_with_a_checkpoint(tmp_path,
                                                                                                      tiny_clip):
    bundled = _demo(tmp_path)
    assert bundled.returncode == 0, bundled.stderr
    assert "Traceback" not in bundled.stderr and "clip pending" in bundled.stderr
    # real hits with times from speech, subtitles and notes, then the one line saying what visual search needs
    assert "sample_data/audio/meeting_budget.ogg  00:00:02" in bundled.stdout
    assert "sample_data/video/launch.mp4  00:00:16-00:00:20" in bundled.stdout  # the liftoff subtitle cue
    assert "sample_data/notes/garden.txt" in bundled.stdout
    assert "MMSEARCH_MODEL=ViT-B-32:/path/to/open_clip_pytorch_model.bin" in bundled.stdout
    assert "similar" not in bundled.stdout
    ok = _demo(tmp_path, MMSEARCH_MODEL=tiny_clip)
    assert ok.returncode == 0, ok.stderr
    assert "failed 0" in ok.stdout and "backfilled" in ok.stdout and "sample_data/images/" in ok.stdout
    assert ok.stdout.count("search") >= 7 and "similar" in ok.stdout and "visual search" not in ok.stdout


def test_trimmed_text_tower_equals_the_full_77_token_pass(tiny_clip):
    """Queries run the causal text tower only up to the longest end-of-text token: same vectors."""
    import torch

    enc = load_image_text_encoder(tiny_clip, "cpu")
    assert enc._can_trim()
    texts = ["a cat", "the scene where the rocket lifts off from the pad at night", ""]
    tokens = enc._tokenizer(texts)
    with torch.inference_mode():
        full = enc._model.encode_text(tokens).numpy()
        trimmed = enc._encode_trimmed(tokens).numpy()
    np.testing.assert_allclose(trimmed, full, atol=1e-5)
    threads = torch.get_num_threads()
    np.testing.assert_allclose(enc.encode_text(texts), full / np.linalg.norm(full, axis=1, keepdims=True), atol=1e-5)
    assert torch.get_num_threads() == threads  # the one-thread query section restores the setting


def test_a_local_checkpoint_takes_the_normalisation_its_architecture_was_published_with(tiny_clip, monkeypatch):
    """MobileCLIP2 (mean 0 / std 1) and SigLIP 2 (0.5 / 0.5, squash) checkpoints loaded from a file must not get
    OpenAI's normalisation: the image tower would see other numbers than it was trained on."""
    import open_clip

    from mmsearch.encoders.openclip import checkpoint_preprocess

    assert checkpoint_preprocess("MobileCLIP2-S2")["image_std"] == [1.0, 1.0, 1.0]
    assert checkpoint_preprocess("ViT-B-16-SigLIP2")["image_resize_mode"] == "squash"
    assert checkpoint_preprocess("ViT-B-32")["image_mean"][0] == pytest.approx(0.4815, abs=1e-4)
    assert checkpoint_preprocess("mmsearch-tiny") == {}  # no published tags: open_clip's defaults
    published = {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0], "interpolation": "bilinear"}
    monkeypatch.setattr(open_clip, "list_pretrained_tags_by_model", lambda arch: ["a", "b"])
    monkeypatch.setattr(open_clip, "get_pretrained_cfg", lambda arch, tag: dict(published))
    encoder = load_image_text_encoder(tiny_clip)  # the real loading path, with a checkpoint file
    normalize = encoder._preprocess.transforms[-1]
    assert tuple(normalize.mean) == (0.0, 0.0, 0.0) and tuple(normalize.std) == (1.0, 1.0, 1.0)
    pixels = np.random.default_rng(3).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    picture = Image.fromarray(pixels)  # what the index prepares is what the transforms give (pil_tensor.py)
    assert torch.equal(encoder.prepare_image(picture), encoder._preprocess(picture))
    disagree = iter([published, {**published, "std": [0.5, 0.5, 0.5]}])
    monkeypatch.setattr(open_clip, "get_pretrained_cfg", lambda arch, tag: next(disagree))
    assert checkpoint_preprocess("any") == {}
