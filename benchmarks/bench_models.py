"""Speed of each recommended open_clip model (mmsearch/encoders/model_table.py) on this machine.

    .venv/bin/python benchmarks/bench_models.py [--batches 3] [--queries 20] [--only ViT-B-32]

For each model of the table: the real architecture at full size with random weights (speed does not
depend on the weights), saved as a checkpoint and loaded through ``ARCH:/path/ckpt.pt`` by
``OpenClipEncoder``, the code path of a user's local model. Measured:

- images/s: batches of 32 prepared images through ``encode_prepared`` with 2 torch threads (ingest);
- text-query ms: one query through ``encode_text`` inside ``single_threaded()`` (a search's path);
- for MobileCLIP2, the same image batches with the FastViT image tower folded by timm's
  ``reparameterize_model``, alternating with the unfolded tower batch by batch, and the largest
  difference between the two towers' vectors.

Models whose tokenizer is a hub download (SigLIP 2, XLM-RoBERTa) are built from open_clip's own config
with the tokenizer (and XLM-RoBERTa's text config) pointed at local stand-ins: the same architecture
and weights shapes; their towers pad every query to the full context (64 or 77 tokens), so a stand-in
tokenizer costs the text tower the same as the real one. One model at a time, freed before the next.
Writes benchmarks/results/bench_models.json.
"""
from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach a model hub

import numpy as np

from _common import log, machine, percentiles, write_result

BATCH = 32
INGEST_THREADS = 2
QUERIES = ["a dog on a beach", "the city at night", "a bowl of soup", "children playing football",
           "a red car in the snow", "mountains above a lake", "a cat asleep on a sofa", "a crowded market",
           "a birthday cake with candles", "the rocket on the launch pad", "a sailing boat at sunset",
           "autumn leaves in a park", "a plate of sushi", "a dog catching a frisbee", "a bride and groom",
           "a waterfall in the forest", "a lighthouse on a cliff", "fireworks over a river",
           "a horse in a field", "a laptop on a desk", "a child with a balloon", "an empty train station"]


def stand_in_tokenizer(folder: Path) -> Path:
    """A byte-level BPE tokenizer with no merges (every byte a token, ids < 300), saved like a hub
    tokenizer; special ids as XLM-RoBERTa's (<s> 0, <pad> 1, </s> 2)."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import RobertaTokenizer

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4}
    for ch in sorted(ByteLevel.alphabet()):
        vocab.setdefault(ch, len(vocab))
    folder.mkdir(parents=True, exist_ok=True)
    RobertaTokenizer(vocab=vocab, merges=[]).save_pretrained(str(folder))
    return folder


def offline_arch(model, folder: Path) -> tuple[str, bool]:
    """What ``OpenClipEncoder`` can load with no hub for ``model`` (a model_table entry): its open_clip
    architecture name when its tokenizer ships with open_clip, else a copy of open_clip's config for it
    with the hub-only parts (tokenizer, HF text config) pointed at local stand-ins, as a ``.json`` path.
    Returns ``(arch, tokenizer_is_stand_in)``."""
    import open_clip

    if model.tokenizer_offline:
        return model.arch, False
    config = copy.deepcopy(open_clip.get_model_config(model.arch))
    text = config["text_cfg"]
    text["hf_tokenizer_name"] = str(stand_in_tokenizer(folder / "tokenizer"))
    if model.hf_text_config is not None:
        hf = folder / "text-config"
        hf.mkdir(parents=True, exist_ok=True)
        (hf / "config.json").write_text(json.dumps(model.hf_text_config))
        text["hf_model_name"] = str(hf)
    path = folder / f"{model.arch}-offline.json"
    path.write_text(json.dumps(config))
    return str(path), True


def random_checkpoint(arch: str, path: Path, seed: int = 0) -> int:
    """Save ``arch`` with random weights to ``path``; its parameter count."""
    import open_clip
    import torch

    name = arch
    if arch.endswith(".json"):
        open_clip.add_model_config(arch)
        name = Path(arch).stem
    torch.manual_seed(seed)
    model = open_clip.create_model(name, pretrained_text=False)  # an HF text tower: random too, no download
    count = sum(p.numel() for p in model.parameters())
    torch.save({"state_dict": model.state_dict()}, path)
    del model
    gc.collect()
    return count


def images(encoder, count: int, seed: int = 0) -> list:
    from PIL import Image

    rng = np.random.default_rng(seed)
    return [encoder.prepare_image(Image.fromarray(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)))
            for _ in range(count)]


def images_per_s(encoder, batch: list, batches: int, towers: dict | None = None) -> dict:
    """Images/s of ``encode_prepared`` on ``batch``; with ``towers`` (name -> image tower), each tower in
    turn batch after batch (A B A B ...), so load on the machine hits them alike."""
    model = encoder._model
    towers = towers or {"as loaded": model.visual}
    seconds: dict[str, list[float]] = {name: [] for name in towers}
    original = model.visual
    try:
        for tower in towers.values():  # warm-up
            model.visual = tower
            encoder.encode_prepared(batch[:4])
        for _ in range(batches):
            for name, tower in towers.items():
                model.visual = tower
                t = time.perf_counter()
                encoder.encode_prepared(batch)
                seconds[name].append(time.perf_counter() - t)
    finally:
        model.visual = original
    return {name: {"images_per_s": round(len(batch) * len(s) / sum(s), 2), "batch_s": [round(x, 2) for x in s]}
            for name, s in seconds.items()}


def text_query_ms(encoder, queries: list[str]) -> dict:
    from mmsearch.threads import single_threaded

    def one(q: str) -> float:
        with single_threaded():
            t = time.perf_counter()
            encoder.encode_text([q])
            return time.perf_counter() - t

    for q in queries[:3]:
        one(q + " (warm-up)")
    return percentiles([one(q) for q in queries])


def bench(model, batches: int, queries: int, work: Path) -> dict:
    import torch

    from mmsearch.encoders.openclip import OpenClipEncoder

    torch.set_num_threads(INGEST_THREADS)
    load_before = [round(x, 2) for x in os.getloadavg()]
    folder = work / model.arch
    folder.mkdir(parents=True, exist_ok=True)
    arch, stand_in = offline_arch(model, folder)
    ckpt = folder / "random.pt"
    t = time.perf_counter()
    params = random_checkpoint(arch, ckpt)
    create_s = time.perf_counter() - t
    t = time.perf_counter()
    encoder = OpenClipEncoder(f"{arch}:{ckpt}")
    load_s = time.perf_counter() - t
    ckpt.unlink()
    batch = images(encoder, BATCH)
    out: dict = {"spec": model.spec, "loaded_as": f"{Path(arch).name}:random.pt", "tokenizer_stand_in": stand_in,
                 "params_m": round(params / 1e6, 2), "dim": encoder.dim, "create_and_save_s": round(create_s, 1),
                 "load_s": round(load_s, 1), "batch": BATCH, "ingest_threads": INGEST_THREADS,
                 "image_dtype": getattr(encoder, "image_dtype", "float32"),
                 "load_average_before": load_before}
    towers = None
    if model.reparameterizable:
        from timm.utils.model import reparameterize_model

        folded = reparameterize_model(encoder._model.visual)  # a folded copy; the loaded tower is kept
        towers = {"as loaded": encoder._model.visual, "reparameterized": folded}
    speed = images_per_s(encoder, batch, batches, towers)
    out["images_per_s"] = speed["as loaded"]["images_per_s"]
    out["image_batches_s"] = speed["as loaded"]["batch_s"]
    if towers:
        out["reparameterized"] = speed["reparameterized"]
        a = encoder.encode_prepared(batch[:8])
        encoder._model.visual = towers["reparameterized"]
        b = encoder.encode_prepared(batch[:8])
        encoder._model.visual = towers["as loaded"]
        out["reparameterized"]["max_abs_diff_vs_loaded"] = float(np.abs(a - b).max())
    out["text_query"] = text_query_ms(encoder, (QUERIES * 4)[:queries])
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    log(f"{model.spec}: {out['images_per_s']} img/s, text query p50 {out['text_query']['p50_ms']} ms"
        + (f", reparameterized {out['reparameterized']['images_per_s']} img/s" if towers else ""))
    del encoder, towers, batch
    gc.collect()
    return out


def main() -> None:
    from mmsearch.encoders.model_table import MODELS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=3, help="timed batches of 32 images per model")
    ap.add_argument("--queries", type=int, default=20, help="timed one-text queries per model")
    ap.add_argument("--only", default="", help="comma-separated architecture names (default: the whole table)")
    ap.add_argument("--out", default="bench_models", help="results/NAME.json")
    args = ap.parse_args()
    only = {a.strip() for a in args.only.split(",") if a.strip()}
    result: dict = {"machine": machine(), "method": __doc__.split("\n\n", 2)[1].strip(), "models": []}
    with tempfile.TemporaryDirectory(prefix="mmsearch-bench-models-") as tmp:
        for model in MODELS:
            if only and model.arch not in only:
                continue
            result["models"].append(bench(model, args.batches, args.queries, Path(tmp)))
            write_result(args.out, result)
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    path = write_result(args.out, result)
    for r in result["models"]:
        rep = f"  reparameterized {r['reparameterized']['images_per_s']} img/s" if "reparameterized" in r else ""
        print(f"{r['spec']:45} {r['images_per_s']:7} img/s  text query p50 {r['text_query']['p50_ms']:7} ms{rep}")
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
