"""Negative terms, --like mixes, and query by a recording or a video clip (mmsearch.query.mix_rules, mix,
examples): the pure rules without a library, then end to end with the toy encoder, a tiny CLAP and the
bundled Whisper."""
from __future__ import annotations

import json
import logging
import shutil
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from mmsearch import Engine, MmsearchError
from mmsearch.cli.app import app
from mmsearch.query.mix_rules import (
    MixBackground,
    ParsedQuery,
    excluded_by_words,
    holds_phrase,
    negative_penalty,
    parse_query,
)

import audio_factory as af
import media_factory as mf
from conftest import COLOURS, solid

SR = 16000


# -- the pure rules -------------------------------------------------------------------------------------
def test_parse_splits_negative_words_and_phrases():
    q = parse_query('beach -people -"parked cars" at dusk')
    assert q.positive == "beach at dusk" and q.negatives == ("people", "parked cars")
    assert q.negative_words() == [["people"], ["parked", "cars"]]
    assert parse_query("a t-shirt - plain").negatives == ()  # a hyphen inside a word or alone is not a negative
    with pytest.raises(ValueError, match="only negative"):
        parse_query("-people -cars")
    assert parse_query("-people", allow_empty=True) == ParsedQuery("", ("people",))  # an example file gives the rest
    with pytest.raises(ValueError, match="empty"):
        parse_query("   ")


def test_words_exclude_whole_words_and_phrases_only():
    assert holds_phrase(["red", "parked", "cars"], ["parked", "cars"])
    assert not holds_phrase(["cars", "parked"], ["parked", "cars"])
    assert excluded_by_words([["people"]], ["Two People on a beach", None])
    assert excluded_by_words([["people"]], ["beach", "people_at_sea"])  # a file name's words count
    assert not excluded_by_words([["people"]], ["peoples of the sea", "beach"])


def test_negative_penalty_ignores_noise_and_grows_with_resemblance():
    assert negative_penalty(-2.0) == negative_penalty(0.5) == 0.0
    assert negative_penalty(3.0) > negative_penalty(2.0) > 0.0


def test_mix_of_one_part_is_that_part_and_the_mix_is_calibrated_again():
    rng = np.random.default_rng(0)
    sample = rng.standard_normal((500, 16)).astype(np.float32)
    sample /= np.linalg.norm(sample, axis=1, keepdims=True)
    a, b = sample[0], sample[1]
    one = MixBackground.of(sample, a[None, :], [1.0])
    sims = sample @ a
    np.testing.assert_allclose(one.score(sims[:, None]), (sims - sims.mean()) / sims.std(), rtol=1e-4, atol=1e-5)
    # two parts, weighted: the mix is calibrated again, mean 0 and spread 1 over the sample
    mix = MixBackground.of(sample, np.stack([a, b]), [1.0, 3.0])
    z = mix.score(np.stack([sample @ a, sample @ b], axis=1))
    assert abs(z.mean()) < 1e-6 and abs(z.std() - 1.0) < 1e-6
    assert mix.score(np.array([1.0, 0.0])) < mix.score(np.array([0.0, 1.0]))  # the heavier part counts more
    lone = MixBackground.of(sample[:1], np.stack([a, b]), [1.0, 1.0])
    assert lone.spread == pytest.approx(np.sqrt(2.0))  # no background: the parts as if independent


# -- search with negatives and examples (toy encoder) ----------------------------------------------------
def halves(path, left: str, right: str):
    img = Image.new("RGB", (64, 48), COLOURS[left])
    img.paste(Image.new("RGB", (32, 48), COLOURS[right]), (32, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


@pytest.fixture(scope="module")
def mixed_library(tmp_path_factory):
    root = tmp_path_factory.mktemp("mix")
    photos = root / "photos"
    for name in COLOURS:
        solid(photos / f"{name}.png", name)
    halves(photos / "half_a.png", "blue", "red")
    halves(photos / "half_b.png", "blue", "green")
    halves(photos / "half_c.png", "yellow", "purple")
    solid(photos / "people_blue.png", "blue")
    (photos / "door.md").write_text("a blue door in the old town\n")
    (photos / "crowd.md").write_text("a blue boat full of people\n")
    lib = root / "lib"
    with Engine(lib, model="toy", audio_model="off", speech_model="off") as engine:
        engine.index([photos])
    return photos, lib


def _paths(hits):
    return [h.path.rsplit("/", 1)[-1] for h in hits]


def test_a_negative_term_demotes_what_resembles_it_and_keeps_the_rest(mixed_library):
    photos, lib = mixed_library
    with Engine(lib) as engine:
        plain = engine.search("blue", k=10, kinds=["image"])
        cos = {p: h.extra["cosine"] for p, h in zip(_paths(plain), plain)}
        assert cos["half_a.png"] == pytest.approx(cos["half_b.png"])  # a tie without the negative
        minus = engine.search("blue -red", k=10, kinds=["image"])
    order = _paths(minus)
    assert set(order[:2]) == {"blue.png", "people_blue.png"}  # solid blue, twice
    assert order.index("half_b.png") < order.index("half_a.png")  # the red half costs
    by = {p: h.score for p, h in zip(_paths(plain), plain)}
    after = {p: h.score for p, h in zip(order, minus)}
    assert after["blue.png"] == pytest.approx(by["blue.png"])  # nothing red in it: its score is kept
    assert after["half_a.png"] < by["half_a.png"]


def test_negative_words_leave_out_texts_and_file_names_that_hold_them(mixed_library):
    photos, lib = mixed_library
    with Engine(lib) as engine:
        assert "crowd.md" in _paths(engine.search("blue", k=10, kinds=["text"]))
        texts = _paths(engine.search("blue -people", k=10, kinds=["text"]))
        images = _paths(engine.search("blue -people", k=20, kinds=["image"]))
        keyword = _paths(engine.keyword_search("blue -people", k=10))
        with pytest.raises(MmsearchError, match="only negative"):
            engine.search("-people", k=3)
    assert "door.md" in texts and "crowd.md" not in texts
    assert "people_blue.png" not in images and "blue.png" in images
    assert "door.md" in keyword and "crowd.md" not in keyword


def test_like_moves_the_ranking_toward_the_example(mixed_library, tmp_path):
    photos, lib = mixed_library
    example = halves(tmp_path / "example.png", "green", "blue")  # not in the library: encoded on the fly
    with Engine(lib) as engine:
        mixed = _paths(engine.search("blue", k=6, kinds=["image"], like=[example]))
        assert mixed.index("half_b.png") < mixed.index("half_a.png")
        # the weight decides how far: an example worth ten texts outranks what the words ask for
        strong = engine.search("red", k=3, kinds=["image"], like=[photos / "green.png"], like_weight=10.0)
        weak = engine.search("red", k=3, kinds=["image"], like=[photos / "green.png"], like_weight=0.1)
        alone = engine.search("", k=3, kinds=["image"], like=[photos / "green.png"])
        minus = engine.search("-green", k=10, kinds=["image"], like=[photos / "green.png"])
        with pytest.raises(MmsearchError, match="weight"):
            engine.search("red", like=[example], like_weight=0.0)
    assert _paths(weak)[0] == "red.png"
    assert _paths(strong)[0] == "half_b.png"  # green.png itself, the example, is left out
    assert "green.png" not in _paths(strong) + _paths(alone) + _paths(minus)
    assert _paths(alone)[0] == "half_b.png"  # an example alone is a query too
    score = {p: h.score for p, h in zip(_paths(minus), minus)}
    assert score["half_b.png"] < alone[0].score  # ... and a negative term works on it


def test_cli_like_and_negatives(mixed_library, tmp_path):
    photos, lib = mixed_library
    runner = CliRunner()
    r = runner.invoke(app, ["search", "blue -red", "--library", str(lib), "--kind", "image", "--json",
                            "--like", str(photos / "half_b.png"), "--like-weight", "2"])
    assert r.exit_code == 0, r.output
    order = [h["path"].rsplit("/", 1)[-1] for h in json.loads(r.stdout)]
    assert order.index("blue.png") < order.index("half_a.png") and "half_b.png" not in order
    r = runner.invoke(app, ["search", "--library", str(lib), "--", "-red"])  # a leading - needs the --
    assert r.exit_code == 2 and "only negative" in r.output
    r = runner.invoke(app, ["search", "blue", "--library", str(lib), "--like", str(tmp_path / "none.png")])
    assert r.exit_code == 2 and "no such file" in r.output


def test_a_mixed_query_reads_the_spaces_once(mixed_library, tmp_path, monkeypatch):
    """A query's QuerySpaces is handed down to its examples and its mix: the space rows are read once and each
    index's epoch is checked at most once, however many parts (text, negatives, examples) the query has."""
    photos, lib = mixed_library
    example = halves(tmp_path / "example.png", "green", "blue")  # not in the library: encoded on the fly
    with Engine(lib) as engine:
        engine.search("blue", k=1)  # the models load (and check the library's record of them) on first use
        catalog = engine.context.catalog
        n = len(catalog.spaces())
        reads: dict[str, int] = {"spaces": 0, "space": 0, "space_generations": 0}
        for name in reads:
            real = getattr(catalog, name)

            def counted(*args, _name=name, _real=real, **kwargs):
                reads[_name] += 1
                return _real(*args, **kwargs)

            monkeypatch.setattr(catalog, name, counted)
        hits = engine.search("blue -red", k=5, like=[photos / "green.png", example])
        assert hits and "green.png" not in _paths(hits)
        assert reads["spaces"] == 1 and reads["space"] == 0
        assert 1 <= reads["space_generations"] <= n  # each space's index looked up once at most
        for name in reads:
            reads[name] = 0
        assert engine.similar(photos / "half_a.png", k=3)
        assert reads["spaces"] == 1 and reads["space"] == 0 and 1 <= reads["space_generations"] <= n


# -- similar by a video clip ----------------------------------------------------------------------------
def cut(src, dst, start: float, end: float) -> None:
    """Frames [start, end) of ``src`` re-encoded into ``dst``."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        stream = out.add_stream(mf.h264_encoder(), rate=25)
        stream.width, stream.height, stream.pix_fmt = vin.width, vin.height, "yuv420p"
        n = 0
        for frame in inp.decode(vin):
            if frame.time is not None and start <= frame.time < end:
                f = av.VideoFrame.from_image(frame.to_image())
                f.pts, f.time_base = n, Fraction(1, 25)
                n += 1
                for packet in stream.encode(f):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def test_similar_clip_finds_the_moment_it_was_cut_from_and_leaves_itself_out(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    cuts = mf.make_video(root / "rgb.mp4", [("red", 3.0), ("blue", 4.0), ("green", 3.0)], motion=False)
    mf.make_video(root / "other.webm", [("yellow", 3.0), ("purple", 3.0)], codec="vp9", motion=False)
    clip = tmp_path / "clip.mp4"
    cut(root / "rgb.mp4", clip, 3.5, 6.5)  # inside the blue scene
    with Engine(tmp_path / "lib", model="toy", audio_model="off", speech_model="off") as engine:
        engine.index([root])
        hit = engine.similar(clip, k=3, kinds=["video"])[0]
        assert hit.path == str(root / "rgb.mp4") and abs(hit.start - cuts[0]) <= 0.5 and abs(hit.end - cuts[1]) <= 0.5
        shutil.copy(clip, root / "clip.mp4")
        engine.index([root])
        hits = engine.similar(root / "clip.mp4", k=3, kinds=["video"])  # in the library: stored vectors
    assert hits[0].path == str(root / "rgb.mp4") and str(root / "clip.mp4") not in {h.path for h in hits}


# -- similar by a recording -----------------------------------------------------------------------------
BUDGET = "we need to cut the marketing budget next quarter"


@pytest.fixture(scope="module")
def sound_library(tmp_path_factory, tiny_clap_dir):
    if not af.HAVE_ESPEAK:
        pytest.skip("espeak-ng not installed (make test installs it)")
    root = tmp_path_factory.mktemp("sounds")
    lib_dir = root / "files"
    lib_dir.mkdir()
    af.write_audio(lib_dir / "hiss.wav", af.noise(8.0, SR, seed=1), SR)
    af.write_audio(lib_dir / "hum.wav", af.tone(8.0, SR, freq=220.0), SR)
    af.write_audio(lib_dir / "meeting.wav", af.compose(12.0, SR, [(5.0, af.speech(BUDGET, SR))]), SR)
    (lib_dir / "budget.md").write_text("we need to cut the marketing budget next quarter\n")  # not speech
    for i, line in enumerate(["a recipe for lemon pie", "the train leaves at noon", "notes on the garden",
                              "a letter to the bank", "hiking up to the lake"]):
        (lib_dir / f"note{i}.md").write_text(line + "\n")
    lib = root / "lib"
    with Engine(lib, model="toy", audio_model=str(tiny_clap_dir)) as engine:
        engine.index([lib_dir])
    return root, lib_dir, lib, tiny_clap_dir


def test_similar_recording_finds_the_same_sound_and_where_the_same_is_said(sound_library, tmp_path, caplog):
    root, files, lib, clap = sound_library
    shutil.copy(files / "hiss.wav", tmp_path / "hiss_copy.wav")
    said = tmp_path / "said.wav"
    af.write_audio(said, af.compose(4.0, SR, [(0.5, af.speech("cut the marketing budget", SR))]), SR)
    with Engine(lib, model="toy", audio_model=str(clap)) as engine:
        same = engine.similar(tmp_path / "hiss_copy.wav", k=3)
        spoken = engine.similar(said, k=5)
    assert same[0].path == str(files / "hiss.wav") and "audio" in same[0].extra["signals"]
    by_speech = [h for h in spoken if "text" in h.extra["signals"]]
    assert by_speech and by_speech[0].path == str(files / "meeting.wav") and abs(by_speech[0].start - 5.0) <= 1.0
    assert str(files / "budget.md") not in {h.path for h in spoken}  # the transcript finds speech only
    assert {"audio"} <= {s for h in spoken for s in h.extra["signals"]}  # and sounds alike too


def test_similar_recording_without_a_model_says_which_part_did_not_run(sound_library, tmp_path, caplog):
    root, files, lib, clap = sound_library
    shutil.copy(files / "hiss.wav", tmp_path / "hiss_copy.wav")
    with caplog.at_level(logging.WARNING), Engine(lib, model="toy", audio_model=str(clap),
                                                  speech_model="off") as engine:
        hits = engine.similar(tmp_path / "hiss_copy.wav", k=3)
    assert hits[0].path == str(files / "hiss.wav")
    assert [r.getMessage() for r in caplog.records if "not searched" in r.getMessage()] == [
        "same words said: not searched, speech cannot be transcribed (speech is turned off (speech_model = 'off'))"]
    runner = CliRunner()
    r = runner.invoke(app, ["similar", str(tmp_path / "x.txt"), "--library", str(lib)])
    assert r.exit_code == 2
    (tmp_path / "x.txt").write_text("hello")
    r = runner.invoke(app, ["similar", str(tmp_path / "x.txt"), "--library", str(lib)])
    assert r.exit_code == 2 and "not an image, recording or video" in r.output


def test_http_search_takes_negatives_and_examples_by_media_id(mixed_library):
    from fastapi.testclient import TestClient

    from mmsearch.cli.web import create_app

    photos, lib = mixed_library
    with Engine(lib) as engine, TestClient(create_app(engine.context), base_url="http://127.0.0.1",
                                           raise_server_exceptions=False) as client:
        example = engine.catalog.media_by_path(str(photos / "half_b.png")).id
        r = client.get("/api/search", params={"q": "blue -red", "kind": "image", "like": [example], "like_weight": 2})
        assert r.status_code == 200, r.text
        names = [h["name"] for h in r.json()["hits"]]
        assert names.index("blue.png") < names.index("half_a.png") and "half_b.png" not in names
        assert client.get("/api/search", params={"q": "-red"}).status_code == 400
        assert client.get("/api/search", params={"q": "red", "like": [10**9]}).status_code == 404
        assert client.get("/api/search", params={"q": "red", "like": [0]}).status_code == 422
        assert client.get("/api/search", params={"q": "red", "like": [example], "like_weight": 0}).status_code == 422
