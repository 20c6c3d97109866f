"""The picture sets of benchmarks/bench_duplicates.py: distinct pictures that look alike at low resolution,
from real sources fetched at benchmark time (Debian packages: ``apt-get download`` into
benchmarks/results/tmp/deb/, then ``dpkg -x``; never committed), and their altered copies.

Two splits from different sources (the rule was tuned on ``dev`` only; ``held-out`` is scored once).
Dev has two sources per type: A, the dev split of sessions 8-9, and B, session 9's held-out split, which
was scored once there (rule f408003) and has been SEEN since (its failures were studied), so it is dev now.

============  ============================================  ============================================
type          dev (A; B)                                    held-out (session 10)
============  ============================================  ============================================
drawings      openclipart-png clip art on white;            adwaita-icon-theme 512 px icons at 192 on white
              oxygen-icon-theme 128 px icons on white
wallpapers    desktop-base (one per theme);                 mate-backgrounds
              gnome-backgrounds (light and dark variants)
slides        template A (title bar), DejaVu Sans, GPL-3;   template C (footer band, centred title),
              template B (side band, grey), Carlito,        Liberation Sans, MPL-2.0 and LGPL-2.1
              Python's standard-library docs
pages         "scans" in DejaVu Serif of the Apache-2.0     "scans" in Noto Serif of the GFDL-1.3 and
              and GPL-2; in FreeSerif of Python's docs      the Artistic licence (tilt, noise, tint)
              (tilt, noise, tint)
============  ============================================  ============================================

Per type and source, ``originals`` distinct pictures get :data:`ALTERATIONS` copies each (JPEG q60 and q85, resized
to 2/3 and 1/2, 5 % cropped off each border, 10 % off the left and top, brightness +15 % and -15 %, colour
balance shifted); ``distractors`` more distinct pictures of the same kind get none.
"""
from __future__ import annotations

import inspect
import io
import random
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
DEB = ROOT / "benchmarks" / "results" / "tmp" / "deb"
LICENSES = Path("/usr/share/common-licenses")


def package(name: str) -> Path:
    """The files of Debian package ``name``, downloaded and unpacked once (not installed)."""
    out = DEB / f"x-{name}"
    if not out.exists():
        DEB.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", name], cwd=DEB, check=True, capture_output=True)
        deb = sorted(DEB.glob(f"{name}_*.deb"))[-1]
        subprocess.run(["dpkg", "-x", str(deb), str(out)], check=True)
    return out


def font(pkg: str, name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(next(package(pkg).rglob(name))), size)


# -- alterations ---------------------------------------------------------------------------------------
def _jpeg(image: Image.Image, q: int) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=q)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _scale(image: Image.Image, gains, offset: float = 0.0) -> Image.Image:
    a = np.asarray(image, np.float32) * np.asarray(gains, np.float32) + offset
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def _crop(image: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = image.size
    return image.crop((round(w * left), round(h * top), round(w * (1 - right)), round(h * (1 - bottom))))


def _resize(image: Image.Image, f: float) -> Image.Image:
    return image.resize((round(image.width * f), round(image.height * f)), Image.Resampling.LANCZOS)


ALTERATIONS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "q60": lambda im: _jpeg(im, 60),
    "q85": lambda im: _jpeg(im, 85),
    "r23": lambda im: _resize(im, 2 / 3),
    "r12": lambda im: _resize(im, 1 / 2),
    "border5": lambda im: _crop(im, 0.05, 0.05, 0.05, 0.05),
    "offcentre10": lambda im: _crop(im, 0.10, 0.10, 0.0, 0.0),
    "bright": lambda im: _scale(im, 1.15),
    "dark": lambda im: _scale(im, 0.85),
    "colour": lambda im: _scale(im, (1.1, 0.95, 0.85), 10),
}


# -- sources -------------------------------------------------------------------------------------------
def _on(image: Image.Image, background=(255, 255, 255), size: int | None = None) -> Image.Image:
    image = image.convert("RGBA")
    if size:
        image = image.resize((size, round(image.height * size / image.width)), Image.Resampling.LANCZOS)
    pad = max(image.size) // 8
    canvas = Image.new("RGBA", (image.width + 2 * pad, image.height + 2 * pad), background + (255,))
    canvas.alpha_composite(image, (pad, pad))
    return canvas.convert("RGB")


def _distinct(paths: list[Path], seed: int, n: int, load: Callable[[Path], Image.Image]) -> list[Image.Image]:
    """``n`` pictures of ``paths`` in a seeded order, skipping pixel-identical ones and unreadable files."""
    rng = random.Random(seed)
    paths = sorted(paths)
    rng.shuffle(paths)
    seen, out = set(), []
    for p in paths:
        try:
            image = load(p)
        except Exception:  # noqa: BLE001 - a file Pillow cannot read is not part of the set
            continue
        key = image.resize((32, 32)).tobytes()
        if key not in seen and min(image.size) >= 64:
            seen.add(key)
            out.append(image)
        if len(out) == n:
            break
    return out


def oxygen_icons(n: int) -> list[Image.Image]:
    files = [p for p in package("oxygen-icon-theme").rglob("*.png") if "/128x128/" in str(p) and not p.is_symlink()]
    return _distinct(files, 1, n, lambda p: _on(Image.open(p), size=192))


def clip_art(n: int) -> list[Image.Image]:
    # shapes/stars/ left out: its star polygons (star_75pt07step, star_86pt17step, ...) are one geometric
    # family whose members render at this size as the same thin ring, 1-3 px of stroke apart (no check of
    # pixels tells them from a darkened copy; a person calls them one drawing)
    files = [p for p in package("openclipart-png").rglob("*.png") if not p.is_symlink() and "/shapes/stars/" not in str(p)]

    def load(p: Path) -> Image.Image:
        im = Image.open(p)
        im.thumbnail((480, 480))
        return _on(im)

    return _distinct(files, 2, n, load)


def adwaita_icons(n: int) -> list[Image.Image]:
    files = [p for p in package("adwaita-icon-theme").rglob("*.png")  # the full-colour (legacy) icons
             if "/512x512/" in str(p) and "symbolic" not in p.name and not p.is_symlink()]
    return _distinct(files, 7, n, lambda p: _on(Image.open(p), size=192))


def mate_backgrounds(n: int) -> list[Image.Image]:
    files = [p for p in package("mate-backgrounds").rglob("*") if p.suffix in (".png", ".jpg") and not p.is_symlink()]
    return _distinct(files, 8, n, lambda p: _small(Image.open(p)))


def desktop_base(n: int) -> list[Image.Image]:
    files = [p for p in package("desktop-base").rglob("*.png") if "/desktop-base/" in str(p)]
    big = {}
    for p in sorted(files):  # one picture per theme: its variants are crops of one artwork
        theme = p.relative_to(package("desktop-base")).parts[3]
        with Image.open(p) as im:
            if im.width >= 800 and theme not in big:
                big[theme] = p
    return _distinct(list(big.values()), 3, n, lambda p: _small(Image.open(p)))


def gnome_backgrounds(n: int) -> list[Image.Image]:
    files = list(package("gnome-backgrounds").rglob("*.webp"))
    return _distinct(files, 4, n, lambda p: _small(Image.open(p)))


def _small(image: Image.Image) -> Image.Image:
    image = image.convert("RGB")
    image.thumbnail((1024, 1024))
    return image


def _lines(text: str, width: int) -> list[str]:
    out: list[str] = []
    for para in text.split("\n\n"):
        para = " ".join(para.split())
        if len(para) > 20:
            out += textwrap.wrap(para, width)
    return out


def licence_text(*names: str) -> str:
    return "\n\n".join((LICENSES / n).read_text(errors="replace") for n in names)


def stdlib_text() -> str:
    import argparse
    import collections
    import email
    import json
    import logging
    import pathlib
    import subprocess as sp
    import typing
    import unittest

    docs = []
    for mod in (argparse, collections, email, json, logging, pathlib, sp, typing, unittest):
        docs.append(inspect.getdoc(mod) or "")
        for _name, obj in sorted(vars(mod).items()):
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and inspect.getdoc(obj):
                docs.append(inspect.getdoc(obj) or "")
    return "\n\n".join(docs)


def slides(n: int, template: str, fnt: tuple[str, str], text: str) -> list[Image.Image]:
    """``n`` slides of one template: the same title, different bullet lines."""
    lines = _lines(text, 38)
    title_font, body_font = font(fnt[0], fnt[1], 44), font(fnt[0], fnt[1], 30)
    out = []
    for k in range(n):
        im = Image.new("RGB", (1024, 768), TEMPLATE_PAPER[template])
        d = ImageDraw.Draw(im)
        x0, y0 = TEMPLATES[template](d, title_font)
        for i in range(5):
            d.text((x0, y0 + 95 * i), "- " + lines[(k * 5 + i) % len(lines)], font=body_font, fill=(20, 20, 20))
        d.text((900, 720), str(k + 1), font=body_font, fill=(120, 120, 120))
        out.append(im)
    return out


def _template_a(d: ImageDraw.ImageDraw, title_font: ImageFont.FreeTypeFont) -> tuple[int, int]:
    d.rectangle((0, 0, 1024, 110), fill=(28, 58, 128))
    d.text((48, 30), "Project update", font=title_font, fill="white")
    return 70, 160


def _template_b(d: ImageDraw.ImageDraw, title_font: ImageFont.FreeTypeFont) -> tuple[int, int]:
    d.rectangle((0, 0, 120, 768), fill=(150, 30, 40))
    d.text((170, 40), "Lecture notes", font=title_font, fill=(40, 40, 40))
    d.line((170, 110, 960, 110), fill=(150, 30, 40), width=4)
    return 180, 150


def _template_c(d: ImageDraw.ImageDraw, title_font: ImageFont.FreeTypeFont) -> tuple[int, int]:
    d.rectangle((0, 690, 1024, 768), fill=(0, 98, 80))  # a footer band, the title centred above the body
    d.text((512, 60), "Quarterly review", font=title_font, fill=(0, 98, 80), anchor="mt")
    d.rectangle((412, 120, 612, 126), fill=(230, 160, 20))
    return 90, 170


TEMPLATES = {"A": _template_a, "B": _template_b, "C": _template_c}
TEMPLATE_PAPER = {"A": (255, 255, 255), "B": (236, 236, 232), "C": (250, 250, 250)}


def pages(n: int, fnt: tuple[str, str], text: str, seed: int, tint=(255, 255, 255)) -> list[Image.Image]:
    """``n`` "scans" of consecutive pages of one text: the same layout, other words, tilted a little,
    with sensor noise."""
    lines = _lines(text, 80)
    f = font(fnt[0], fnt[1], 19)
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        im = Image.new("RGB", (850, 1100), tint)
        d = ImageDraw.Draw(im)
        for i in range(38):
            d.text((70, 70 + 25 * i), lines[(k * 38 + i) % len(lines)], font=f, fill=(25, 25, 25))
        im = im.rotate(float(rng.uniform(-0.8, 0.8)), resample=Image.Resampling.BICUBIC, fillcolor=tint)
        noisy = np.asarray(im, np.float32) + rng.normal(0, 4, (1100, 850, 1))
        out.append(Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)))
    return out


DEV_A = {  # the dev split of sessions 8-9
    "drawings": clip_art,
    "wallpapers": desktop_base,
    "slides": lambda n: slides(n, "A", ("fonts-dejavu-core", "DejaVuSans.ttf"), licence_text("GPL-3")),
    "pages": lambda n: pages(n, ("fonts-dejavu-core", "DejaVuSerif.ttf"), licence_text("Apache-2.0", "GPL-2"), 5),
}
DEV_B = {  # session 9's held-out split: scored once there (rule f408003), SEEN since, so now part of dev
    "drawings": oxygen_icons,
    "wallpapers": gnome_backgrounds,
    "slides": lambda n: slides(n, "B", ("fonts-crosextra-carlito", "Carlito-Regular.ttf"), stdlib_text()),
    "pages": lambda n: pages(n, ("fonts-freefont-ttf", "FreeSerif.ttf"), stdlib_text(), 6, (250, 247, 238)),
}
# per split and type, its sources (each gives ``originals`` pictures with copies and ``distractors`` more)
SPLITS: dict[str, dict[str, list[Callable[[int], list[Image.Image]]]]] = {
    "dev": {kind: [DEV_A[kind], DEV_B[kind]] for kind in DEV_A},
    "held-out": {  # session 10: sources no earlier split used, scored once with the rule frozen on dev
        "drawings": [adwaita_icons],
        "wallpapers": [mate_backgrounds],
        "slides": [lambda n: slides(n, "C", ("fonts-liberation2", "LiberationSans-Regular.ttf"),
                                    licence_text("MPL-2.0", "LGPL-2.1"))],
        "pages": [lambda n: pages(n, ("fonts-noto-core", "NotoSerif-Regular.ttf"), licence_text("GFDL-1.3", "Artistic"),
                                  7, (244, 246, 250))],
    },
}


def write_split(split: str, folder: Path, originals: int, distractors: int) -> Iterator[tuple[str, set[str]]]:
    """Write one split's pictures under ``folder/TYPE/`` (``SNNN.png``: source S, picture NNN); yields (type,
    files of one true group) per original with copies, and (type, {file}) per distractor."""
    for kind, sources in SPLITS[split].items():
        where = folder / kind
        where.mkdir(parents=True, exist_ok=True)
        for s, source in enumerate(sources):
            images = source(originals + distractors)
            for n, image in enumerate(images):
                stem = where / f"{s}{n:03d}"
                image.save(f"{stem}.png")
                group = {f"{stem}.png"}
                if n < min(originals, len(images) // 2):
                    for name, alter in ALTERATIONS.items():
                        alter(image.convert("RGB")).save(f"{stem}_{name}.jpg", quality=92)
                        group.add(f"{stem}_{name}.jpg")
                yield kind, group
