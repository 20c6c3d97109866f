"""Near-duplicates (mmsearch/query/duplicates/): the perceptual hash, the rule, grouping on a small toy-encoder
library (images, and videos re-encoded and trimmed), lazy hashes of old images, the CLI and the web route."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw, ImageFont
from typer.testing import CliRunner

from mmsearch import Engine
from mmsearch.analysis import perceptual_hash as ev
from mmsearch.cli.app import app
from mmsearch.cli.web import create_app
from mmsearch.query.duplicates import align, confirm, evidence
from mmsearch.query.duplicates import candidates as cands
from mmsearch.query.duplicates import report as reporting
from mmsearch.query.duplicates import rule as dups

import media_factory as mf

SAMPLES = Path(__file__).resolve().parents[3] / "sample_data" / "images"
BASE = "http://127.0.0.1"


def photo(name: str) -> Image.Image:
    return Image.open(SAMPLES / name).convert("RGB")


def variants(image: Image.Image) -> dict[str, Image.Image]:
    """The copies a library collects: JPEG q60, half size, 10 % cropped around the centre, colours shifted."""
    return mf.picture_copies(image)


def bits_apart(a: Image.Image, b: Image.Image) -> int:
    hashes = [ev.hashes_of(ev.image_detail(p)) for p in (a, b)]
    return int(evidence.pair_bits(evidence.hash_matrix(hashes), np.array([0]), np.array([1]))[0])


# -- the hash ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["astronaut.jpg", "coffee.jpg", "temple.jpg"])
def test_copies_hash_close_and_other_pictures_far(name):
    original = photo(name)
    for kind, copy in variants(original).items():
        assert bits_apart(original, copy) <= dups.DEFAULT_THRESHOLD // 2, kind
    for other in ("cat.jpg", "flower.jpg", "rocket.jpg", "deep_field.jpg"):
        assert bits_apart(original, photo(other)) > dups.DEFAULT_THRESHOLD, other
    w, h = original.size  # a quarter of the same photo is another picture
    assert bits_apart(original, original.crop((0, 0, w // 2, h // 2))) > dups.DEFAULT_THRESHOLD


def test_a_flat_picture_has_no_hash_and_details_parse_safely():
    flat = ev.image_detail(Image.new("RGB", (64, 48), (200, 10, 10)))
    assert ev.hashes_of(flat) == [] and ev.hashed(flat) and not ev.hashed(None)
    detail = ev.image_detail(photo("cat.jpg"))
    facts = json.loads(detail)
    assert set(facts) == {"phash", "phash90", "corners", "flat"} and len(facts["phash"]) == len(facts["phash90"]) == 16
    assert len(facts["corners"]) == 4 and 1 <= len(ev.hashes_of(detail)) <= 6
    assert ev.hashes_of(None) == ev.hashes_of("not json") == ev.hashes_of('{"boxes": []}') == []
    scene = json.loads(ev.scene_detail(1 << 63 | 5, [1 << 63 | i for i in range(100)]))
    assert len(scene["frames"]) == ev.SCENE_HASHES


def test_relative_distance_does_not_depend_on_the_models_cosine_scale():
    """The same geometry squeezed into a narrow cone (all cosines near 1, as a random-init model gives)
    keeps its relative distances."""
    rng = np.random.default_rng(0)
    base = rng.standard_normal((200, 32))
    base[1] = base[0] + 0.05 * rng.standard_normal(32)
    pairs = np.array([[0, 1], [0, 2], [3, 4]])
    has = np.ones(200, bool)

    def unit(x):
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    wide = cands.relative_distances(unit(base), has, pairs)
    axis = np.zeros(32)
    axis[0] = 40.0
    narrow = cands.relative_distances(unit(unit(base) + axis), has, pairs)
    assert wide[0] < 0.05 and wide[1] > 0.5 and narrow[0] < 0.05 and narrow[1] > 0.5


def test_grouping_at_scale_finds_planted_copies_through_the_ivf_search():
    """Above EXACT_UP_TO pictures the neighbour search is approximate; planted copies (vector nudged, 2 hash
    bits flipped) are still all found, and nothing else is grouped."""
    rng = np.random.default_rng(1)
    n, planted = cands.EXACT_UP_TO + 1000, 300
    vectors = rng.standard_normal((n, 128)).astype(np.float32)
    hashes = rng.integers(0, 2**63, n, dtype=np.uint64) | np.uint64(1 << 63)
    src, dst = np.arange(planted), np.arange(n - planted, n)
    vectors[dst] = vectors[src] + 0.05 * rng.standard_normal((planted, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    hashes[dst] = hashes[src] ^ (np.uint64(1) << np.uint64(3)) ^ (np.uint64(1) << np.uint64(40))
    pictures = [dups.Picture(i, i, f"{i}.jpg", "image", hashes=[int(h)]) for i, h in enumerate(hashes)]
    groups = reporting.group_pictures(pictures, vectors, np.ones(n, bool)).groups
    assert sorted(tuple(sorted(g)) for g in groups) == [(int(a), int(b)) for a, b in zip(src, dst)]


# -- on a library --------------------------------------------------------------------------------------
ORIGINALS = ("astronaut.jpg", "coffee.jpg", "temple.jpg")
DISTRACTORS = ("cat.jpg", "flower.jpg", "rocket.jpg", "deep_field.jpg")


@pytest.fixture(scope="module")
def photo_library(tmp_path_factory):
    root = tmp_path_factory.mktemp("dups")
    folder = root / "photos"
    folder.mkdir()
    expected = []
    for name in ORIGINALS:
        original = photo(name)
        stem = Path(name).stem
        original.save(folder / f"{stem}.png")
        group = {str(folder / f"{stem}.png")}
        for kind, copy in variants(original).items():
            copy.save(folder / f"{stem}_{kind}.jpg", quality=90)
            group.add(str(folder / f"{stem}_{kind}.jpg"))
        expected.append(group)
        w, h = original.size
        original.crop((0, 0, w // 2, h // 2)).save(folder / f"{stem}_quarter.jpg")  # another picture
    for name in DISTRACTORS:
        photo(name).save(folder / name)
    Image.new("RGB", (64, 48), (30, 60, 220)).save(folder / "blue.png")
    Image.new("RGB", (64, 48), (220, 30, 30)).save(folder / "red.png")
    engine = Engine(root / "lib", model="toy")
    engine.index([folder])
    yield engine, folder, expected
    engine.close()


def test_images_group_into_their_copies_with_the_original_kept(photo_library):
    engine, folder, expected = photo_library
    report = engine.duplicates(kind="image")
    found = [{g.keep.path, *(c.path for c in g.copies)} for g in report.groups]
    assert sorted(found, key=sorted) == sorted(expected, key=sorted)
    for g in report.groups:
        assert g.kind == "image" and g.keep.path.endswith(".png")  # the largest copy
        assert all(c.bits is not None and c.bits <= report.threshold for c in g.copies)
    assert report.compared["image"] == len(list(folder.iterdir()))
    assert report.unhashed["image"] == 2  # the two flat pictures
    assert not report.notes  # every image was hashed when indexed
    strict = engine.duplicates(kind="image", threshold=0)
    strict_sets = [{g.keep.path, *(c.path for c in g.copies)} for g in strict.groups]
    assert strict_sets and all(any(s <= group for group in expected) for s in strict_sets)  # never wider


def test_images_indexed_without_hashes_are_hashed_from_their_files(photo_library, tmp_path):
    engine, folder, expected = photo_library
    import shutil

    lib = tmp_path / "lib"
    shutil.copytree(engine.library.root, lib)
    with sqlite3.connect(lib / "catalog.sqlite3") as conn:
        assert conn.execute("UPDATE segment SET detail = NULL WHERE kind = 'image'").rowcount > 0
    with Engine(lib, model="toy") as old:
        report = old.duplicates(kind="image")
    found = [{g.keep.path, *(c.path for c in g.copies)} for g in report.groups]
    assert sorted(found, key=sorted) == sorted(expected, key=sorted)
    assert any("hashed from their files" in n for n in report.notes)


def test_a_video_reencoded_and_trimmed_is_a_duplicate_file(tmp_path):
    from media_factory import encoders, make_video

    if encoders()["h264"] is None or encoders()["mpeg4"] is None:
        pytest.skip("needs H.264 and MPEG-4 encoders in this PyAV build (the av wheel make test installs has them)")
    a, b, c, d = (photo(n).resize((320, 240)) for n in ("astronaut.jpg", "coffee.jpg", "temple.jpg", "cat.jpg"))
    folder = tmp_path / "videos"
    folder.mkdir()
    make_video(folder / "trip.mp4", [(a, 2.0), (b, 2.0), (c, 2.0)], codec="h264")
    make_video(folder / "trip_copy.mkv", [(a, 2.0), (b, 2.0), (c, 1.2)], codec="mpeg4", size=(128, 96))
    make_video(folder / "other.mp4", [(d, 2.0), (Image.new("RGB", (64, 48), (240, 230, 40)), 2.0)], codec="h264")
    with Engine(tmp_path / "lib", model="toy") as engine:
        engine.index([folder])
        report = engine.duplicates(kind="video")
    files = [g for g in report.groups if g.kind == "video"]
    assert len(files) == 1
    assert files[0].keep.path.endswith("trip.mp4") and [c.path for c in files[0].copies] == [str(folder / "trip_copy.mkv")]
    scenes = [g for g in report.groups if g.kind == "scene"]
    assert scenes and all({g.keep.path, *(c.path for c in g.copies)} == {str(folder / "trip.mp4"),
                                                                        str(folder / "trip_copy.mkv")} for g in scenes)
    assert report.unhashed["video"] == 0 or report.unhashed["video"] < report.compared["video"]


# -- look-alikes: different pictures on one plain background or template -----------------------------
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
WORDS = ["the", "index", "search", "copy", "picture", "moment", "file", "library", "vector", "hash"]


def drawing(shape: str) -> Image.Image:
    """A black outline on white: two shapes whose 64-bit hashes differ by 8 bits."""
    im = Image.new("RGB", (400, 300), "white")
    d = ImageDraw.Draw(im)
    if shape == "circle":
        d.ellipse((140, 90, 260, 210), outline="black", width=6)
    else:
        d.rectangle((145, 95, 255, 205), outline="black", width=6)
    return im


def slide(lines: list[str]) -> Image.Image:
    """One template (title bar, white body), other bullet lines: hashes 10 bits apart."""
    im = Image.new("RGB", (800, 600), "white")
    d = ImageDraw.Draw(im)
    f = ImageFont.truetype(FONT, 30)
    d.rectangle((0, 0, 800, 90), fill=(30, 60, 140))
    d.text((30, 25), "Weekly report", font=f, fill="white")
    for i, line in enumerate(lines):
        d.text((50, 140 + 60 * i), "- " + line, font=f, fill="black")
    return im


def page(seed: int) -> Image.Image:
    """A page of text in one layout (a short line closing each paragraph), other words."""
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (600, 800), "white")
    d = ImageDraw.Draw(im)
    f = ImageFont.truetype(FONT, 14)
    for i in range(40):
        d.text((50, 50 + 17 * i), " ".join(rng.choice(WORDS, 9 if i % 6 != 5 else 4)), font=f, fill="black")
    return im


LOOK_ALIKES = {
    "drawing": (drawing("circle"), drawing("square")),
    "slide": (slide(["Sales grew", "Costs fell", "Two hires"]), slide(["Launch in May", "Budget agreed", "Risks"])),
    "page": (page(1), page(7)),
}


@pytest.mark.parametrize("kind", list(LOOK_ALIKES))
def test_look_alikes_hash_alike_but_the_pixel_check_tells_them_apart(kind):
    """The hashes of these different pictures are within the threshold (the old rule called them copies);
    the pixel check finds them different, and finds every alteration of one of them a copy."""
    a, b = LOOK_ALIKES[kind]
    assert bits_apart(a, b) <= dups.DEFAULT_THRESHOLD
    assert not confirm.compare(confirm.pixels(a), confirm.pixels(b)).confirmed
    w, h = a.size
    altered = {**variants(a), "two_thirds": a.resize((w * 2 // 3, h * 2 // 3)),
               "off_centre": a.crop((w // 10, h // 10, w, h)),
               "brighter": Image.fromarray(np.clip(np.asarray(a, np.float32) * 1.15, 0, 255).astype(np.uint8))}
    for name, copy in altered.items():
        check = confirm.compare(confirm.pixels(a), confirm.pixels(copy))
        assert check.confirmed, (name, check)


def test_trusted_bits_fall_with_the_flat_share():
    t = dups.DEFAULT_THRESHOLD
    assert dups.trusted_bits(0.0, t) == 3 and dups.trusted_bits(None, t) == t
    assert dups.trusted_bits(dups.RICH_FLAT, t) == -1 and dups.trusted_bits(0.9, t) == -1
    assert ev.flat_of(ev.image_detail(drawing("circle"))) > dups.RICH_FLAT  # a drawing on white says little
    assert ev.flat_of(ev.image_detail(photo("coffee.jpg"))) < dups.RICH_FLAT
    # no check possible: the hash alone decides, within the trusted bits only
    assert not dups.is_duplicate(dups.Evidence(bits=4, relative=None, trusted=-1))
    assert dups.is_duplicate(dups.Evidence(bits=3, relative=None, trusted=3))


@pytest.fixture(scope="module")
def look_alike_library(tmp_path_factory):
    """The look-alikes, each first one with two copies, in a toy-encoder library."""
    root = tmp_path_factory.mktemp("alike")
    folder = root / "pictures"
    folder.mkdir()
    expected = []
    for kind, (a, b) in LOOK_ALIKES.items():
        a.save(folder / f"{kind}_a.png")
        b.save(folder / f"{kind}_b.png")
        copies = variants(a)
        copies["q60"].save(folder / f"{kind}_a_q60.jpg", quality=90)
        copies["crop"].save(folder / f"{kind}_a_crop.jpg", quality=90)
        expected.append({str(folder / f"{kind}_a{s}") for s in (".png", "_q60.jpg", "_crop.jpg")})
    with Engine(root / "lib", model="toy") as engine:
        engine.index([folder])
        yield engine, folder, expected


@pytest.mark.parametrize("use_vectors", [True, False])
def test_a_library_of_look_alikes_groups_only_the_copies(look_alike_library, use_vectors):
    engine, _folder, expected = look_alike_library
    report = reporting.find_duplicates(engine.context, "image", use_vectors=use_vectors)
    found = [{g.keep.path, *(c.path for c in g.copies)} for g in report.groups]
    assert sorted(found, key=sorted) == sorted(expected, key=sorted)
    assert report.checked["image"] >= len(expected)  # every group was confirmed by pixels


@pytest.fixture(scope="module")
def plain_library(tmp_path_factory):
    """Plain-colour pictures (too flat to hash): one grey with four copies, and three other plain colours
    (close in hue or brightness, and the grey in another shape) in a toy-encoder library."""
    root = tmp_path_factory.mktemp("plain")
    folder = root / "plain"
    folder.mkdir()
    grey = Image.new("RGB", (600, 400), (119, 118, 123))
    grey.save(folder / "grey.png")
    group = {str(folder / "grey.png")}
    copies = {**{k: v for k, v in variants(grey).items() if k in ("q60", "crop")},
              "two_thirds": grey.resize((400, 266)),
              "brighter": Image.fromarray(np.clip(np.asarray(grey, np.float32) * 1.15, 0, 255).astype(np.uint8))}
    for name, copy in copies.items():
        copy.save(folder / f"grey_{name}.jpg", quality=90)
        group.add(str(folder / f"grey_{name}.jpg"))
    Image.new("RGB", (600, 400), (119, 118, 145)).save(folder / "bluer.png")
    Image.new("RGB", (600, 400), (37, 31, 49)).save(folder / "dark.png")
    Image.new("RGB", (400, 600), (119, 118, 123)).save(folder / "upright.png")
    with Engine(root / "lib", model="toy") as engine:
        engine.index([folder])
        yield engine, group


@pytest.mark.parametrize("use_vectors", [True, False])
def test_plain_colours_group_only_their_copies_by_their_colours(plain_library, use_vectors):
    engine, group = plain_library
    report = reporting.find_duplicates(engine.context, "image", use_vectors=use_vectors)
    assert report.unhashed["image"] == 8
    assert [{g.keep.path, *(c.path for c in g.copies)} for g in report.groups] == [group]
    for copy in report.groups[0].copies:
        why = copy.why
        assert why["decided_by"] == "check" and why["bits"] is None and why["check"]["aligned"] == "flat"
        assert why["check"]["disagreement"] <= why["check"]["max_disagreement"]


def test_the_json_says_why_each_copy_is_one(look_alike_library):
    engine, _folder, expected = look_alike_library
    runner = CliRunner()
    result = runner.invoke(app, ["duplicates", "--kind", "image", "--json", "--library", str(engine.library.root)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["groups"]) == len(expected)
    for group in data["groups"]:
        assert group["keep"]["why"] is None
        for copy in group["copies"]:
            why = copy["why"]
            assert {"with", "decided_by", "bits", "threshold", "trusted_bits", "flat", "relative", "max_relative",
                    "check"} <= set(why)
            assert why["decided_by"] == "check" and why["bits"] <= why["threshold"] == dups.DEFAULT_THRESHOLD
            assert why["trusted_bits"] == dups.trusted_bits(why["flat"])
            assert 0 <= why["relative"] <= why["max_relative"]
            assert why["check"]["disagreement"] <= why["check"]["max_disagreement"]
            assert why["check"]["aligned"] in {"features", "template", "grid"}
            assert why["with"] in {group["keep"]["path"], *(c["path"] for c in group["copies"])}
    text = runner.invoke(app, ["duplicates", "--kind", "image", "--library", str(engine.library.root)])
    assert "by check" in text.output and "pixels disagree" in text.output and "aligned by" in text.output
    with TestClient(create_app(engine.context), base_url=BASE, raise_server_exceptions=False) as client:
        r = client.get("/api/duplicates", params={"kind": "image"})
        assert r.status_code == 200, r.text
        copy = r.json()["groups"][0]["copies"][0]
        assert copy["why"]["decided_by"] == "check" and "disagreement" in copy["why"]["check"]
        assert copy["why"]["with"]


# -- interfaces ----------------------------------------------------------------------------------------
def test_cli_json_shape_and_text(photo_library):
    engine, _folder, expected = photo_library
    runner = CliRunner()
    result = runner.invoke(app, ["duplicates", "--kind", "image", "--json", "--library", str(engine.library.root)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"threshold", "groups", "compared", "unhashed", "notes", "checked"}
    assert data["threshold"] == dups.DEFAULT_THRESHOLD and len(data["groups"]) == len(expected)
    group = data["groups"][0]
    assert set(group) == {"kind", "keep", "copies"} and {"path", "media_id", "bits", "width"} <= set(group["keep"])
    text = runner.invoke(app, ["duplicates", "--library", str(engine.library.root)])
    assert text.exit_code == 0 and "keep" in text.output and "copy" in text.output
    bad = runner.invoke(app, ["duplicates", "--kind", "audio", "--library", str(engine.library.root)])
    assert bad.exit_code == 2


def test_web_route_lists_groups_with_thumbnails(photo_library):
    engine, _folder, expected = photo_library
    with TestClient(create_app(engine.context), base_url=BASE, raise_server_exceptions=False) as client:
        r = client.get("/api/duplicates", params={"kind": "image"})
        assert r.status_code == 200, r.text
        groups = r.json()["groups"]
        assert len(groups) == len(expected)
        thumb = client.get(f"/api/media/{groups[0]['keep']['media_id']}/thumb", params={"size": 96})
        assert thumb.status_code == 200 and thumb.headers["content-type"].startswith("image/")
        assert client.get("/api/duplicates", params={"kind": "audio"}).status_code == 422
        assert client.get("/api/duplicates", params={"threshold": 99}).status_code == 422


def test_the_page_shows_the_groups_with_thumbnails(photo_library, tmp_path):
    """The footer's Duplicates button opens the groups, the copy to keep first, thumbnails loaded (Chromium)."""
    import os
    import shutil
    import socket
    import threading
    import time

    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright (the test extra) is not installed")
    chromium = os.environ.get("MMSEARCH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(chromium):
        pytest.skip("needs the system Chromium (apt-get install chromium; .ci/system-deps.sh installs it)")
    import uvicorn

    engine, _folder, expected = photo_library
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(engine.context), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.05)
    try:
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"http://127.0.0.1:{sock.getsockname()[1]}/")
            page.click("#show-duplicates")
            page.wait_for_selector("#viewer .dup-group")
            assert page.locator("#viewer .dup-group").count() == len(expected)
            assert page.locator("#viewer .dup.keep").count() == len(expected)
            # each copy says why (the `why` of the JSON): what decided, the hash bits, the pixel check
            whys = page.locator("#viewer .dup.copy .dup-why").all_inner_texts()
            assert len(whys) == page.locator("#viewer .dup.copy").count() == sum(len(g) - 1 for g in expected)
            assert all(t.startswith("by check") and " bits" in t and "pixels " in t and "aligned by " in t
                       for t in whys), whys
            loaded = "[...document.querySelectorAll('#viewer .dup img')].every(i => i.complete)"
            deadline = time.monotonic() + 30
            while not page.evaluate(loaded):  # (wait_for_function evaluates a string: the page's CSP forbids it)
                assert time.monotonic() < deadline, "thumbnails did not load"
                time.sleep(0.2)
            assert page.evaluate("[...document.querySelectorAll('#viewer .dup img')].every(i => i.naturalWidth > 0)")
            page.screenshot(path=os.environ.get("DUPLICATES_SCREENSHOT") or str(tmp_path / "duplicates.png"))
            browser.close()
            assert not errors
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_an_off_centre_crop_hashes_close_through_a_corner_hash():
    """10 % cut off the left and top moves the whole hash past the threshold; the original's bottom-right
    90 % hash (``corners``) still meets the copy's."""
    original = photo("coffee.jpg")
    w, h = original.size
    copy = original.crop((round(w * 0.1), round(h * 0.1), w, h))
    whole = [ev.hashes_of(ev.image_detail(p))[:2] for p in (original, copy)]
    assert evidence.pair_bits(evidence.hash_matrix(whole), np.array([0]), np.array([1]))[0] > dups.DEFAULT_THRESHOLD
    assert bits_apart(original, copy) <= dups.DEFAULT_THRESHOLD // 2


def test_a_cropped_page_is_aligned_and_another_page_is_not_a_copy():
    """A page of text repeats one pattern (lines of letters), so a coarse grid can settle a line off; the
    template match over every offset and scale (or the matched keypoints) puts a 5 % border crop and a 10 %
    off-centre crop where they belong, and the pixels confirm them. Another page of the same font and
    layout, cropped alike, stays apart."""
    a, other = page(1), page(7)
    w, h = a.size
    original = confirm.pixels(a)
    for box in ((w // 20, h // 20, w - w // 20, h - h // 20), (w // 10, h // 10, w, h)):
        check = confirm.compare(original, confirm.pixels(a.crop(box)))
        assert check.confirmed and check.aligned in ("template", "features"), (box, check)
        assert check.to_dict()["aligned"] == check.aligned
        assert not confirm.compare(confirm.pixels(other), confirm.pixels(a.crop(box))).confirmed


def test_the_features_put_a_cropped_page_where_it_belongs():
    """Matched keypoints of a page and its 10 % off-centre crop give the crop's window in the page."""
    a = page(1)
    w, h = a.size
    crop = a.crop((w // 10, h // 10, w, h))
    original, copy = confirm.pixels(a), confirm.pixels(crop)
    found = align.window(original.features, copy.features, original.size, copy.size)
    assert found is not None and found[0]  # the copy lies in the original
    assert np.allclose(found[1], [0.1, 0.1, 0.0, 0.0], atol=0.01), found


def test_without_opencv_the_grid_search_still_aligns(monkeypatch):
    """No OpenCV (an optional dependency): no template match, no features; the grid search aligns alone."""
    monkeypatch.setattr(confirm, "template_window", lambda *args: None)
    a = drawing("circle")
    w, h = a.size
    bare = confirm.pixels(a)
    bare._features = None
    check = confirm.compare(bare, confirm.pixels(a.crop((w // 20, h // 20, w - w // 20, h - h // 20))))
    assert check.confirmed and check.aligned == "grid"
    check = confirm.compare(bare, confirm.pixels(a.crop((w // 10, h // 10, w, h))))
    assert check.confirmed and check.aligned == "grid"
