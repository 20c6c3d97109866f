"""Build sample_data/video/launch.mp4 (and launch.json) from the sample photos.

    python sample_data/video/make_video.py            # writes next to this script

Five scenes, each a slow pan or zoom over one photo (Ken Burns), so consecutive frames differ;
the last scene is the rocket lifting off: the rocket is cut out of rocket.jpg, the pad is filled
in behind it, and it rises with a flame and smoke under it. H.264 (libx264) in mp4 when PyAV
has that encoder, else VP9 in WebM. Deterministic: the same PyAV/x264 build gives the same bytes.
"""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent
IMAGES = HERE.parent / "images"
W, H = 640, 360
FPS = 25

# (image, seconds, description, motion): motion = (start box, end box) as fractions of the
# largest 16:9 box of the photo: (centre x, centre y, zoom) with zoom 1 = the largest box.
SCENES = [
    ("coffee.jpg", 4.2, "An espresso in a red cup on a saucer on a wooden table; the camera slowly "
     "zooms in on the cup.", ((0.5, 0.5, 1.0), (0.5, 0.55, 1.45))),
    ("cat.jpg", 3.8, "A tabby cat with green eyes looking at the camera; the camera pans from left "
     "to right.", ((0.35, 0.5, 1.25), (0.65, 0.5, 1.25))),
    ("flower.jpg", 4.4, "An orange dahlia in front of dark green leaves; the camera slowly zooms "
     "out.", ((0.47, 0.5, 1.6), (0.5, 0.5, 1.0))),
    ("temple.jpg", 3.6, "A many-roofed Chinese pagoda on a wooded hill above a lake; the camera "
     "pans across the tower towards the lake.", ((0.35, 0.45, 1.3), (0.62, 0.55, 1.3))),
    ("rocket.jpg", 5.0, "The scene where the rocket lifts off: a Falcon 9 on the launch pad at dusk "
     "ignites and rises out of the frame on a bright flame, leaving smoke on the pad.",
     ((0.5, 0.5, 1.0), (0.5, 0.45, 1.08))),
]


def smooth(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


def ken_burns(img: Image.Image, box_a, box_b, u: float) -> Image.Image:
    """The 16:9 view of ``img`` at progress ``u`` (0..1) between two (cx, cy, zoom) boxes."""
    iw, ih = img.size
    bw = min(iw, ih * W / H)
    bh = bw * H / W
    s = smooth(u)
    cx, cy, z = (a + (b - a) * s for a, b in zip(box_a, box_b))
    w, h = bw / z, bh / z
    x0 = min(max(cx * iw - w / 2, 0), iw - w)
    y0 = min(max(cy * ih - h / 2, 0), ih - h)
    return img.resize((W, H), Image.BICUBIC, box=(x0, y0, x0 + w, y0 + h))


# ---------------------------------------------------------------------------- the launch

ROCKET_BOX = (302, 120, 343, 392)   # the rocket body in rocket.jpg (x0, y0, x1, y1)


def launch_layers(img: Image.Image):
    """(background without the rocket, rocket sprite with alpha) from rocket.jpg."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32)
    x0, y0, x1, y1 = ROCKET_BOX
    bg = arr.copy()
    left = arr[y0:y1, x0 - 2]
    right = arr[y0:y1, x1 + 1]
    for i, x in enumerate(range(x0, x1)):
        a = (i + 0.5) / (x1 - x0)
        bg[y0:y1, x] = left * (1 - a) + right * a
    sprite = img.convert("RGBA").crop(ROCKET_BOX)
    # keep the bright rocket body, fade out the sky around it
    s = np.asarray(sprite, dtype=np.float32)
    lum = s[..., :3].mean(axis=2)
    alpha = np.clip((lum - 60) * 3, 0, 255)
    s[..., 3] = alpha
    sprite = Image.fromarray(s.astype(np.uint8), "RGBA").filter(ImageFilter.SMOOTH)
    return Image.fromarray(bg.astype(np.uint8), "RGB"), sprite


def launch_frame(bg: Image.Image, sprite: Image.Image, t: float, rng: np.random.Generator):
    """rocket.jpg at ``t`` s into the launch scene: ignition at 0.8 s, lift-off at 1.4 s."""
    frame = bg.convert("RGBA")
    x0, y0, x1, y1 = ROCKET_BOX
    rise = 0.0 if t < 1.4 else 30.0 * (t - 1.4) ** 2 + 8.0 * (t - 1.4)
    top = int(round(y0 - rise))
    fx = (x0 + x1) / 2
    base = top + (y1 - y0)
    overlay = Image.new("RGBA", frame.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    if t >= 0.8:
        # smoke on the pad, spreading sideways
        spread = 20 + 60 * min(t - 0.8, 4.0)
        for _ in range(14):
            dx = rng.normal(0, spread)
            dy = rng.normal(0, 10)
            r = rng.uniform(14, 34) * (0.7 + 0.2 * min(t, 4))
            g = int(rng.uniform(170, 225))
            draw.ellipse((fx + dx - r, 372 + dy - r, fx + dx + r, 372 + dy + r),
                         fill=(g, g, g, int(rng.uniform(90, 160))))
        # the flame under the rocket
        power = min(1.0, (t - 0.8) / 0.6)
        length = (35 + 55 * power) * rng.uniform(0.85, 1.15)
        for k, (col, wscale) in enumerate([((255, 140, 30, 200), 1.0), ((255, 210, 90, 230), 0.65),
                                           ((255, 250, 220, 255), 0.35)]):
            half = (x1 - x0) * 0.6 * wscale
            ln = length * (1 - 0.25 * k)
            draw.polygon([(fx - half, base - 4), (fx + half, base - 4), (fx, base + ln)], fill=col)
            draw.ellipse((fx - half, base - 8, fx + half, base + 6), fill=col)
    overlay = overlay.filter(ImageFilter.GaussianBlur(3))
    frame.alpha_composite(overlay)
    frame.alpha_composite(sprite, (x0, top))
    glow = Image.new("RGBA", frame.size, (255, 170, 80, int(40 * min(1.0, max(0.0, t - 0.8)))))
    frame.alpha_composite(glow)
    return frame.convert("RGB")


# ---------------------------------------------------------------------------- encode

def encoder() -> tuple[str, str]:
    for name in ("libx264",):
        try:
            av.codec.Codec(name, "w")
            return name, ".mp4"
        except Exception:
            pass
    return "libvpx-vp9", ".webm"


def build(out_dir: Path = HERE) -> Path:
    codec, ext = encoder()
    path = out_dir / f"launch{ext}"
    opts = {"movflags": "+faststart"} if ext == ".mp4" else {}
    out = av.open(str(path), "w", container_options=opts)
    stream = out.add_stream(codec, rate=FPS)
    stream.width, stream.height = W, H
    stream.pix_fmt = "yuv420p"
    stream.codec_context.gop_size = 2 * FPS
    stream.codec_context.time_base = Fraction(1, FPS)
    stream.options = ({"preset": "slow", "crf": "27", "threads": "1"} if codec == "libx264"
                      else {"crf": "36", "b": "0", "deadline": "good", "cpu-used": "4"})
    rng = np.random.default_rng(7)
    layout = []
    index = 0
    start = 0.0
    for name, seconds, description, (box_a, box_b) in SCENES:
        img = Image.open(IMAGES / name).convert("RGB")
        n = int(round(seconds * FPS))
        layers = launch_layers(img) if name == "rocket.jpg" else None
        for i in range(n):
            u = i / max(1, n - 1)
            src = launch_frame(*layers, i / FPS, rng) if layers else img
            frame = av.VideoFrame.from_image(ken_burns(src, box_a, box_b, u))
            frame.pts = index
            index += 1
            for packet in stream.encode(frame):
                out.mux(packet)
        layout.append({"start": round(start, 3), "end": round(start + n / FPS, 3),
                       "image": name, "description": description})
        start += n / FPS
    for packet in stream.encode(None):
        out.mux(packet)
    out.close()
    meta = {
        "file": path.name,
        "duration": round(start, 3),
        "fps": FPS,
        "width": W,
        "height": H,
        "codec": "h264" if codec == "libx264" else "vp9",
        "note": "scene start/end are the exact times of the first frame of each shot and the end "
                "of its last frame; generated by make_video.py",
        "scenes": layout,
    }
    (out_dir / "launch.json").write_text(json.dumps(meta, indent=2) + "\n")
    return path


if __name__ == "__main__":
    p = build()
    print(f"wrote {p} ({p.stat().st_size / 1e6:.2f} MB) and {p.with_name('launch.json')}")
