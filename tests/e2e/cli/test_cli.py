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
    assert r.exit_code == 2 and "no mmsearch library" in r.stderr
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


# -- the first hour: messages, help, remove, Ctrl-C, busy port ------------------------------------------
import os  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import click  # noqa: E402
import typer  # noqa: E402

import mmsearch.cli.__main__  # noqa: E402,F401  (registers every command module)


def _cli(*args: str, env: dict | None = None, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    """The installed entry point in a new process (what a user runs)."""
    return subprocess.run([sys.executable, "-m", "mmsearch.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, **kw)


def _options_of(command: click.Command, name: str = "mmsearch"):
    yield name, command
    for sub_name, sub in getattr(command, "commands", {}).items():
        yield from _options_of(sub, f"{name} {sub_name}")


def test_every_option_and_argument_has_help_and_help_keeps_bracketed_words():
    root = typer.main.get_command(app)
    missing = [f"{where} {p.name}" for where, command in _options_of(root) for p in command.params
               if not (getattr(p, "help", None) or "").strip()]
    assert not missing, missing
    text = run("index", "--help").stdout
    assert "[env: MMSEARCH_LIBRARY]" in text and "mmsearch[cluster]" in " ".join(text.split())
    search_help = " ".join(run("search", "--help").stdout.split())
    for option in ("--thumbs", "--keyword", "--like", "--like-weight"):
        assert re.search(re.escape(option) + r"[^-]*? [A-Z][a-z]", search_help), option  # followed by its help


def test_version():
    r = run("--version")
    assert r.exit_code == 0 and re.fullmatch(r"mmsearch \d+\.\d+\.\d+\S*\n", r.stdout)


def test_remove_is_remembered_until_index_names_the_path_again(tmp_path, colour_folder):
    lib = str(tmp_path / "lib")
    run("index", str(colour_folder), "--library", lib, "--model", "toy")
    r = run("remove", str(colour_folder / "red.png"), str(colour_folder / "nested"), "--library", lib)
    assert r.exit_code == 0 and "removed 2 files from the library" in r.stdout
    assert "`mmsearch index PATH` names them again" in r.stdout
    # the next index of the folder (and a bare `index`) leaves them out
    for args in ((str(colour_folder),), ()):
        again = json.loads(run("index", *args, "--library", lib, "--model", "toy", "--json").stdout)
        assert again["added"] == 0, again
    paths = {h["path"] for h in json.loads(run("search", "red", "--library", lib, "--json", "--top", "20").stdout)}
    assert str(colour_folder / "red.png") not in paths and not any("/nested/" in p for p in paths)
    # naming a removed path again brings it back (and only it)
    back = json.loads(run("index", str(colour_folder / "red.png"), "--library", lib, "--model", "toy", "--json").stdout)
    assert back["added"] == 1
    assert json.loads(run("index", str(colour_folder), "--library", lib, "--model", "toy", "--json").stdout)["added"] == 0
    assert json.loads(run("stats", "--library", lib, "--json").stdout)["files"] == 7
    # one removed file: singular
    assert "removed 1 file from the library" in run("remove", str(colour_folder / "green.png"), "--library", lib).stdout


def test_removing_what_is_not_in_the_library_is_an_error(tmp_path, colour_folder):
    lib = str(tmp_path / "lib")
    run("index", str(colour_folder), "--library", lib, "--model", "toy")
    r = run("remove", str(tmp_path / "elsewhere.png"), str(colour_folder / "red.png"), "--library", lib)
    assert r.exit_code == 2 and "not in the library" in r.stderr and "elsewhere.png" in r.stderr
    assert json.loads(run("stats", "--library", lib, "--json").stdout)["files"] == 8  # nothing removed


def test_hit_table_keeps_one_line_per_hit(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("first line\nsecond line\n\n  third line about red")
    (folder / "b.txt").write_text("red\nred\nred")
    lib = str(tmp_path / "lib")
    run("index", str(folder), "--library", lib, "--model", "toy")
    out = run("search", "red", "--library", lib, "--kind", "text").stdout
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 2 and "first line second line third line about red" in out, out


def test_model_warnings_name_settings_that_exist_and_off_is_not_warned(tmp_path, colour_folder):
    """A missing audio model: one line naming MMSEARCH_AUDIO_MODEL (no --audio-model, which does not exist);
    the same model turned off: no warning at all."""
    folder = colour_folder  # pictures (the toy model embeds them) and a recording
    from audio_factory import tone, write_audio  # a real audio file

    write_audio(folder / "tone.wav", tone(2.0), 16000)
    lib = str(tmp_path / "lib")
    env = {"MMSEARCH_AUDIO_MODEL": str(tmp_path / "no-such-clap"), "MMSEARCH_SPEECH_MODEL": "off",
           "MMSEARCH_TEXT_MODEL": "off", "HF_HUB_OFFLINE": "1"}
    r = _cli("index", str(folder), "--library", lib, "--model", "toy", env=env)
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if "warning:" in line]
    assert len(warnings) == 1 and "audio pending" in warnings[0], r.stderr
    assert "MMSEARCH_AUDIO_MODEL" in warnings[0] and "--audio-model" not in r.stderr
    root = typer.main.get_command(app)
    named = set(re.findall(r"--[a-z][a-z-]+", r.stderr))
    known = {opt for _, command in _options_of(root) for p in command.params for opt in getattr(p, "opts", [])}
    assert named <= known, named - known
    off = _cli("index", str(folder), "--library", str(tmp_path / "lib2"), "--model", "toy",
               env={**env, "MMSEARCH_AUDIO_MODEL": "off"})
    assert off.returncode == 0 and "warning" not in off.stderr, off.stderr


def test_a_model_error_is_one_line_and_verbose_shows_the_raw_error(tmp_path, colour_folder):
    folder = colour_folder
    from audio_factory import tone, write_audio

    write_audio(folder / "tone.wav", tone(2.0), 16000)
    (tmp_path / "broken-clap").mkdir()
    (tmp_path / "broken-clap" / "config.json").write_text("{ not json")
    env = {"MMSEARCH_AUDIO_MODEL": str(tmp_path / "broken-clap"), "MMSEARCH_SPEECH_MODEL": "off",
           "MMSEARCH_TEXT_MODEL": "off", "HF_HUB_OFFLINE": "1"}
    r = _cli("index", str(folder), "--library", str(tmp_path / "lib"), "--model", "toy", env=env)
    assert r.returncode == 0
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "MMSEARCH_AUDIO_MODEL" in lines[0], r.stderr
    verbose = _cli("--verbose", "index", str(folder), "--library", str(tmp_path / "lib3"), "--model", "toy", env=env)
    assert "Traceback" in verbose.stderr and len(verbose.stderr.splitlines()) > 3


def test_ctrl_c_prints_one_line_and_exits_130_and_the_next_run_goes_on(tmp_path):
    from conftest import solid

    folder = tmp_path / "many"
    for i in range(400):
        solid(folder / f"{i:03d}.png", ("red", "green", "blue")[i % 3], (320, 240))
    lib = tmp_path / "lib"
    proc = subprocess.Popen([sys.executable, "-m", "mmsearch.cli", "index", str(folder), "--library", str(lib),
                             "--model", "toy"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "MMSEARCH_OCR_MODEL": "off", "MMSEARCH_TEXT_MODEL": "off"})
    deadline = time.monotonic() + 120
    while not (lib / "catalog.sqlite3").exists() and proc.poll() is None:  # the run has begun writing
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == ["interrupted: the files indexed so far are saved; run the same `mmsearch index` again to do "
                     "the rest"], err
    r = _cli("index", str(folder), "--library", str(lib), "--model", "toy", "--json",
             env={"MMSEARCH_OCR_MODEL": "off", "MMSEARCH_TEXT_MODEL": "off"})
    report = json.loads(r.stdout)
    assert report["added"] + report["unchanged"] == 400 and report["failed"] == 0


def test_serve_on_a_busy_port_fails_at_once_with_one_line(tmp_path, colour_folder):
    lib = str(tmp_path / "lib")
    run("index", str(colour_folder), "--library", lib, "--model", "toy")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # a model that would fail to load (another than the library's): the port is checked before it loads
        r = _cli("serve", "--library", lib, "--port", str(port), "--model", "ViT-B-32:/no/such.pt", timeout=60)
    assert r.returncode == 2 and "serving" not in r.stdout
    assert r.stderr.strip().splitlines() == [f"error: port {port} on 127.0.0.1 is in use (another `mmsearch serve`?): "
                                             "choose another with --port"]


NO_CLIP = {"MMSEARCH_MODEL": "ViT-B-32:/no/such/checkpoint.pt", "MMSEARCH_AUDIO_MODEL": "off",
           "MMSEARCH_SPEECH_MODEL": "off", "HF_HUB_OFFLINE": "1"}


def test_pending_work_is_one_answer_in_the_cli_the_api_and_python(tmp_path, colour_folder, monkeypatch):
    """Pictures indexed without their model: the CLI says so after the hits, the HTTP API in `pending`, the
    Python API in Engine.pending() (same words), and no query raises for it."""
    lib = str(tmp_path / "lib")
    r = _cli("index", str(colour_folder), "--library", lib, env=NO_CLIP)
    assert r.returncode == 0, r.stderr
    line = ("8 files wait for the clip model: set MMSEARCH_MODEL (or model in config.toml, or --model), then run "
            "`mmsearch index`")
    for args in (("search", "a red square", "--kind", "image"), ("search", "a red square"),
                 ("similar", str(colour_folder / "red.png"))):
        r = _cli(*args, "--library", lib, env=NO_CLIP)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines()[-1] == line, r.stdout
    # the note answers by its words and meaning while the pictures wait
    r = _cli("search", "a red square", "--library", lib, env=NO_CLIP)
    assert "red.txt" in r.stdout
    for key, value in NO_CLIP.items():
        monkeypatch.setenv(key, value)
    from fastapi.testclient import TestClient

    from mmsearch import Engine
    from mmsearch.cli.web import create_app

    with Engine(lib, create=False) as engine:
        assert engine.similar(colour_folder / "red.png") == []  # no exception
        assert [p.line for p in engine.pending()] == [line]
        with TestClient(create_app(engine.context), base_url="http://127.0.0.1") as client:
            body = client.get("/api/search", params={"q": "a red square", "kind": "image"}).json()
    assert body["hits"] == [] and body["pending"] == [line]


# -- the background query process (cli/query_client.py, cli/query_server_cmd.py) ------------------------------
PROBE = """import json, runpy, sys
sys.argv = ['mmsearch'] + json.loads(sys.argv[1])
try:
    runpy.run_module('mmsearch.cli', run_name='__main__')
except SystemExit as exc:
    code = exc.code
print(json.dumps({'engine_here': 'mmsearch.engine' in sys.modules, 'rc': code}), file=sys.stderr)
"""


def _probe(*args: str, env: dict | None = None):
    """A command line in a new process: (stdout, whether it opened the engine itself, exit code)."""
    r = subprocess.run([sys.executable, "-c", PROBE, json.dumps(list(args))], capture_output=True, text=True,
                       timeout=300, env={**os.environ, **(env or {})})
    info = json.loads(r.stderr.strip().splitlines()[-1])
    return r.stdout, info["engine_here"], info["rc"]


def _start_query_server(lib: str, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "mmsearch.cli", "query-server", "--library", lib, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not os.path.exists(os.path.join(lib, "query.sock")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    return proc


def test_query_process_answers_as_the_command_would_and_is_private(tmp_path, colour_folder):
    lib = str(tmp_path / "lib")
    run("index", str(colour_folder), "--library", lib, "--model", "toy")
    here, engine_here, rc = _probe("search", "a red square", "--library", lib)
    assert engine_here and rc in (0, None) and "red" in here
    assert not os.path.exists(os.path.join(lib, "query.sock"))  # not a terminal: no query process started
    proc = _start_query_server(lib)
    try:
        assert os.stat(os.path.join(lib, "query.sock")).st_mode & 0o777 == 0o600
        there, engine_here, rc = _probe("search", "a red square", "--library", lib)
        assert not engine_here and rc in (0, None) and there == here  # answered by the process, same words
        # an error is the command's own line and exit code
        _, engine_here, rc = _probe("search", "x", "--kind", "hologram", "--library", lib)
        assert not engine_here and rc == 2
        # other settings than the process's: answered here
        _, engine_here, _ = _probe("search", "a red square", "--library", lib, env={"MMSEARCH_TEXT_MODEL": "off"})
        assert engine_here
        # options that write files here: answered here
        _, engine_here, _ = _probe("search", "red", "--thumbs", str(tmp_path / "t"), "--library", lib)
        assert engine_here
    finally:
        subprocess.run([sys.executable, "-m", "mmsearch.cli", "query-server", "--stop", "--library", lib], timeout=120)
        proc.wait(60)
    assert not os.path.exists(os.path.join(lib, "query.sock"))


def test_query_process_exits_when_idle_and_a_stale_socket_is_replaced(tmp_path, colour_folder):
    lib = str(tmp_path / "lib")
    run("index", str(colour_folder), "--library", lib, "--model", "toy")
    proc = _start_query_server(lib)
    proc.kill()  # a killed process leaves its socket behind
    proc.wait(30)
    assert os.path.exists(os.path.join(lib, "query.sock"))
    out, engine_here, rc = _probe("search", "a red square", "--library", lib)
    assert engine_here and rc in (0, None) and "red" in out  # the stale socket is not an error
    idle = _start_query_server(lib, "--idle", "0.02")  # replaces the stale socket; exits after ~1 s idle
    assert idle.wait(120) == 0
    assert not os.path.exists(os.path.join(lib, "query.sock"))


def test_a_model_missing_offline_is_not_tried_again_until_a_model_cache_changes(tmp_path, colour_folder):
    """The first index run learns (by importing open_clip) that the default CLIP weights are not here; the next
    runs say the same without importing it, until the model cache changes."""
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1",
           "TORCH_HOME": str(tmp_path / "torch"), "MMSEARCH_AUDIO_MODEL": "off", "MMSEARCH_SPEECH_MODEL": "off"}
    lib = str(tmp_path / "lib")
    probe = PROBE.replace("'mmsearch.engine' in sys.modules", "'open_clip' in sys.modules")

    def index() -> tuple[bool, str]:
        r = subprocess.run([sys.executable, "-c", probe, json.dumps(["index", str(colour_folder), "--library", lib])],
                           capture_output=True, text=True, timeout=600, env={**os.environ, **env})
        info = json.loads(r.stderr.strip().splitlines()[-1])
        return info["engine_here"], "\n".join(line for line in r.stderr.splitlines() if "warning: clip pending" in line)

    imported, first = index()
    assert imported and "MMSEARCH_MODEL" in first
    imported, again = index()
    assert not imported and again == first  # the same one line, nothing imported
    (tmp_path / "hf" / "hub" / "models--someone--weights").mkdir(parents=True)  # the cache changed: tried again
    imported, _ = index()
    assert imported


def test_hit_table_on_a_terminal_is_one_line_per_hit_within_its_width(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("red " + "a long line of words about a red square that goes on and on " * 4)
    (folder / "b.txt").write_text("red\nred\nred")
    lib = str(tmp_path / "lib")
    run("index", str(folder), "--library", lib, "--model", "toy")
    env = {"FORCE_COLOR": "1", "MMSEARCH_QUERY_SERVER": "off"}
    r = _cli("search", "red", "--library", lib, "--kind", "text", env={**env, "COLUMNS": "70"}, cwd=tmp_path)
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in r.stdout.splitlines() if line.strip()]
    assert len(lines) == 3 and lines[0].split()[:3] == ["#", "score", "kind"], r.stdout  # a header, two hits
    assert all(len(line) <= 70 for line in lines), lines
    # paths wider than the terminal: whole lines, one per hit, the path never cut
    r = _cli("search", "red", "--library", lib, "--kind", "text", env={**env, "COLUMNS": "30"}, cwd="/")
    lines = [line for line in r.stdout.splitlines() if line.strip()]
    assert len(lines) == 2 and all(str(folder).lstrip("/") + "/" in line for line in lines), r.stdout


# -- the command table (cli/commands.py) ---------------------------------------------------------------------
def test_the_command_table_is_the_command_line():
    """Every command comes from the one table, in its order, under its name (no module registers one as a side
    effect of being imported), and --help lists exactly the table's visible commands in that order."""
    from mmsearch.cli.commands import COMMANDS

    assert [(ci.name, ci.callback, ci.hidden) for ci in app.registered_commands] == [
        (c.name, c.run, c.hidden) for c in COMMANDS]
    assert list(typer.main.get_command(app).commands) == [c.name for c in COMMANDS]  # type: ignore[attr-defined]
    listed = [line.split()[0] for line in run("--help").stdout.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == [c.name for c in COMMANDS if not c.hidden] and "query-server" not in listed
    assert run("query-server", "--help").exit_code == 0  # hidden, still there


def test_paths_print_as_they_are_named(tmp_path, colour_folder):
    """Brackets and emoji codes in a path are text, in every line a command prints: ``[x]`` is no style tag and
    ``:fire:`` no emoji (rich would turn both into something else)."""
    lib = tmp_path / "lib[x]:fire:"
    folder = tmp_path / "photos[x]:fire:"
    colour_folder.rename(folder)
    r = run("index", str(folder), "--library", str(lib), "--model", "toy")
    assert r.exit_code == 0, r.output
    r = run("stats", "--library", str(lib))
    assert f"library   {lib}" in r.stdout and f"place     {folder}: online" in r.stdout, r.stdout
    (folder / "red.png").unlink()
    r = run("index", "--library", str(lib), "--model", "toy")
    assert "missing 1 file gone from disk" in r.stdout
    r = run("transcript", str(folder / "missing[x]:fire:.wav"), "--library", str(lib))
    assert r.exit_code == 2 and "missing[x]:fire:.wav" in r.output, r.output
