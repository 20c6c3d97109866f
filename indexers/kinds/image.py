"""Images: the whole file is read once (hash and decode share the bytes); one ``image`` segment each. The text
in an image is read by the run's deferred pass (indexers/deferred.py) through :meth:`ImageHandler.read_text`."""
from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np

from mmsearch.analysis.perceptual_hash import image_detail
from mmsearch.catalog import NewSegment
from mmsearch.config import Settings
from mmsearch.kinds import MediaKind, SegmentKind
from mmsearch.media.images import decode_image, load_image
from mmsearch.media.metadata import from_exif

from ..items import Decoded, Opened
from ..ocr import picture_segments
from .base import DecodeInputs, KindHandler, Stage

MAX_IMAGE_BYTES = 512 * 1024 * 1024


def tensor_decoding(encoder: Any, settings: Settings) -> bool:
    """Whether JPEGs go through the encoder's torchvision path (see settings.image_decoder)."""
    if not hasattr(encoder, "prepare_jpeg") or settings.image_decoder == "pillow":
        return False
    return settings.image_decoder == "torchvision" or str(getattr(encoder, "device", "cpu")).startswith("cuda")


class ImageHandler(KindHandler):
    kind = MediaKind.IMAGE
    read_limit = MAX_IMAGE_BYTES

    def decode(self, opened: Opened, inputs: DecodeInputs, stage: Stage) -> Decoded:
        encoder, fields = inputs.encoder, opened.fields
        assert opened.data is not None  # read_limit: the file was read
        if encoder is not None and tensor_decoding(encoder, inputs.settings):
            stage.name = "preprocess"
            done = encoder.prepare_jpeg(opened.data)
            if done is not None:
                fields.update(width=done[1], height=done[2], decoder=f"torchvision-{encoder.device.split(':')[0]}")
                fields.update(from_exif(header_exif(opened.data)).fields())
                return Decoded(opened.entry, opened.old, fields, images=[done[0]])
            stage.name = "decode"
        image, width, height, exif = decode_image(io.BytesIO(opened.data))  # type: ignore[arg-type]  # a file too
        fields.update(width=width, height=height, decoder="pillow", **from_exif(exif).fields())
        detail = image_detail(image)  # the perceptual hash, from these pixels (the torchvision path: at query time)
        if encoder is None:  # the clip work is pending: the file is catalogued, its pixels wait
            return Decoded(opened.entry, opened.old, fields, detail=detail)
        stage.name = "preprocess"
        return Decoded(opened.entry, opened.old, fields, images=[encoder.prepare_image(image)], detail=detail)

    def segments(self, item: Decoded, vectors: dict[str, list[np.ndarray]]) -> list[NewSegment]:
        return [NewSegment(kind=SegmentKind.IMAGE, vector=v[0], space=space, detail=item.detail)
                for space, v in vectors.items() if v]

    def text_source(self, path: str, settings: Settings) -> Any:
        return load_image(path)[0]  # at most 1024 px, as the first pass's Pillow path

    def read_text(self, reader: Any, source: Any, path: str,
                  scenes: Callable[[], list[NewSegment]]) -> list[NewSegment] | None:
        return picture_segments(reader, source)


def header_exif(data: bytes) -> Any:
    """The EXIF of an image's bytes already in memory, from its header (the torchvision path decodes the
    pixels without Pillow); None when unreadable."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.getexif()
    except Exception:  # noqa: BLE001 - no EXIF, never a failed image
        return None

