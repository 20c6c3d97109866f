"""JPEG decoding + preprocessing on tensors (the GPU ingest path), run here on the CPU device."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from mmsearch import Engine
from mmsearch.config import load_settings
from mmsearch.encoders import load_image_text_encoder
from mmsearch.encoders.base import batch_for_memory
from mmsearch.errors import ConfigError
from mmsearch.media.images import load_image
from mmsearch.media.jpeg_tensor import is_complete_jpeg


def _photo(w: int = 320, h: int = 200, orientation: int = 1, mode: str = "RGB") -> bytes:
    """A smooth, asymmetric picture (gradients + a block), so orientation and resizing show."""
    y, x = np.mgrid[0:h, 0:w]
    arr = np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], axis=-1).astype(np.uint8)
    arr[h // 8 : h // 3, w // 10 : w // 4] = (250, 20, 30)
    im = Image.fromarray(arr).convert(mode)
    buf = io.BytesIO()
    exif = im.getexif()
    if orientation != 1:
        exif[0x0112] = orientation
    im.save(buf, "JPEG", quality=95, exif=exif)
    return buf.getvalue()


@pytest.fixture(scope="module")
def enc(tiny_clip):
    return load_image_text_encoder(tiny_clip, "cpu")


def _pillow_prepared(enc, data: bytes):
    return enc.prepare_image(load_image(io.BytesIO(data))[0])


@pytest.mark.parametrize("orientation", range(1, 9))
def test_tensor_path_matches_pillow_path_for_every_exif_orientation(enc, orientation):
    data = _photo(orientation=orientation)
    got, width, height = enc.prepare_jpeg(data)
    expected = _pillow_prepared(enc, data)
    assert (width, height) == (320, 200)  # as stored, like load_image
    assert got.shape == expected.shape
    # Same picture, same orientation: only resampling differs (antialiased bicubic vs Pillow's).
    assert float((got - expected).abs().mean()) < 0.03
    flipped = _pillow_prepared(enc, _photo(orientation=1 if orientation != 1 else 3))
    assert float((got - flipped).abs().mean()) > 0.1  # the check above can tell orientations apart


@pytest.mark.parametrize("mode", ["L", "CMYK"])
def test_grey_and_cmyk_jpegs_become_rgb(enc, mode):
    data = _photo(mode=mode)
    got, _, _ = enc.prepare_jpeg(data)
    assert float((got - _pillow_prepared(enc, data)).abs().mean()) < 0.05


def test_what_the_tensor_path_does_not_take_goes_to_pillow(enc):
    jpeg = _photo()
    assert enc.prepare_jpeg(jpeg[: len(jpeg) // 2]) is None  # truncated: Pillow judges it
    assert enc.prepare_jpeg(b"\xff\xd8\xff" + b"\x00" * 100 + b"\xff\xd9") is None  # garbage with JPEG ends
    png = io.BytesIO()
    Image.new("RGB", (10, 10)).save(png, "PNG")
    assert enc.prepare_jpeg(png.getvalue()) is None
    assert is_complete_jpeg(jpeg) and is_complete_jpeg(jpeg + b"\x00\x00") and not is_complete_jpeg(jpeg[:-2])


def test_index_with_torchvision_decoder_records_it_and_keeps_bad_files_out(tmp_path, tiny_clip):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, o in enumerate((1, 6, 8)):
        (folder / f"p{i}.jpg").write_bytes(_photo(orientation=o))
    (folder / "cut.jpg").write_bytes(_photo()[:3000])
    Image.new("RGB", (40, 30), "blue").save(folder / "flat.png")
    with Engine(tmp_path / "lib", model=tiny_clip, image_decoder="torchvision") as e:
        report = e.index([folder])
        media = {m.path.rsplit("/", 1)[1]: m for m in e.catalog.all_media()}
        with Engine(tmp_path / "lib2", model=tiny_clip, image_decoder="pillow") as ref:
            ref.index([folder])
            ref_vec = ref.catalog.vectors_of_media(ref.catalog.media_by_path(media["p1.jpg"].path).id)["clip"][0]
        vec = e.catalog.vectors_of_media(media["p1.jpg"].id)["clip"][0]
    assert report.added == 4 and report.failed == 1 and "cut.jpg" in report.failures[0][0]
    assert {media[f"p{i}.jpg"].decoder for i in range(3)} == {"torchvision-cpu"}
    assert media["flat.png"].decoder == "pillow"
    assert (media["p1.jpg"].width, media["p1.jpg"].height) == (320, 200)
    assert float(vec @ ref_vec) > 0.98  # the same image through either decoder


def test_batch_for_memory_is_a_power_of_two_within_bounds():
    gib = 1 << 30
    assert batch_for_memory(40 * gib, 60 << 20) == 256  # 20 GiB / 60 MiB = 341 -> 256
    assert batch_for_memory(40 * gib, 60 << 20, cap=128) == 128
    assert batch_for_memory(100 << 20, 60 << 20) == 16  # floor
    assert batch_for_memory(gib, 0) == 512


def test_cpu_batch_and_decoder_settings(enc, monkeypatch):
    assert enc.fit_batch_size() == 32
    assert load_settings({}, image_decoder="pillow").image_decoder == "pillow"
    with pytest.raises(ConfigError, match="image_decoder"):
        load_settings({}, image_decoder="nvjpeg")
    with pytest.raises(ConfigError, match="batch_size"):
        load_settings({"MMSEARCH_BATCH_SIZE": "-4"})
