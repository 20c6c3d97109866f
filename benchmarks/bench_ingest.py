"""Ingest throughput: Engine.index over a folder of JPEGs against the bare encoder on the same images.

    .venv/bin/python benchmarks/bench_ingest.py [--images 300] [--image-decoder torchvision]

``--image-decoder torchvision`` decodes the JPEGs with torchvision on the encoder's device (nvJPEG on
a GPU; libjpeg-turbo on the CPU) instead of Pillow, and writes bench_ingest_torchvision.json.

The model is a real open_clip ViT-B-32 with random weights saved as a checkpoint (speed does not
depend on the weights). "Bare encoder" is encode_prepared over the same images already decoded and
preprocessed, in the same batches: the ceiling. Pipeline overhead = 1 - pipeline / bare throughput:
everything the pipeline adds (scan, hash, decode, preprocess, catalog writes, index adds, snapshot).
The bare encoder runs before and after the pipeline; their mean is the reference (the machine is
shared, so the spread is reported too).

Writes benchmarks/results/bench_ingest.json and prints a table.
"""
from __future__ import annotations

import argparse
import os
import shutil
import time

import numpy as np
from PIL import Image

from _common import CACHE, log, machine, random_vit_b32, table, write_result


def make_jpegs(folder, n: int, size=(640, 480)) -> list:
    """Photo-like JPEGs (gradients, shapes and noise, so decoding costs what a photo costs)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    paths = []
    for i in range(n):
        c = rng.integers(0, 255, (3, 3))
        img = np.stack([(c[j, 0] * xx / w + c[j, 1] * yy / h + c[j, 2]) % 256 for j in range(3)], -1)
        img = img + rng.normal(0, 12, img.shape)
        x0, y0 = rng.integers(0, w - 100), rng.integers(0, h - 100)
        img[y0 : y0 + 100, x0 : x0 + 100] = rng.integers(0, 255, 3)
        p = folder / f"photo_{i:04d}.jpg"
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(p, quality=90)
        paths.append(p)
    return paths


def bare_encoder(enc, paths, batch: int) -> float:
    from mmsearch.media.images import load_image

    prepared = [enc.prepare_image(load_image(p)[0]) for p in paths]
    enc.encode_prepared(prepared[:batch])  # warm
    t = time.perf_counter()
    for i in range(0, len(prepared), batch):
        enc.encode_prepared(prepared[i : i + batch])
    return len(prepared) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--image-decoder", default="auto", choices=["auto", "pillow", "torchvision"],
                    help="JPEG decoding of the Engine.index run (settings.image_decoder)")
    args = ap.parse_args()
    from mmsearch import Engine

    spec = random_vit_b32()
    folder = CACHE / "ingest-jpegs"
    paths = make_jpegs(folder, args.images)
    lib = CACHE / "ingest-library"
    shutil.rmtree(lib, ignore_errors=True)
    with Engine(lib, model=spec, image_decoder=args.image_decoder) as engine:
        enc = engine.encoder("clip")
        batch = engine.settings.batch_size or enc.fit_batch_size()
        enc.encode_text(["warm"])
        before = bare_encoder(enc, paths, batch)
        log(f"bare encoder: {before:.2f} images/s")
        t = time.perf_counter()
        report = engine.index([folder])
        pipeline = report.added / (time.perf_counter() - t)
        log(f"Engine.index: {pipeline:.2f} images/s ({report.added} added, {report.failed} failed)")
        decoders = sorted({m.decoder for m in engine.catalog.all_media()})
        after = bare_encoder(enc, paths, batch)
        log(f"bare encoder again: {after:.2f} images/s")
        workers = engine.settings.decode_workers
    bare = (before + after) / 2
    overhead = 1 - pipeline / bare
    result = {
        "machine": machine(),
        "images": args.images, "image_size": [640, 480], "model": "ViT-B-32 (open_clip, random init)",
        "device": enc.device, "batch_size": batch, "decode_workers": workers, "image_decoder": args.image_decoder,
        "decoders_used": decoders,
        "bare_encoder_images_per_s": round(bare, 3),
        "bare_encoder_runs": [round(before, 3), round(after, 3)],
        "pipeline_images_per_s": round(pipeline, 3),
        "pipeline_overhead_pct": round(100 * overhead, 1),
        "goal_overhead_pct": 15,
    }
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    shutil.rmtree(lib, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    path = write_result("bench_ingest" if args.image_decoder == "auto" else f"bench_ingest_{args.image_decoder}", result)
    rows = [{"what": "bare encoder (pre-decoded, same batches)", "images/s": f"{bare:.2f}",
             "note": f"runs {before:.2f} / {after:.2f}"},
            {"what": "Engine.index (scan+hash+decode+encode+write)", "images/s": f"{pipeline:.2f}",
             "note": f"overhead {100 * overhead:.1f}% (goal < 15%)"}]
    print(table(rows, list(rows[0])))
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
