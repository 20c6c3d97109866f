"""The CLI: a thin layer over Engine with human and JSON output."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from mmsearch.cli.app import app

runner = CliRunner()


def run(*args: str):
    result = runner.invoke(app, list(args))
    return result


def test_index_search_similar_stats_errors_json(tmp_path, colour_folder):
    lib = str(tmp_path / "lib")
    (colour_folder / "bad.png").write_bytes(b"nope")
    r = run("index", str(colour_folder), "--library", lib, "--model", "toy", "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["added"] == 8 and report["failed"] == 1
    assert report["failures"][0]["path"].endswith("bad.png")

    r = run("search", "green", "--library", lib, "--json", "--top", "2", "--kind", "image")
    hits = json.loads(r.stdout)
    assert [h["path"].rsplit("/", 1)[1] for h in hits][:1] == ["green.png"]
    assert set(hits[0]) >= {"path", "kind", "score", "start", "end", "space"}
    assert hits[0]["start"] is None and hits[0]["end"] is None and hits[0]["space"] == "clip"

    r = run("similar", str(colour_folder / "red.png"), "--library", lib, "--kind", "text", "--json")
    assert json.loads(r.stdout)[0]["path"].endswith("red.txt")

    stats = json.loads(run("stats", "--library", lib, "--json").stdout)
    assert stats["files"] == 8 and stats["errors"] == 1
    assert stats["spaces"][0]["model"] == "toy:colors-v1" and stats["spaces"][0]["vectors"] == 8

    errors = json.loads(run("errors", "--library", lib, "--json").stdout)
    assert len(errors) == 1 and errors[0]["stage"] == "decode"

    human = run("search", "green", "--library", lib)
    first = human.stdout.splitlines()[0].split()
    assert human.exit_code == 0 and first[0] == "1" and first[2] == "image" and first[3].endswith("green.png")
    assert "bad.png" in run("errors", "--library", lib).stdout


def test_clear_errors_not_tracebacks(tmp_path, colour_folder):
    r = run("search", "x", "--library", str(tmp_path / "missing"))
    assert r.exit_code == 2 and "no library" in r.stderr
    r = run("index", str(tmp_path / "nowhere"), "--library", str(tmp_path / "lib"), "--model", "toy")
    assert r.exit_code == 2 and "no such file or folder" in r.stderr
    run("index", str(colour_folder), "--library", str(tmp_path / "lib"), "--model", "toy")
    r = run("search", "x", "--library", str(tmp_path / "lib"), "--kind", "hologram")
    assert r.exit_code == 2 and "unknown kind" in r.stderr
    r = run("similar", str(tmp_path / "no.png"), "--library", str(tmp_path / "lib"))
    assert r.exit_code == 2 and "no such file" in r.stderr


def test_reindex_and_remove(tmp_path, colour_folder):
    lib = str(tmp_path / "lib")
    run("index", str(colour_folder), "--library", lib, "--model", "toy")
    assert json.loads(run("reindex", "--library", lib, "--json").stdout) == {"clip": 8, "text": 2}  # the notes are in the sentence space too
    assert "removed 1" in run("remove", str(colour_folder / "red.png"), "--library", lib).stdout
    assert json.loads(run("stats", "--library", lib, "--json").stdout)["files"] == 7


def test_search_thumbs_writes_jpegs_for_images_and_waveform_pngs_for_audio(tmp_path, colour_folder):
    """``--thumbs``: a JPEG per image hit, a PNG waveform of its own window per audio hit, nothing for texts."""
    import numpy as np
    import soundfile
    from PIL import Image

    from mmsearch import Engine
    from mmsearch.catalog import NewSegment

    lib = tmp_path / "lib"
    run("index", str(colour_folder), "--library", str(lib), "--model", "toy")
    rate = 8000
    t = np.arange(rate * 6) / rate
    wav = tmp_path / "tone.wav"
    soundfile.write(wav, (0.5 * np.sin(2 * np.pi * 440 * t) * ((t >= 2) & (t < 4))).astype(np.float32), rate)
    st = wav.stat()
    with Engine(lib, model="toy") as engine:  # a recording's transcript, as the speech pipeline writes it
        engine.catalog.write_media([(
            {"path": str(wav), "content_hash": "tone", "size": st.st_size, "mtime": st.st_mtime, "kind": "audio",
             "duration": 6.0},
            [NewSegment("speech", start=2.0, end=4.0, text="the budget, loud"),
             NewSegment("speech", start=4.0, end=6.0, text="the budget, quiet")],
        )], None)
    (colour_folder / "budget.md").write_text("the budget note")
    run("index", str(colour_folder), "--library", str(lib))

    thumbs = tmp_path / "thumbs"
    r = run("search", "budget", "--keyword", "--library", str(lib), "--thumbs", str(thumbs), "--json")
    assert r.exit_code == 0, r.output
    hits = {(h["kind"], h["start"]): h for h in json.loads(r.stdout)}
    assert set(hits) == {("text", None), ("audio", 2.0), ("audio", 4.0)}
    assert "thumb" not in hits[("text", None)] and "no thumbnail" not in r.stderr
    loud, quiet = Image.open(hits[("audio", 2.0)]["thumb"]), Image.open(hits[("audio", 4.0)]["thumb"])
    assert loud.format == quiet.format == "PNG" and loud.width == 320
    assert hits[("audio", 2.0)]["thumb"].endswith("_00002.000s.png")

    def inked(image, x):  # pixels of the waveform's colour in column x
        rgb = image.convert("RGB")
        return sum(1 for y in range(rgb.height) if rgb.getpixel((x, y))[2] > 200)

    assert min(inked(loud, x) for x in (40, 160, 280)) > loud.height // 2  # the tone fills the 2-4 s window
    assert max(inked(quiet, x) for x in (40, 160, 280)) <= 2  # 4-6 s is silent: a flat line

    r = run("search", "green", "--kind", "image", "--top", "1", "--library", str(lib), "--thumbs", str(thumbs),
            "--json")
    image = Image.open(json.loads(r.stdout)[0]["thumb"])
    assert image.format == "JPEG" and image.convert("RGB").getpixel((4, 4))[1] > 150
