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
    assert json.loads(run("reindex", "--library", lib, "--json").stdout) == {"clip": 8}
    assert "removed 1" in run("remove", str(colour_folder / "red.png"), "--library", lib).stdout
    assert json.loads(run("stats", "--library", lib, "--json").stdout)["files"] == 7
