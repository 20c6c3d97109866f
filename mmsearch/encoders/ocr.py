"""Text in pictures: PP-OCRv4 detection and recognition through rapidocr-onnxruntime.

Model specs (setting ``MMSEARCH_OCR_MODEL``):

- ``"bundled"`` (default): the PP-OCRv4 detector and recogniser (English and Chinese) shipped inside the
  ``rapidocr-onnxruntime`` wheel (Apache-2.0), run on onnxruntime, offline.
- a local directory holding a PP-OCR ``*det*.onnx`` and ``*rec*.onnx`` (and optionally ``*cls*.onnx`` and a
  ``*.txt`` character dictionary, needed when the recogniser does not embed its characters).
- ``"off"``: no OCR; :class:`OcrReader` raises :class:`~mmsearch.errors.ModelUnavailableError` (the pipeline
  checks ``settings.ocr_model == "off"`` before building one).

The two stages and what they cost
    ``detect`` runs only the detector (DBNet, one pass over the picture) on a copy whose longest side is
    at most ``det_max_side`` (``DET_MAX_SIDE`` = 960 px, never upscaled). ``read`` runs the recogniser on the
    crops of the detector's boxes, and only when there are boxes: a photo without text costs one detector
    pass. The crops are cut from the *original* picture (then shrunk to at most ``CROP_HEIGHT`` px high),
    so small text the detector located on the reduced copy is read at full resolution.

    Measured on the shared 2-core machine (noisy, several jobs running): the detector takes about
    0.3-0.8 s at 640 px and 1-2 s at 960 px; at 960 px it finds text down to about 1% of the picture's long
    side on a photo (20 px lines on a 1920x1080 photo; 640 px found only the 48 px line), on a plain slide
    all lines down to 12 px. 1280 px found no more than 960 px at twice the cost.

The gate (``read(..., gated=True)``, ``detect_gated``; what the index uses)
    A pixel test (:mod:`mmsearch.encoders.text_gate`, a few ms) finds what looks like lines of text on the
    detector's reduced copy. Nothing: no detector pass at all. Otherwise the detector's probe
    (:mod:`mmsearch.encoders.ocr_probe`) looks at the crops around those lines, at the whole pass's scale;
    only where a crop holds text does the detector run over the whole picture exactly as ``detect`` does,
    so a picture that gets text gets the ungated boxes and text. (An earlier middle step, the detector's
    boxes on a mosaic of the crops, lost one 20 px line of seven: the mosaic's sides were rescaled to
    multiples of 32 and a crop's box threshold misses faint lines; the probe avoids both, see its module.)
    ``detect`` itself (the video probes, ``read`` without ``gated``) is ungated. Costs and recall:
    docs/benchmarks.md, "OCR".

Coordinates
    Every box is in the pixel coordinates of the picture passed in (not of the reduced copy): four points
    clockwise from the top-left corner of the text, so a rotated line keeps its slant.

Filtering
    A block is kept when the recogniser's confidence (mean per-character probability of the CTC decode) is
    at least ``MIN_CONFIDENCE`` (0.5, rapidocr's own ``text_score``) and its text holds a letter or digit.

Orientation
    The 180-degree classifier is off by default (``use_cls=False``): slight rotations are undone by the crop's
    perspective warp, upside-down text is rare, and the classifier is an extra pass per crop.

Threads
    onnxruntime sessions; ``cpu_threads`` (default: every core, for ingest) is the intra-op thread count of
    each of them, and their idle threads sleep rather than spin (mmsearch/encoders/ocr_sessions.py).
    ``detect``/``read`` may be called from several threads on one reader (onnxruntime sessions
    are thread-safe); batching with ``read_many`` is the cheaper way to use the cores.
"""
from __future__ import annotations

import importlib.metadata
import math
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from mmsearch.encoders.base import require
from mmsearch.encoders.ocr_probe import holds_text, probe_crops
from mmsearch.encoders.ocr_sessions import no_spinning
from mmsearch.encoders.text_gate import text_regions
from mmsearch.errors import MediaError, ModelUnavailableError

DET_MAX_SIDE = 960  # longest side of the detector's input, px (see the module docstring)
MIN_SIDE = 32  # the detector works on multiples of 32; smaller pictures are padded to it
CROP_HEIGHT = 96  # crops are shrunk to this height before the recogniser (which reads them at 48)
MIN_CONFIDENCE = 0.5
REC_BATCH = 16  # crops per recogniser run (rapidocr's default is 6; one call per image is the usual case)
_PACKAGE = "rapidocr-onnxruntime"
_WORDY = re.compile(r"[^\W_]")

Point = tuple[float, float]


@dataclass(frozen=True)
class Box:
    """A detected text region: four corners clockwise from the text's top-left, original pixel coordinates."""

    points: tuple[Point, Point, Point, Point]

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """Axis-aligned bounds ``(x0, y0, x1, y1)``."""
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        return min(xs), min(ys), max(xs), max(ys)

    @property
    def height(self) -> float:
        p = self.points
        return max(math.dist(p[0], p[3]), math.dist(p[1], p[2]))

    @property
    def width(self) -> float:
        p = self.points
        return max(math.dist(p[0], p[1]), math.dist(p[3], p[2]))

    def scaled(self, sx: float, sy: float | None = None) -> Box:
        sy = sx if sy is None else sy
        return Box(tuple((x * sx, y * sy) for x, y in self.points))  # type: ignore[arg-type]

    def to_json(self) -> list[list[float]]:
        return [[round(x, 1), round(y, 1)] for x, y in self.points]


@dataclass(frozen=True)
class TextBlock:
    """One recognised line of text, its box in the original picture, and the recogniser's confidence (0-1)."""

    text: str
    box: Box
    confidence: float

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "box": self.box.to_json(), "confidence": round(self.confidence, 4)}


def blocks_text(blocks: Sequence[TextBlock]) -> str:
    """The blocks' text in reading order (top to bottom, left to right), one line per block."""
    return "\n".join(b.text for b in blocks)


@dataclass
class OcrCounters:
    """What a reader has run: detector passes, recogniser calls and the crops they read."""

    detect_calls: int = 0  # detector passes over whole pictures
    gate_rejected: int = 0  # pictures the pixel test found no text-like line in (no detector pass)
    crop_probes: int = 0  # crops the detector's probe looked at (ocr_probe.py)
    probe_rejected: int = 0  # pictures the pixel test let through whose crops held no text (no whole pass)
    recognize_calls: int = 0
    crops_recognized: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)


def as_rgb(image: Image.Image) -> Image.Image:
    """An RGB picture of any PIL mode: transparency composited on white, CMYK/grey/palette/16-bit converted.

    A picture whose pixels cannot be decoded (a truncated or corrupt file opened lazily by PIL) raises
    :class:`~mmsearch.errors.MediaError` with ``stage="ocr"``: one line the caller records.
    """
    try:
        image.load()
    except (OSError, ValueError, SyntaxError) as e:
        raise MediaError(f"cannot read the picture's pixels for OCR ({type(e).__name__}: {e})", stage="ocr") from None
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        out = Image.new("RGB", rgba.size, (255, 255, 255))
        out.paste(rgba, mask=rgba.getchannel("A"))
        return out
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        a = np.asarray(image, dtype=np.float32)
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
        return Image.fromarray(a.astype(np.uint8)).convert("RGB")
    return image.convert("RGB")


def _bgr(image: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(image)[:, :, ::-1])


def _package_version() -> str:
    try:
        return importlib.metadata.version(_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _ort_has_cuda() -> bool:
    try:
        import onnxruntime
    except ImportError:
        return False
    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


def _one(folder: Path, pattern: str) -> Path | None:
    found = sorted(folder.glob(pattern))
    return found[0] if found else None


class OcrReader:
    """PP-OCR through rapidocr: ``detect(image) -> [Box]``, ``read(image) -> [TextBlock]``, ``read_many``.

    Attributes:
        model_id: the weights: ``"rapidocr-onnxruntime==1.4.4:ch_PP-OCRv4_det_infer+ch_PP-OCRv4_rec_infer"``
            for the bundled models (the classifier's file is added when ``use_cls``).
        counters: :class:`OcrCounters` of the passes run so far (public, for cost accounting and tests).
    """

    MIN_CONFIDENCE = MIN_CONFIDENCE

    def __init__(
        self,
        spec: str = "bundled",
        device: str = "cpu",
        *,
        cpu_threads: int | None = None,
        det_max_side: int = DET_MAX_SIDE,
        use_cls: bool = False,
        min_confidence: float | None = None,
    ) -> None:
        spec = (spec or "bundled").strip()
        self.spec = spec
        if spec.lower() in ("off", "none", "false", "0"):
            raise ModelUnavailableError(
                "OCR is switched off (MMSEARCH_OCR_MODEL=off); set it to 'bundled' to read text in pictures"
            )
        RapidOCR = require("rapidocr_onnxruntime", "RapidOCR",  # noqa: N806
                           "pip install rapidocr-onnxruntime to read text in pictures, or set MMSEARCH_OCR_MODEL=off")
        self.det_max_side = max(MIN_SIDE, int(det_max_side))
        self.use_cls = bool(use_cls)
        self.min_confidence = self.MIN_CONFIDENCE if min_confidence is None else float(min_confidence)
        # CUDA only through an onnxruntime build that has it (onnxruntime-gpu); otherwise the CPU, silently
        self.device = "cuda" if str(device).startswith("cuda") and _ort_has_cuda() else "cpu"
        self.counters = OcrCounters()
        threads = cpu_threads if cpu_threads and cpu_threads > 0 else (os.cpu_count() or 1)
        paths = self._resolve(spec)
        cuda = self.device == "cuda"
        kwargs: dict[str, Any] = {
            "intra_op_num_threads": threads,
            "inter_op_num_threads": 1,
            "det_limit_type": "max",  # our own bound is applied before; the detector never upscales
            "det_limit_side_len": self.det_max_side,
            "det_use_cuda": cuda,
            "cls_use_cuda": cuda,
            "rec_use_cuda": cuda,
            "rec_batch_num": REC_BATCH,
        }
        kwargs.update(paths)
        try:
            with no_spinning():  # idle onnxruntime threads sleep: see ocr_sessions.py
                self._engine = RapidOCR(**kwargs)
        except Exception as e:  # noqa: BLE001 - any load failure is reported as one line
            raise ModelUnavailableError(
                f"cannot load the OCR model {spec!r} ({type(e).__name__}: {e}). Set MMSEARCH_OCR_MODEL to "
                "'bundled', to a folder with PP-OCR det/rec .onnx files, or to 'off'"
            ) from None
        names = [Path(self._engine_path("Det", paths)).stem, Path(self._engine_path("Rec", paths)).stem]
        if self.use_cls:
            names.append(Path(self._engine_path("Cls", paths)).stem)
        origin = f"{_PACKAGE}=={_package_version()}" if spec.lower() == "bundled" else os.path.abspath(spec)
        self.model_id = f"{origin}:{'+'.join(names)}"

    @staticmethod
    def _engine_path(stage: str, paths: dict[str, str]) -> str:
        key = f"{stage.lower()}_model_path"
        if key in paths:
            return paths[key]
        import rapidocr_onnxruntime
        from rapidocr_onnxruntime.utils import read_yaml

        root = Path(rapidocr_onnxruntime.__file__).resolve().parent
        return str(root / read_yaml(str(root / "config.yaml"))[stage]["model_path"])

    @staticmethod
    def _resolve(spec: str) -> dict[str, str]:
        """RapidOCR keyword arguments naming the model files ({} for the bundled ones)."""
        if spec.lower() == "bundled":
            return {}
        folder = Path(os.path.expanduser(spec))
        if not folder.is_dir():
            raise ModelUnavailableError(
                f"unknown OCR model {spec!r}: set MMSEARCH_OCR_MODEL to 'bundled', to a folder with PP-OCR "
                "det/rec .onnx files, or to 'off'"
            )
        det, rec = _one(folder, "*det*.onnx"), _one(folder, "*rec*.onnx")
        if det is None or rec is None:
            raise ModelUnavailableError(
                f"OCR model folder {spec!r} needs a *det*.onnx and a *rec*.onnx file; set MMSEARCH_OCR_MODEL to "
                "'bundled' or 'off' otherwise"
            )
        out = {"det_model_path": str(det), "rec_model_path": str(rec)}
        cls = _one(folder, "*cls*.onnx")
        if cls is not None:
            out["cls_model_path"] = str(cls)
        keys = _one(folder, "*.txt")
        if keys is not None:
            out["rec_keys_path"] = str(keys)
        return out

    # ------------------------------------------------------------------ detection

    def detect(self, image: Image.Image) -> list[Box]:
        """Text regions of ``image`` (detector only), in reading order, in ``image``'s pixel coordinates."""
        rgb = as_rgb(image)
        if rgb.width < 2 or rgb.height < 2:
            return []
        return self._detect_reduced(rgb, self._reduced(rgb))

    def detect_gated(self, image: Image.Image) -> list[Box]:
        """``detect``, behind the pixel test of :mod:`mmsearch.encoders.text_gate` and the detector's probe
        on its crops (:mod:`mmsearch.encoders.ocr_probe`): nothing that looks like a line of text, or no
        text in the crops around what does, no whole pass ([]); otherwise exactly ``detect``'s boxes."""
        rgb = as_rgb(image)
        if rgb.width < 2 or rgb.height < 2:
            return []
        small = self._reduced(rgb)
        rects = text_regions(np.asarray(small.convert("L")))
        if not rects:
            self.counters.add(gate_rejected=1)
            return []
        bgr = _bgr(small)
        crops = probe_crops(rects, small.size)
        if crops is not None:
            found, looked = holds_text(self._engine.text_det, bgr, crops)
            self.counters.add(crop_probes=looked)
            if not found:
                self.counters.add(probe_rejected=1)
                return []
        return self._detect_reduced(rgb, small, bgr)

    def _reduced(self, rgb: Image.Image) -> Image.Image:
        """The copy the detector sees: longest side at most ``det_max_side``, never upscaled."""
        w, h = rgb.size
        scale = min(1.0, self.det_max_side / max(w, h))
        return rgb if scale >= 1.0 else rgb.resize(
            (max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR, reducing_gap=2.0
        )

    def _boxes_in(self, arr: np.ndarray) -> np.ndarray | None:
        """The detector's raw quads on a BGR array (padded white to MIN_SIDE), None or empty when none."""
        sh, sw = arr.shape[:2]
        if sw < MIN_SIDE or sh < MIN_SIDE:  # pad, white, so the detector's /32 rounding keeps a picture
            padded = np.full((max(sh, MIN_SIDE), max(sw, MIN_SIDE), 3), 255, dtype=np.uint8)
            padded[:sh, :sw] = arr
            arr = padded
        self.counters.add(detect_calls=1)
        found, _elapsed = self._engine.text_det(np.ascontiguousarray(arr))
        return None if found is None or len(found) == 0 else found

    def _detect_reduced(self, rgb: Image.Image, small: Image.Image, bgr: np.ndarray | None = None) -> list[Box]:
        w, h = rgb.size
        sw, sh = small.size
        found = self._boxes_in(_bgr(small) if bgr is None else bgr)
        if found is None:
            return []
        found = self._engine.sorted_boxes(np.asarray(found, dtype=np.float32))
        sx, sy = w / sw, h / sh
        boxes = []
        for quad in found:
            q = np.asarray(quad, dtype=np.float64).reshape(4, 2)
            q[:, 0] = np.clip(q[:, 0] * sx, 0, w)
            q[:, 1] = np.clip(q[:, 1] * sy, 0, h)
            boxes.append(Box(tuple((float(x), float(y)) for x, y in q)))  # type: ignore[arg-type]
        return boxes

    # ------------------------------------------------------------------ recognition

    def _crop(self, rgb: Image.Image, box: Box) -> np.ndarray | None:
        """The box's text straightened (perspective warp) from the original picture, BGR, at most CROP_HEIGHT high."""
        import cv2

        x0, y0, x1, y1 = box.bbox
        left, top = max(0, math.floor(x0)), max(0, math.floor(y0))
        right, bottom = min(rgb.width, math.ceil(x1) + 1), min(rgb.height, math.ceil(y1) + 1)
        if right - left < 2 or bottom - top < 2:
            return None
        region = rgb.crop((left, top, right, bottom))
        pts = np.array([(x - left, y - top) for x, y in box.points], dtype=np.float32)
        shrink = min(1.0, CROP_HEIGHT / max(1.0, box.height))
        if shrink < 1.0:  # big text: shrink the region first (area filter), so the warp does not alias
            region = region.resize(
                (max(2, round(region.width * shrink)), max(2, round(region.height * shrink))), Image.Resampling.BOX
            )
            pts *= np.array([region.width / (right - left), region.height / (bottom - top)], dtype=np.float32)
        out_w = max(2, int(max(np.linalg.norm(pts[0] - pts[1]), np.linalg.norm(pts[3] - pts[2]))))
        out_h = max(2, int(max(np.linalg.norm(pts[0] - pts[3]), np.linalg.norm(pts[1] - pts[2]))))
        target = np.array([[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]], dtype=np.float32)
        m = cv2.getPerspectiveTransform(pts, target)
        crop = cv2.warpPerspective(
            _bgr(region), m, (out_w, out_h), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC
        )
        if out_h / out_w >= 1.5:  # a vertical line of text: read it turned, as rapidocr does
            crop = np.ascontiguousarray(np.rot90(crop))
        return crop

    def _recognize(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        if not crops:
            return []
        if self.use_cls:
            crops, _cls, _t = self._engine.text_cls(crops)
        self.counters.add(recognize_calls=1, crops_recognized=len(crops))
        results, _elapsed = self._engine.text_rec(crops)
        return [(str(r[0]), float(r[1])) for r in results]

    def _keep(self, text: str, confidence: float) -> bool:
        return confidence >= self.min_confidence and _WORDY.search(text) is not None

    def read_many(
        self, images: Sequence[Image.Image], boxes: Sequence[Sequence[Box] | None] | None = None, *,
        gated: bool = False,
    ) -> list[list[TextBlock]]:
        """``read`` for several pictures, the crops of all of them recognised in shared batches.

        ``boxes[i]`` (when given and not None) are picture i's boxes from an earlier ``detect``; the
        detector runs for the others (``gated``: behind the pixel test, :meth:`detect_gated`). Pictures
        without boxes cost no recognition.
        """
        rgbs = [as_rgb(im) for im in images]
        given = list(boxes) if boxes is not None else [None] * len(rgbs)
        if len(given) != len(rgbs):
            raise ValueError(f"read_many: {len(rgbs)} images but {len(given)} box lists")
        find = self.detect_gated if gated else self.detect
        per_image = [list(b) if b is not None else find(im) for im, b in zip(rgbs, given)]
        owners: list[tuple[int, Box]] = []
        crops: list[np.ndarray] = []
        for i, (rgb, bxs) in enumerate(zip(rgbs, per_image)):
            for box in bxs:
                crop = self._crop(rgb, box)
                if crop is not None:
                    owners.append((i, box))
                    crops.append(crop)
        out: list[list[TextBlock]] = [[] for _ in rgbs]
        for (i, box), (text, conf) in zip(owners, self._recognize(crops)):
            text = text.strip()
            if self._keep(text, conf):
                out[i].append(TextBlock(text, box, conf))
        return out

    def read(self, image: Image.Image, boxes: Sequence[Box] | None = None, *, gated: bool = False) -> list[TextBlock]:
        """The text of ``image`` in reading order; ``boxes`` from an earlier ``detect`` skip the detector.

        Recognition runs only when there are boxes; blocks under ``min_confidence`` are dropped. ``gated``:
        the detector only where the pixel test sees text (:meth:`detect_gated`; what the index does).
        """
        return self.read_many([image], [boxes], gated=gated)[0]

    def __repr__(self) -> str:
        return f"OcrReader({self.model_id!r}, det_max_side={self.det_max_side}, device={self.device!r})"
