"""Shared fixtures: generated media with known content, tiny real models, isolated settings."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

# No test may reach a model hub: on a user's machine these would download; here they must fail fast.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 180, 40),
    "blue": (30, 60, 220),
    "yellow": (240, 230, 40),
    "purple": (130, 40, 170),
}


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    """No user config, library or model setting leaks into a test."""
    for key in list(os.environ):
        if key.startswith("MMSEARCH_"):
            monkeypatch.delenv(key)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))


def solid(path: Path, colour: str, size=(64, 48)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, COLOURS[colour]).save(path)
    return path


@pytest.fixture
def colour_folder(tmp_path) -> Path:
    """Solid-colour images with known names, a caption sidecar and a note."""
    root = tmp_path / "photos"
    for name in COLOURS:
        solid(root / f"{name}.png", name)
    solid(root / "nested" / "deeper" / "blue_2.jpg", "blue", (80, 80))
    (root / "red.txt").write_text("a red square")
    (root / "notes.md").write_text("A short note about a yellow sun.\n")
    return root


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> str:
    """A tiny random-init open_clip model saved as config JSON + checkpoint: spec CONFIG.json:CKPT."""
    import open_clip
    import torch

    folder = tmp_path_factory.mktemp("tiny_clip")
    config = {
        "embed_dim": 32,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    }
    cfg_path = folder / "mmsearch-tiny.json"
    cfg_path.write_text(json.dumps(config))
    open_clip.add_model_config(cfg_path)
    torch.manual_seed(0)
    model = open_clip.create_model("mmsearch-tiny")
    ckpt = folder / "tiny.pt"
    torch.save({"state_dict": model.state_dict()}, ckpt)
    return f"{cfg_path}:{ckpt}"
