"""Video ingest speed as a multiple of real time, with decode and encode shown separately.

    .venv/bin/python benchmarks/bench_video.py [--video PATH] [--interval 1.0] [--arch ViT-B-32] [--ocr]
        [--size WxH --out NAME]   # the same clip re-encoded at WxH (H.264, same frames): the cost of resolution

Uses a random-init open_clip model of the given architecture saved as a checkpoint (speed does not
depend on the weights, and no weights can be downloaded here). Measures, on the same video:
decode only (FrameSampler + preprocessing), encode only (the sampled frames), the whole
`Engine.index` run (decode overlapped with encode, scene cutting with the installed shot model, catalog
write, index save; ``--repeat`` runs, each into a new library: the median is ``index_s``, every run is in
``index_runs``), and scene detection's own cost: ``indexers.kinds.video.frames.embed_frames`` + ``scene_segments``
with the dense stream and the shot model against the same without any scene detection (one pass each,
alternated, best of ``--repeat``). Writes benchmarks/results/video.json. ``--ocr``: the whole run with OCR off,
with OCR on as it was before session 10 (no text detection ahead on the decode thread's idle time:
indexers/kinds/video/ahead.py), and with OCR on (the default install: scenes cut, then the text of each scene
read in the run's OCR pass), alternated ``--repeat`` times, timed per pass, with how many frames the detector
saw ahead and in the OCR pass, into video_ocr.json.

Every model a run uses is loaded before its timer, through the modules ``Engine.index`` runs
(``mmsearch.indexers.…``: ``indexers.…`` imported from a checkout is a second copy with its own caches).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import torch

from _common import scratch, write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # indexers/ from a checkout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--video", default=str(ROOT / "sample_data/video/launch.mp4"))
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--arch", default="ViT-B-32")
    ap.add_argument("--ocr", action="store_true", help="also index with OCR on (writes video_ocr.json)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--size", default="", help="WxH: index the video re-encoded at this size (H.264, crf 23)")
    ap.add_argument("--out", default="video", help="results/NAME.json")
    args = ap.parse_args()

    import open_clip

    from mmsearch import Engine
    from mmsearch.encoders import load_image_text_encoder
    from mmsearch.indexers.kinds.video.frames import load_scene_model
    from mmsearch.media.video import FrameSampler, probe_video

    tmp = scratch("mmsearch-bench-")
    if args.size:
        args.video = str(resized(Path(args.video), args.size, tmp))
    ckpt = tmp / f"{args.arch}-random.pt"
    torch.save(open_clip.create_model(args.arch).state_dict(), ckpt)
    spec = f"{args.arch}:{ckpt}"
    encoder = load_image_text_encoder(spec, "auto")
    duration = probe_video(args.video).duration

    t0 = time.perf_counter()
    prepared = []
    with FrameSampler(args.video, interval=args.interval) as sampler:
        for frame in sampler:
            prepared.append(encoder.prepare_image(frame.image))
        backend = sampler.backend
    decode_s = time.perf_counter() - t0

    encoder.encode_prepared(prepared[:2])  # warm-up
    t0 = time.perf_counter()
    for i in range(0, len(prepared), 32):
        encoder.encode_prepared(prepared[i : i + 32])
    encode_s = time.perf_counter() - t0

    fp32_encode_s = None
    if getattr(encoder, "image_dtype", "float32") not in ("float32", "float16"):  # the same batches in fp32
        from mmsearch.encoders.openclip import OpenClipEncoder

        fp32 = OpenClipEncoder(spec, encoder.device, image_dtype="float32")
        fp32.encode_prepared(prepared[:2])
        t0 = time.perf_counter()
        for i in range(0, len(prepared), 32):
            fp32.encode_prepared(prepared[i : i + 32])
        fp32_encode_s = time.perf_counter() - t0

    folder = tmp / "videos"
    folder.mkdir()
    # a copy, not a link: a link to a place outside the indexed folder is refused (nothing leaked)
    shutil.copy2(args.video, folder / Path(args.video).name)
    if args.ocr:
        return index_with_ocr(spec, encoder, folder, duration, args.interval, args.repeat)
    # the same runs with the image tower in fp32, alternated with them, where the rule chose another format
    # (bf16 on a CPU with native bf16: mmsearch/encoders/precision.py): what that choice is worth, same machine
    towers = {"default": encoder} | ({"fp32": fp32} if fp32_encode_s is not None else {})
    runs, loads = [], []
    fp32_runs = []
    for k, tower in ((k, t) for k in range(max(1, args.repeat)) for t in towers):
        tower_encoder = towers[tower]
        with Engine(tmp / f"lib{k}-{tower}", model=spec, video_interval=args.interval) as engine:
            engine.use_encoder(tower_encoder)
            # every model the run would load, loaded before the timer (a library has many videos: the
            # per-run load is reported on its own line, not spread over one video)
            t0 = time.perf_counter()
            models = engine.context.models
            models.transcriber()
            models.optional("text")
            models.job_model("ocr")
            load_scene_model(engine.context.settings.shot_model, engine.context.settings.device)
            if tower == "default":
                loads.append(time.perf_counter() - t0)
            (runs if tower == "default" else fp32_runs).append(_timed_index(engine, folder))
    for r in fp32_runs:
        r.pop("report", None)
    fp32_s = sorted(r["seconds"] for r in fp32_runs)[len(fp32_runs) // 2] if fp32_runs else None
    run = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]  # the median run
    report, index_s, index_cpu, load_s = run.pop("report"), run["seconds"], run["cpu_seconds"], loads[0]
    for r in runs:
        r.pop("report", None)

    # scene detection's own cost: the same pass with and without it (best of --repeat, alternated), as the
    # video handler runs it (the shot model asked by the calling thread ahead, the rest on the decode thread)
    from mmsearch.indexers.kinds.video.frames import embed_frames, scene_segments

    shot_model, _ = load_scene_model("bundled", "auto")
    with_s, without_s = [], []
    for _ in range(args.repeat):
        t0 = time.process_time()
        video = embed_frames(args.video, encoder, args.interval, 32, shots=False)
        without_s.append(time.process_time() - t0)
        t0 = time.process_time()
        video = embed_frames(args.video, encoder, args.interval, 32, shots=True, shot_model=shot_model)
        scene_segments(args.video, video, shot_model=shot_model)
        with_s.append(time.process_time() - t0)
    scenes_s = max(1e-6, min(with_s) - min(without_s))

    result = {
        "video": os.path.basename(args.video), "duration_s": round(duration, 2), "frames": len(prepared),
        "interval_s": args.interval, "arch": args.arch, "device": encoder.device, "backend": backend,
        "decode_s": round(decode_s, 3), "encode_s": round(encode_s, 3), "index_s": round(index_s, 3),
        "decode_x_realtime": round(duration / decode_s, 1), "encode_x_realtime": round(duration / encode_s, 1),
        "index_x_realtime": round(duration / index_s, 1), "model_load_s": round(load_s, 3),
        "index_cpu_s": round(index_cpu, 3), "index_cpu_s_per_video_s": round(index_cpu / duration, 3),
        "shot_model_bf16": bool(getattr(shot_model, "bf16", False)),
        "image_dtype": getattr(encoder, "image_dtype", "float32"),
        "index_passes": report.passes, "index_runs": runs,
        "fp32_tower_encode_s": round(fp32_encode_s, 3) if fp32_encode_s else None,
        "fp32_tower_index_s": fp32_s, "fp32_tower_index_x_realtime": round(duration / fp32_s, 1) if fp32_s else None,
        "fp32_tower_index_runs": fp32_runs,
        "scene_detection_cpu_s": round(scenes_s, 3), "scene_detection_x_realtime": round(duration / scenes_s, 1),
        "embed_cpu_s_without_scenes": round(min(without_s), 3), "embed_cpu_s_with_scenes": round(min(with_s), 3),
        "shot_model": shot_model is not None, "load_average": [round(x, 2) for x in os.getloadavg()],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
        "date": time.strftime("%Y-%m-%d"),
    }
    result["size"] = args.size or None
    write_result(args.out, result)  # adds the provenance block: commit, date, machine, load average
    print(f"{'stage':<10}{'seconds':>9}{'x real time':>13}")
    for stage in ("decode", "encode", "index"):
        print(f"{stage:<10}{result[stage + '_s']:>9.2f}{result[stage + '_x_realtime']:>13.1f}")
    print(f"models loaded before the timer: {load_s:.2f} s; passes of the median run: {report.passes}")
    print("runs: " + ", ".join(f"{r['seconds']:.2f} s ({r['ocr_detected_ahead']} frames detected ahead, "
                               f"{r['ocr_pass_detections']} in the OCR pass)" for r in runs))
    if fp32_s:
        print(f"the same runs with the image tower in fp32 (alternated): median {fp32_s:.2f} s, "
              f"{result['fp32_tower_index_x_realtime']}x real time; this run's tower: {result['image_dtype']}")
    print(f"whole run's CPU: {index_cpu:.2f} s ({result['index_cpu_s_per_video_s']} s per second of video)")
    print(f"scene detection: {scenes_s:.2f} s CPU ({result['scene_detection_x_realtime']}x real time; "
          f"CPU {min(without_s):.2f} s without, {min(with_s):.2f} s with)")
    print(f"({result['frames']} frames of a {duration:.1f} s video every {args.interval} s, {backend}, {result['machine']})")


def resized(video: Path, size: str, folder: Path) -> Path:
    """``video`` re-encoded at ``size`` (WxH) with libx264 (preset fast, crf 23), every frame, same rate: the
    same pictures at the resolution whose decode cost is measured (no detail is added by scaling up)."""
    from fractions import Fraction

    import av

    width, height = (int(v) for v in size.lower().split("x"))
    out_path = folder / f"{video.stem}-{width}x{height}.mp4"
    with av.open(str(video)) as src, av.open(str(out_path), "w") as out:
        stream = src.streams.video[0]
        rate = Fraction(stream.average_rate or 25)
        enc = out.add_stream("libx264", rate=rate)
        enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
        enc.codec_context.time_base = 1 / rate
        enc.options = {"preset": "fast", "crf": "23"}
        for i, frame in enumerate(src.decode(stream)):
            scaled = frame.reformat(width=width, height=height, format="yuv420p")
            scaled.pts, scaled.time_base = i, 1 / rate
            for packet in enc.encode(scaled):
                out.mux(packet)
        for packet in enc.encode():
            out.mux(packet)
    return out_path


def _timed_index(engine, folder: Path) -> dict:
    """One timed ``engine.index`` of ``folder`` (its models loaded already): wall and CPU seconds, the passes,
    the frames the text detector saw ahead (decode thread) and in the OCR pass, the OCR spans stored."""
    from mmsearch.indexers.kinds.video import ahead

    reader = engine.context.models.loaded("ocr")
    before = _detections(ahead), reader.counters.detect_calls if reader is not None else 0
    c0, t0 = time.process_time(), time.perf_counter()
    report = engine.index([folder])
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert report.added == 1, report.to_dict()
    spans = sum(1 for m in engine.catalog.all_media() for s in engine.catalog.segments_of_media(m.id) if s.kind == "ocr")
    return {"seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3), "passes": report.passes,
            "ocr_detected_ahead": _detections(ahead) - before[0],
            "ocr_pass_detections": (reader.counters.detect_calls if reader is not None else 0) - before[1],
            "ocr_spans": spans, "report": report}


_COPIES: dict[int, object] = {}  # every one-thread copy seen, held: a copy dropped with its reader keeps its count


def _detections(ahead) -> int:
    """Detector passes run ahead so far in this process (the one-thread copies' counters)."""
    _COPIES.update((id(copy), copy) for copy in list(ahead._ONE_THREAD.values()))
    return sum(copy.counters.detect_calls for copy in _COPIES.values())


def index_with_ocr(spec: str, encoder, folder: Path, duration: float, interval: float, repeat: int) -> None:
    """The whole index run with OCR off, on as before (no detection ahead) and on, alternated ``repeat`` times
    on the same video and warm encoder, models loaded before each timer: x real time of each variant (its
    median run), and the runs' passes (the first: scenes committed; then the OCR pass)."""
    import contextlib
    import dataclasses

    import mmsearch.indexers.spaces as run_spaces
    from mmsearch import Engine
    from mmsearch.indexers.kinds.video.frames import load_scene_model

    real_inputs = run_spaces.RunModels.timed_inputs

    @contextlib.contextmanager
    def no_ahead():  # the decode thread gets no reader: every detection in the OCR pass, as before session 10
        run_spaces.RunModels.timed_inputs = lambda self, *a, **k: dataclasses.replace(  # type: ignore[method-assign]
            real_inputs(self, *a, **k), text_reader=None)
        try:
            yield
        finally:
            run_spaces.RunModels.timed_inputs = real_inputs  # type: ignore[method-assign]

    variants = {"ocr_off": ("off", contextlib.nullcontext), "ocr_on_before": ("bundled", no_ahead),
                "ocr_on": ("bundled", contextlib.nullcontext)}
    load = [round(x, 2) for x in os.getloadavg()]
    out: dict = {"video": [p.name for p in folder.iterdir()], "duration_s": round(duration, 2), "interval_s": interval}
    runs: dict[str, list[dict]] = {name: [] for name in variants}
    for k in range(max(1, repeat)):
        for name, (ocr, context) in variants.items():
            with Engine(folder.parent / f"lib-{name}-{k}", model=spec, video_interval=interval, ocr_model=ocr,
                        audio_model="off", speech_model="off") as engine, context():
                engine.use_encoder(encoder)
                if ocr != "off":
                    engine.context.models.job_model("ocr")  # loaded first: the run times the work
                load_scene_model(engine.context.settings.shot_model, engine.context.settings.device)
                run = _timed_index(engine, folder)
                run.pop("report")
                runs[name].append(run)
    for name, items in runs.items():
        run = sorted(items, key=lambda r: r["seconds"])[len(items) // 2]
        out[name] = {"index_s": run["seconds"], "x_realtime": round(duration / run["seconds"], 1),
                     "cpu_s_per_video_s": round(run["cpu_seconds"] / duration, 3), "passes": run["passes"],
                     "ocr_spans": run["ocr_spans"], "ocr_detected_ahead": run["ocr_detected_ahead"],
                     "ocr_pass_detections": run["ocr_pass_detections"], "runs": items}
    out |= {"load_average": [load, [round(x, 2) for x in os.getloadavg()]],
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
            "date": time.strftime("%Y-%m-%d %H:%M")}
    write_result("video_ocr", out)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    sys.exit(main())
