"""Open the moment (mmsearch/playback.py, `search --open N`, `search --export m3u|edl FILE`): the exporters'
exact text, and a player started at the hit's start (a fake player on PATH records its arguments)."""
from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmsearch import playback
from mmsearch.cli.app import app
from mmsearch.hits import Hit

import media_factory as mf
from conftest import solid

runner = CliRunner()

HITS = [
    Hit(path="/m/trip.mp4", kind="video", score=3.2, start=12.5, end=20.0, text=None),
    Hit(path="/m/talk.wav", kind="audio", score=2.9, start=61.25, end=75.0, text="the budget\nfor next year"),
    Hit(path="/m/cat.jpg", kind="image", score=2.5),
    Hit(path="/m/clip.en.srt", kind="text", score=2.1, start=3.0, end=4.5, text="lift off", linked="/m/clip.mp4"),
    Hit(path="/m/odd,name=1.mp4", kind="video", score=1.0, start=0.0, end=2.0),
]


def test_m3u_export_has_titles_and_vlc_start_stop_times():
    assert playback.to_m3u(HITS) == (
        "#EXTM3U\n"
        "#EXTINF:8,1. trip.mp4\n"
        "#EXTVLCOPT:start-time=12.5\n"
        "#EXTVLCOPT:stop-time=20\n"
        "/m/trip.mp4\n"
        "#EXTINF:14,2. talk.wav - the budget for next year\n"
        "#EXTVLCOPT:start-time=61.25\n"
        "#EXTVLCOPT:stop-time=75\n"
        "/m/talk.wav\n"
        "#EXTINF:-1,3. cat.jpg\n"  # a whole file: no times
        "/m/cat.jpg\n"
        "#EXTINF:2,4. clip.mp4 - lift off\n"  # a subtitle cue plays its video
        "#EXTVLCOPT:start-time=3\n"
        "#EXTVLCOPT:stop-time=4.5\n"
        "/m/clip.mp4\n"
        "#EXTINF:2,5. odd,name=1.mp4\n"
        "#EXTVLCOPT:start-time=0\n"
        "#EXTVLCOPT:stop-time=2\n"
        "/m/odd,name=1.mp4\n"
    )


def test_edl_export_is_mpv_edl_v0_with_start_and_length():
    odd = "/m/odd,name=1.mp4"
    assert playback.to_edl(HITS) == (
        "mpv EDL v0\n"
        "/m/trip.mp4,12.5,7.5\n"
        "/m/talk.wav,61.25,13.75\n"
        "/m/cat.jpg\n"
        "/m/clip.mp4,3,1.5\n"
        f"%{len(odd.encode())}%{odd},0,2\n"  # reserved characters: the length-prefixed form
    )


def test_export_refuses_an_unknown_format(tmp_path):
    with pytest.raises(playback.MmsearchError, match="unknown playlist format 'xspf'"):
        playback.export(HITS, "xspf", tmp_path / "x")


def _fake_player(folder: Path, name: str) -> Path:
    """A player program that writes its arguments, one a line, to ``<name>.args`` beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{folder / (name + ".args")}"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return folder / f"{name}.args"


def _recorded(args_file: Path) -> list[str]:
    deadline = time.monotonic() + 10  # the player is detached: wait for it to have written
    while time.monotonic() < deadline:
        if args_file.exists() and args_file.read_text().endswith("\n"):
            return args_file.read_text().splitlines()
        time.sleep(0.05)
    raise AssertionError(f"the player never ran ({args_file})")


@pytest.mark.parametrize("player, start_arg", [("mpv", "--start=12.5"), ("vlc", "--start-time=12.5")])
def test_open_starts_the_first_installed_player_at_the_start(tmp_path, monkeypatch, player, start_arg):
    args = _fake_player(tmp_path / "bin", player)
    _fake_player(tmp_path / "bin", "xdg-open")  # later in the table: not used while mpv/vlc is there
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    ran = playback.open_hit(HITS[0])
    assert ran == [str(tmp_path / "bin" / player), start_arg, "--", "/m/trip.mp4"]
    assert _recorded(args) == [start_arg, "--", "/m/trip.mp4"]
    assert not (tmp_path / "bin" / "xdg-open.args").exists()


def test_open_without_start_support_or_time_passes_the_path_alone(tmp_path, monkeypatch):
    _fake_player(tmp_path / "bin", "xdg-open")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert playback.play_command(HITS[0])[1:] == ["/m/trip.mp4"]  # xdg-open takes no start time
    _fake_player(tmp_path / "bin", "mpv")
    assert playback.play_command(HITS[2])[1:] == ["--", "/m/cat.jpg"]  # an image has none


def test_a_file_named_like_an_option_reaches_the_player_as_a_file(tmp_path, monkeypatch):
    """A relative name starting with '-' is passed absolute and after '--': never read as an option."""
    args = _fake_player(tmp_path / "bin", "mpv")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.chdir(tmp_path)
    playback.open_hit(Hit(path="--script=evil.lua", kind="video", score=1.0, start=2.0, end=3.0))
    assert _recorded(args) == ["--start=2", "--", str(tmp_path / "--script=evil.lua")]


def test_m3u_line_breaks_in_a_path_cannot_inject_lines(tmp_path):
    """A file name holding a line break and a VLC option: one location line, written as a file:// URL."""
    from urllib.parse import unquote

    name = "clip\n#EXTVLCOPT:run-program=sh\r.mp4"
    evil = tmp_path / name
    evil.write_bytes(b"")
    text = playback.to_m3u([Hit(path=str(evil), kind="video", score=1.0, start=1.0, end=2.0, text="x\ny")])
    lines = text.splitlines()
    assert [line for line in lines if line.startswith("#EXTVLCOPT")] == [
        "#EXTVLCOPT:start-time=1", "#EXTVLCOPT:stop-time=2"]
    assert len(lines) == 5 and lines[1] == "#EXTINF:1,1. clip #EXTVLCOPT:run-program=sh .mp4 - x y"
    assert lines[4].startswith("file:///") and "\n" not in lines[4] and "\r" not in lines[4]
    assert os.path.exists(unquote(lines[4].removeprefix("file://")))  # it still names the file


@pytest.mark.slow
def test_search_open_plays_the_video_hit_from_its_scene(tmp_path, monkeypatch):
    root = tmp_path / "videos"
    root.mkdir()
    cuts = mf.make_video(root / "rgb.mp4", [("red", 3.0), ("blue", 4.0), ("green", 3.0)], codec="h264",
                         motion=False)
    solid(root / "blue.png", "blue")
    lib = str(tmp_path / "lib")
    assert runner.invoke(app, ["index", str(root), "--library", lib, "--model", "toy"]).exit_code == 0
    args = _fake_player(tmp_path / "bin", "mpv")
    monkeypatch.setenv("PATH", str(tmp_path / "bin") + os.pathsep + os.environ.get("PATH", ""))
    playlist = tmp_path / "hits.m3u"
    r = runner.invoke(app, ["search", "blue", "--library", lib, "--kind", "video", "--top", "1", "--open", "1",
                            "--export", "m3u", str(playlist), "--json"])
    assert r.exit_code == 0, r.output
    hit = json.loads(r.stdout)[0]
    assert abs(hit["start"] - cuts[0]) <= 0.5
    recorded = _recorded(args)
    assert recorded[1:] == ["--", str(root / "rgb.mp4")] and recorded[0].startswith("--start=")
    assert abs(float(recorded[0].removeprefix("--start=")) - hit["start"]) < 1e-3
    assert playlist.read_text().splitlines()[2] == f"#EXTVLCOPT:start-time={playback._seconds(hit['start'])}"

    r = runner.invoke(app, ["search", "blue", "--library", lib, "--top", "2", "--open", "3"])
    assert r.exit_code == 2 and "there are" in r.output
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    r = runner.invoke(app, ["search", "blue", "--library", lib, "--kind", "image", "--open", "1"])
    assert r.exit_code == 1 and "no media player found" in r.output
