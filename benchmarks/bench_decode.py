"""JPEG decode + CLIP preprocessing throughput: Pillow against torchvision, on the CPU and on a GPU.

    .venv/bin/python benchmarks/bench_decode.py [--images 64] [--size 4032x3024]

Phone-sized photos by default (12 MP), the case where decoding costs most. Each path turns the file's
bytes into the model's input tensor (224 x 224, normalised), as the ingest pipeline does:
- ``pillow``: ``load_image`` (reduced-size JPEG decoding, then thumbnail) + open_clip's preprocess,
  on ``--threads`` decode threads (the pipeline's decode workers);
- ``torchvision-cpu``: full-size libjpeg-turbo decode + tensor resize/crop/normalise, same threads;
- ``torchvision-cuda`` (only with a GPU): nvJPEG on the card + the same tensor steps there, one
  thread issuing decodes (the pipeline serialises nvJPEG calls).
Writes benchmarks/results/bench_decode.json and prints a table.
"""
from __future__ import annotations

import argparse
import io
import os
import time
from concurrent.futures import ThreadPoolExecutor

from bench_ingest import make_jpegs

from _common import CACHE, log, machine, table, write_result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--size", default="4032x3024")
    ap.add_argument("--threads", type=int, default=min(8, os.cpu_count() or 2))
    args = ap.parse_args()
    import open_clip
    import torch

    from mmsearch.media.images import load_image
    from mmsearch.media.jpeg_tensor import TensorPreprocess, decode_jpeg

    w, h = (int(v) for v in args.size.split("x"))
    folder = CACHE / f"decode-{w}x{h}"
    paths = make_jpegs(folder, args.images, size=(w, h))
    blobs = [p.read_bytes() for p in paths]
    _, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32")
    tensor_pre = TensorPreprocess.from_transforms(preprocess)

    def pillow(data: bytes):
        return preprocess(load_image(io.BytesIO(data))[0])

    def tv(device: str):
        def run(data: bytes):
            image, _, _ = decode_jpeg(data, device)
            return tensor_pre(image)
        return run

    paths_to_run = [("pillow", pillow, args.threads), ("torchvision-cpu", tv("cpu"), args.threads)]
    if torch.cuda.is_available():
        paths_to_run.append(("torchvision-cuda", tv("cuda"), 1))
    rows, out = [], []
    for name, fn, threads in paths_to_run:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(fn, blobs[: max(2, threads)]))  # warm (nvJPEG handle, thread pools)
            if name.endswith("cuda"):
                torch.cuda.synchronize()
            t = time.perf_counter()
            list(pool.map(fn, blobs))
            if name.endswith("cuda"):
                torch.cuda.synchronize()
            rate = len(blobs) / (time.perf_counter() - t)
        log(f"{name}: {rate:.1f} images/s")
        out.append({"path": name, "threads": threads, "images_per_s": round(rate, 2)})
        rows.append({"path": name, "threads": threads, "images/s": f"{rate:.1f}"})
    result = {"machine": machine(), "images": len(blobs), "size": [w, h],
              "mean_file_bytes": sum(map(len, blobs)) // len(blobs), "paths": out}
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    path = write_result("bench_decode", result)
    print(table(rows, list(rows[0])))
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
