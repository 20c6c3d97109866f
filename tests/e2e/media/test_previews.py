"""Previews (mmsearch.media.previews) and the page's hit data (mmsearch.query.hit_data).

Previews decode real generated files: a solid image, a two-scene video, a recording loud in one half.
Hit data runs on a real toy-model library and counts the SQL statements its catalog runs.
"""
from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
import soundfile
from PIL import Image
from sqlalchemy import event

from mmsearch import Engine, Hit
from mmsearch.errors import MediaError, NotFoundError
from mmsearch.media import previews
from mmsearch.media.previews import Window
from mmsearch.query.hit_data import describe_hits

from conftest import COLOURS, solid


def centre(preview: previews.Preview) -> tuple[int, int, int]:
    image = preview.image().convert("RGB")
    return image.getpixel((image.width // 2, image.height // 2))


def inked_columns(image: Image.Image) -> list[int]:
    """Per pixel column, how many pixels have the waveform's colour."""
    rgb = np.asarray(image.convert("RGB"))
    return list((rgb[:, :, 2] > 200).sum(axis=0))


# -- windows -------------------------------------------------------------------------------------------
def test_window_is_what_a_hit_shows():
    assert previews.window("image") == Window()
    assert previews.window("video", 4.0, 6.0, 5.2) == Window(at=5.2)  # the frame that matched
    assert previews.window("video", 4.0, 6.0) == Window(at=4.0)  # no keyframe: the moment's start
    assert previews.window("video") == Window(at=0.0)
    assert previews.window("audio") == Window()  # a whole file: the default length from the start
    assert previews.window("audio", 12.0, 17.5) == Window(at=12.0, seconds=5.5)
    assert previews.window("audio", 3.0) == Window(at=3.0, seconds=previews.HIT_AUDIO_SECONDS)
    assert previews.window("audio", 0.0, 5000.0).seconds == previews.MAX_AUDIO_SECONDS
    assert previews.window("text") is None and previews.window("subtitle") is None


# -- thumbnails ------------------------------------------------------------------------------------------
def test_image_thumbnail_is_a_scaled_jpeg(tmp_path):
    path = solid(tmp_path / "green.png", "green", (400, 200))
    preview = previews.thumbnail("image", path, max_side=100)
    assert preview.media_type == "image/jpeg" and preview.suffix == ".jpg"
    image = preview.image()
    assert image.format == "JPEG" and image.size == (100, 50)
    r, g, b = centre(preview)
    assert g > 150 and r < 80 and b < 80


def test_video_thumbnail_is_the_frame_at_t_clamped_to_the_duration(tmp_path):
    from media_factory import make_mkv

    path = tmp_path / "two.mkv"
    make_mkv(path, [(COLOURS["red"], 1.0), (COLOURS["blue"], 1.0)], motion=False)
    first, second = (previews.thumbnail("video", path, at=t, max_side=64) for t in (0.5, 1.5))
    assert first.media_type == second.media_type == "image/jpeg" and max(first.image().size) == 64
    assert centre(first)[0] > 150 and centre(first)[2] < 100  # red scene
    assert centre(second)[2] > 150 and centre(second)[0] < 100  # blue scene
    late = previews.thumbnail("video", path, at=1e6, max_side=64, duration=2.0)
    assert centre(late)[2] > 150  # past the end: the last frame


def test_audio_thumbnail_is_a_waveform_of_its_window(tmp_path):
    rate = 8000
    t = np.arange(rate * 4) / rate
    path = tmp_path / "half.wav"
    soundfile.write(path, (0.5 * np.sin(2 * np.pi * 300 * t) * (t < 2)).astype(np.float32), rate)
    whole = previews.thumbnail("audio", path, max_side=200)
    assert whole.media_type == "image/png" and whole.suffix == ".png"
    assert whole.image().size == (200, 112)
    columns = inked_columns(whole.image())
    assert min(columns[10:90]) > 56 and max(columns[110:190]) <= 2  # loud first half, silent second half
    loud = inked_columns(previews.thumbnail("audio", path, at=0.5, seconds=1.0, max_side=200).image())
    quiet = inked_columns(previews.thumbnail("audio", path, at=2.5, seconds=1.0, max_side=200).image())
    assert min(loud[5:195]) > 56 and max(quiet) <= 2


@pytest.mark.parametrize("kind", ["image", "video", "audio"])
def test_a_corrupt_file_is_one_media_error(tmp_path, kind):
    path = tmp_path / {"image": "bad.png", "video": "bad.mp4", "audio": "bad.wav"}[kind]
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(MediaError) as caught:
        previews.thumbnail(kind, path)
    message = str(caught.value)
    assert message and "\n" not in message and "Traceback" not in message


def test_kinds_without_previews_are_not_found(tmp_path):
    note = tmp_path / "note.md"
    note.write_text("words")
    with pytest.raises(NotFoundError, match="no thumbnail for a text file"):
        previews.thumbnail("text", note)
    with pytest.raises(NotFoundError, match="no thumbnail for a text hit"):
        previews.of_hit(Hit(path=str(note), kind="text", score=1.0))


def test_engine_thumbnail_of_a_hit(tmp_path, colour_folder):
    with Engine(tmp_path / "lib", model="toy") as engine:
        engine.index([colour_folder])
        hit = engine.search("yellow", k=1, kinds=["image"])[0]
        preview = engine.preview(hit, max_side=32)
        thumb = engine.thumbnail(hit, max_side=32)
    r, g, b = centre(preview)
    assert preview.media_type == "image/jpeg" and max(preview.image().size) == 32 and r > 200 and g > 200 and b < 90
    assert thumb.size == preview.image().size


def test_waveform_of_silence_or_nothing_is_a_flat_picture():
    for samples in (np.zeros(800, np.float32), np.zeros(0, np.float32), np.full(10, np.nan, np.float32)):
        image = Image.open(io.BytesIO(previews.waveform_png(samples, 64)))
        assert image.size == (64, 36) and max(inked_columns(image)) <= 1  # at most the flat line


# -- hit data --------------------------------------------------------------------------------------------
@pytest.fixture
def library(tmp_path, colour_folder):
    with Engine(tmp_path / "lib", model="toy") as engine:
        engine.index([colour_folder])
        yield engine, colour_folder


def count_statements(catalog):
    """A list that grows by one per SQL statement the catalog's engine runs."""
    seen: list[str] = []
    event.listen(catalog.sql, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_describe_hits_resolves_a_captions_image(library):
    engine, photos = library
    caption = engine.search("red", k=1, kinds=["text"])[0]
    assert caption.linked == str(photos / "red.png")
    (data,) = describe_hits(engine.context, [caption])
    red = engine.catalog.media_by_path(str(photos / "red.png"))
    assert data.hit is caption and data.name == "red.txt" and data.preview is None
    assert (data.linked.id, data.linked.kind, data.linked.path) == (red.id, "image", red.path)
    assert data.linked.preview == Window()
    image = describe_hits(engine.context, engine.search("green", k=1, kinds=["image"]))[0]
    assert image.linked is None and image.preview == Window() and image.name == "green.png"


def test_describe_hits_runs_one_query_however_many_hits(library):
    engine, photos = library
    caption = engine.search("red", k=1, kinds=["text"])[0]
    gone = dataclasses.replace(caption, linked=str(photos / "deleted.png"))  # linked file no longer indexed
    plain = engine.search("blue", k=3, kinds=["image"])
    statements = count_statements(engine.catalog)

    assert describe_hits(engine.context, plain)  # nothing linked: only the presence read (mmsearch/presence.py)
    presence = len(statements)
    assert presence <= 2 and all("place" in q or "missing_since" in q for q in statements)
    statements.clear()
    describe_hits(engine.context, [caption])
    one = len(statements)
    statements.clear()
    many = describe_hits(engine.context, [caption, gone] * 60 + plain)
    assert one == presence + 1 and len(statements) == one  # one linked-media query, however many hits
    assert [d.linked.kind if d.linked else None for d in many[:2]] == ["image", None]
    assert all(d.linked == many[0].linked for d in many[:120:2])
