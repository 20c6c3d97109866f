"""The HTTP API of ``mmsearch serve`` (cli/web/), with the deterministic toy encoder.

Covers: text / image / "more like this" queries, stats and errors, media and thumbnails by id only
(Range requests, traversal attempts sent as raw request lines, symbolic links out of the library), the
access token and media tokens, the Host guard, the ``serve`` command's refusals, and a bounded fuzz pass
over the OpenAPI schema. What must never leak is tests/test_web_security.py.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

# imported at collection, not inside the test: pytest rewrites hypothesis's modules as it imports them, and
# CPython 3.11.7's ast.parse failed once mid-suite with "AST constructor recursion depth mismatch" (gh-106905)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from typer.testing import CliRunner

from mmsearch import Engine
from mmsearch.cli.web import create_app, is_loopback

from conftest import COLOURS, solid

BASE = "http://127.0.0.1"  # without a token the app answers loopback Host names only


# -- shared helpers (test_web_e2e.py imports these) ------------------------------------------------
@contextlib.contextmanager
def clean_env():
    """No user setting (config file, MMSEARCH_*) reaches a library built outside a test's own fixtures."""
    saved = dict(os.environ)
    home = tempfile.mkdtemp(prefix="mmsearch-home-")
    try:
        for key in list(os.environ):
            if key.startswith("MMSEARCH_"):
                del os.environ[key]
        os.environ["XDG_CONFIG_HOME"] = os.path.join(home, "config")
        os.environ["XDG_DATA_HOME"] = os.path.join(home, "data")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(home, ignore_errors=True)


SEGMENTS = [("red", 2.0), ("green", 2.0), ("blue", 2.0)]  # the test video: 3 solid scenes of 2 s


def make_test_video(path: Path) -> list[float]:
    """A VP9 WebM (every Chromium plays it) of three solid-colour scenes; returns the cut times."""
    from media_factory import make_vp9_webm

    return make_vp9_webm(path, [(COLOURS[c], d) for c, d in SEGMENTS])


def build_library(root: Path, *, video: bool) -> tuple[Engine, Path]:
    """Index a folder like conftest's colour_folder (+ the test video) into root/lib; returns (engine, folder)."""
    photos = root / "photos"
    for name in COLOURS:
        solid(photos / f"{name}.png", name)
    solid(photos / "nested" / "deeper" / "blue_2.jpg", "blue", (80, 80))
    (photos / "red.txt").write_text("a red square")
    (photos / "notes.md").write_text("A short note about a yellow sun.\n")
    (photos / "bad.png").write_bytes(b"not an image")
    # A link to a file outside the folder (not indexed: recorded as an error), and one inside (indexed).
    secret = solid(root / "outside" / "secret.png", "purple")
    (photos / "escape.png").symlink_to(secret)
    (photos / "nested" / "alias.md").symlink_to(photos / "notes.md")
    if video:
        make_test_video(photos / "clip.webm")
    engine = Engine(root / "lib", model="toy")
    engine.index([photos])
    return engine, photos


def media_id(engine: Engine, path: Path) -> int:
    media = engine.catalog.media_by_path(str(path))
    assert media is not None, path
    return media.id


@contextlib.contextmanager
def live_server(app, **config):
    """``app`` served by a real uvicorn on a free loopback port, in a thread; yields its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = {"log_level": "warning", "lifespan": "off", **config}
    server = uvicorn.Server(uvicorn.Config(app, **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def raw_request(base: str, target: str, *, method: str = "GET", headers: dict | None = None,
                body_chunks: list[bytes] | None = None) -> tuple[int, bytes]:
    """Send ``target`` byte for byte as the request line (no client normalises it) over a raw socket;
    ``body_chunks``: sent with chunked transfer encoding, stopping early once the server has answered.
    Returns (status, response body)."""
    import select

    host, port = base.removeprefix("http://").rsplit(":", 1)
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body_chunks is not None:
        lines.append("Transfer-Encoding: chunked")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        data = b""
        try:
            for chunk in body_chunks or []:
                if select.select([conn], [], [], 0.02)[0]:  # an answer before the body's end
                    break
                conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            else:
                if body_chunks is not None:
                    conn.sendall(b"0\r\n\r\n")
            while chunk := conn.recv(65536):
                data += chunk
        except ConnectionResetError:  # closed while body bytes were still on their way: the answer came first
            pass
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


class Calls:
    """Counts how often the routes asked for the library: installed as an override of the routes'
    ``get_context`` dependency, it shows whether any handler ran."""

    def __init__(self, app) -> None:
        from mmsearch.cli.web.routes import get_context

        self.count = 0
        self.app = app
        app.dependency_overrides[get_context] = self

    def __call__(self):
        self.count += 1
        return self.app.state.context


# -- fixtures ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def library(tmp_path_factory):
    with clean_env():
        engine, photos = build_library(tmp_path_factory.mktemp("web"), video=True)
    yield engine, photos
    engine.close()


@pytest.fixture(scope="module")
def client(library):
    engine, _ = library
    with TestClient(create_app(engine.context), base_url=BASE, raise_server_exceptions=False) as c:
        yield c


def names(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [h["name"] for h in response.json()["hits"]]


# -- queries -----------------------------------------------------------------------------------------
def test_text_search_ranks_the_right_image_first_with_its_thumbnail(client, library):
    engine, photos = library
    for colour in ("red", "green", "yellow"):
        r = client.get("/api/search", params={"q": f"a {colour} picture", "kind": "image", "k": 3})
        assert names(r)[0] == f"{colour}.png"
    hit = client.get("/api/search", params={"q": "green", "kind": "image"}).json()["hits"][0]
    assert hit["path"] == str(photos / "green.png") and hit["kind"] == "image" and hit["space"] == "clip"
    assert (hit["start"], hit["end"], hit["keyframe"]) == (None, None, None)
    assert hit["media_id"] == media_id(engine, photos / "green.png") and hit["segment_id"] > 0
    assert hit["media_url"] == f"/api/media/{hit['media_id']}/file"

    thumb = client.get(hit["thumb_url"], params={"size": 64})
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(thumb.content)).convert("RGB")
    assert max(image.size) <= 64
    r, g, b = image.getpixel((image.width // 2, image.height // 2))
    assert g > 150 and r < 80 and b < 80


def test_kind_filter_top_k_and_text_hits(client, library):
    _, photos = library
    r = client.get("/api/search", params={"q": "red", "kind": "text"})
    hits = r.json()["hits"]
    assert hits and {h["kind"] for h in hits} == {"text"}
    caption = hits[0]
    assert caption["name"] == "red.txt" and caption["text"] == "a red square" and caption["thumb_url"] is None
    assert caption["linked"] == str(photos / "red.png")
    assert caption["linked_thumb_url"] == f"/api/media/{caption['linked_media_id']}/thumb"
    assert len(client.get("/api/search", params={"q": "red", "k": 2}).json()["hits"]) == 2
    both = client.get("/api/search", params=[("q", "yellow"), ("kind", "image"), ("kind", "text")]).json()["hits"]
    assert {h["kind"] for h in both} == {"image", "text"}
    assert names(client.get("/api/search", params={"q": "blue", "path": "*deeper*"})) == ["blue_2.jpg"]


def test_bad_queries_are_4xx_with_a_message(client):
    for params in ({"q": ""}, {"q": "red", "kind": "smell"}, {"q": "red", "k": 0}, {"q": "red", "k": 10**6}, {}):
        r = client.get("/api/search", params=params)
        assert r.status_code == 422, (params, r.text)
    r = client.get("/api/search", params={"q": "   "})
    assert r.status_code == 400 and r.json()["detail"] == "empty query"


def test_search_by_uploaded_image(client):
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), COLOURS["purple"]).save(buf, format="PNG")
    r = client.post("/api/search/image", files={"file": ("query.png", buf.getvalue(), "image/png")},
                    params={"kind": "image", "k": 3})
    assert names(r)[0] in ("purple.png", "escape.png")  # escape.png links to a purple image
    assert r.json()["query"] == "image query.png"
    bad = client.post("/api/search/image", files={"file": ("x.png", b"not an image", "image/png")})
    assert bad.status_code == 422 and "image" in bad.json()["detail"]
    assert client.post("/api/search/image", files={"file": ("x.png", b"", "image/png")}).status_code == 400
    assert client.post("/api/search/image").status_code == 422


def test_upload_larger_than_the_limit_is_413_before_any_handler_runs(library):
    """The app counts the body itself: past the limit (upload limit plus the multipart slack) it answers 413,
    at once for a Content-Length over it, as soon as a chunked body passes it; the handler never runs."""
    from mmsearch.cli.web.middleware import BODY_SLACK

    engine, _ = library
    app = create_app(engine.context, max_upload=1000)
    calls = Calls(app)
    limit = 1000 + BODY_SLACK
    with live_server(app) as base:
        part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\n\r\n'
        status, body = raw_request(base, "/api/search/image", method="POST",
                                   headers={"Content-Type": "multipart/form-data; boundary=b"},
                                   body_chunks=[part] + [b"x" * 8192] * (limit // 8192 + 2))  # limit + 8-16 KiB
        assert status == 413 and b"larger than" in body and calls.count == 0
        status, _ = raw_request(base, "/api/search/image", method="POST",
                                headers={"Content-Type": "multipart/form-data; boundary=b",
                                         "Content-Length": str(limit + 1)})
        assert status == 413 and calls.count == 0  # refused on the header alone: no body was sent
    with TestClient(app, base_url=BASE) as client:
        big = client.post("/api/search/image", files={"file": ("big.png", b"x" * 1001, "image/png")})
        assert big.status_code == 413 and calls.count == 1  # under the body limit: the handler's own check


def test_audio_file_and_waveform_thumbnail(client, library):
    """An audio row (as the audio pipeline will write it): the file plays, the thumbnail is a waveform."""
    import numpy as np
    import soundfile

    engine, photos = library
    wav = photos / "tone.wav"  # under the library's root: only such files are served
    rate = 16000
    t = np.arange(rate * 3) / rate
    soundfile.write(wav, (0.5 * np.sin(2 * np.pi * 440 * t) * (t < 1.5)).astype(np.float32), rate)
    st = wav.stat()
    (mid,) = engine.catalog.write_media(
        [({"path": str(wav), "content_hash": "tone", "size": st.st_size, "mtime": st.st_mtime, "kind": "audio",
           "duration": 3.0}, [])], None).media_ids
    try:
        r = client.get(f"/api/media/{mid}/file", headers={"Range": "bytes=0-43"})
        assert r.status_code == 206 and r.headers["content-type"] == "audio/wav" and r.content[:4] == b"RIFF"
        wave = client.get(f"/api/media/{mid}/thumb", params={"t": 0, "d": 3, "size": 120})
        assert wave.status_code == 200 and wave.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(wave.content)).convert("RGB")
        assert image.width == 120
        column = lambda x: sum(1 for y in range(image.height) if image.getpixel((x, y))[2] > 200)
        assert column(20) > image.height // 2 and column(100) <= 2  # loud first half, silent second half
    finally:
        engine.catalog.remove_media([mid])
        wav.unlink()


def test_more_like_this_by_segment_and_by_media(client, library):
    engine, photos = library
    red = client.get("/api/search", params={"q": "red", "kind": "image"}).json()["hits"][0]
    assert red["name"] == "red.png"
    like = client.get("/api/similar", params={"segment_id": red["segment_id"], "kind": "text"}).json()
    assert like["hits"][0]["name"] == "red.txt"  # the caption describes it
    blue_id = media_id(engine, photos / "blue.png")
    hits = client.get("/api/similar", params={"media_id": blue_id, "kind": "image"}).json()["hits"]
    assert hits[0]["name"] == "blue_2.jpg"
    assert blue_id not in {h["media_id"] for h in hits}  # never the file itself
    assert client.get("/api/similar").status_code == 400
    assert client.get("/api/similar", params={"media_id": blue_id, "segment_id": 1}).status_code == 400
    assert client.get("/api/similar", params={"media_id": 10**9}).status_code == 404
    assert client.get("/api/similar", params={"segment_id": 10**9}).status_code == 404


def test_stats_errors_media_info(client, library):
    engine, photos = library
    stats = client.get("/api/stats").json()
    assert stats["by_kind"]["image"] == len(COLOURS) + 1 and stats["errors"] == 2  # not escape.png: a link out
    assert stats["spaces"][0]["model"] == "toy:colors-v1"
    errors = {Path(e["path"]).name: e["message"] for e in client.get("/api/errors").json()}
    assert sorted(errors) == ["bad.png", "escape.png"] and errors["bad.png"]
    assert "symbolic link" in errors["escape.png"] and "outside its indexed folder" in errors["escape.png"]
    info = client.get(f"/api/media/{media_id(engine, photos / 'red.png')}").json()
    assert info["kind"] == "image" and info["name"] == "red.png" and info["width"] == 64
    assert client.get("/api/media/123456789").status_code == 404


def test_media_file_supports_range_requests(client, library):
    engine, photos = library
    url = f"/api/media/{media_id(engine, photos / 'red.png')}/file"
    data = (photos / "red.png").read_bytes()
    full = client.get(url)
    assert full.status_code == 200 and full.content == data
    assert full.headers["content-type"] == "image/png" and full.headers["accept-ranges"] == "bytes"
    assert full.headers["x-content-type-options"] == "nosniff"
    part = client.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    tail = client.get(url, headers={"Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == data[-5:]
    assert client.get(url, headers={"Range": f"bytes={len(data) + 10}-"}).status_code == 416
    text = client.get(f"/api/media/{media_id(engine, photos / 'notes.md')}/file")
    assert text.headers["content-type"].startswith("text/plain") and text.text.startswith("A short note")


TRAVERSALS = [
    "/api/media/../../../../etc/passwd",
    "/api/media/..%2F..%2F..%2F..%2Fetc%2Fpasswd/file",
    "/api/media/%2e%2e%2f%2e%2e%2fetc%2fpasswd/file",
    "/api/media/%252e%252e%252fetc%252fpasswd/file",
    "/api/media/..%5c..%5cetc%5cpasswd/file",
    "/api/media/%2Fetc%2Fpasswd/file",
    "/api/media//etc/passwd/file",
    "/api/media/1%00/file",
    "/api/media/0/file",
    "/api/media/-1/file",
    "/api/media/1.5/file",
    "/api/media/1e3/file",
    "/api/media/99999999/file",
    "/api/media/99999999/thumb",
    "/api/media/99999999999999999999999999/file",
    "/static/../web/server.py",
    "/static/..%2Fserver.py",
    "/static/%2e%2e%2fserver.py",
    "/static/%2Fetc%2Fpasswd",
    "/static//etc/passwd",
    "/static/index.html/../../server.py",
    "/etc/passwd",
    "/api/../../etc/passwd",
]


@pytest.fixture(scope="module")
def live(library):
    engine, _ = library
    with live_server(create_app(engine.context)) as base:
        yield base


@pytest.mark.parametrize("url", TRAVERSALS)
def test_traversal_attempts_are_refused(live, url):
    """Each target goes out exactly as written (a raw request line: no client removes the dot segments)."""
    status, body = raw_request(live, url)
    assert status in (400, 403, 404, 405, 422), (url, status)
    assert b"root:" not in body and b"def create_app" not in body and b"from __future__" not in body


def test_raw_requests_reach_the_server_unnormalised(live, library):
    """The check above can fail: a raw dot-segment target is routed as written, not as a client would clean it."""
    engine, photos = library
    red = media_id(engine, photos / "red.png")
    assert raw_request(live, f"/api/media/{red}/file")[0] == 200
    assert raw_request(live, f"/static/../api/media/{red}/file")[0] == 404  # httpx would have sent /api/media/..


def test_absolute_path_in_query_is_ignored(client, library):
    """Nothing reads a path from the request: an extra ?path= changes nothing."""
    engine, photos = library
    url = f"/api/media/{media_id(engine, photos / 'red.png')}/file"
    r = client.get(url, params={"path": "/etc/passwd"})
    assert r.status_code == 200 and r.content == (photos / "red.png").read_bytes()


def test_symlink_out_of_the_folder_is_not_indexed_and_one_inside_is_served(client, library):
    engine, photos = library
    assert engine.catalog.media_by_path(str(photos / "escape.png")) is None  # decided at scan time
    alias = media_id(engine, photos / "nested" / "alias.md")  # links to a file of the same root
    r = client.get(f"/api/media/{alias}/file")
    assert r.status_code == 200 and r.content == (photos / "notes.md").read_bytes()


def test_files_gone_or_swapped_after_indexing_are_refused(tmp_path):
    with clean_env():
        engine, photos = build_library(tmp_path, video=False)
    with engine, TestClient(create_app(engine.context), base_url=BASE) as client:
        red, deep = media_id(engine, photos / "red.png"), media_id(engine, photos / "nested" / "deeper" / "blue_2.jpg")
        (photos / "red.png").unlink()
        assert client.get(f"/api/media/{red}/file").status_code == 404
        # A folder replaced by a link to somewhere else after indexing: the file there is not served.
        elsewhere = tmp_path / "elsewhere" / "deeper"
        elsewhere.mkdir(parents=True)
        (elsewhere / "blue_2.jpg").write_bytes(b"private data that was never indexed")
        (photos / "nested").rename(tmp_path / "moved")
        (photos / "nested").symlink_to(tmp_path / "elsewhere")
        r = client.get(f"/api/media/{deep}/file")
        assert r.status_code in (403, 409) and b"private" not in r.content


# -- access ----------------------------------------------------------------------------------------
def test_token_is_required_when_set(library):
    engine, photos = library
    red, green = media_id(engine, photos / "red.png"), media_id(engine, photos / "green.png")
    app = create_app(engine.context, token="s3cret")
    with TestClient(app, base_url="http://mybox.lan:8765") as client:
        assert client.get("/api/search", params={"q": "red"}).status_code == 401
        assert client.get("/api/search", params={"q": "red"}, headers={"Authorization": "Bearer nope"}).status_code == 401
        assert client.get("/api/search", params={"q": "red", "token": "s3cret"}).status_code == 401  # header only
        ok = client.get("/api/search", params={"q": "red"}, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and ok.json()["hits"]
        assert client.get("/api/stats").headers["www-authenticate"] == "Bearer"
        # Media URLs (img/video src cannot send headers) carry a media token for that file, never the token.
        assert client.get(f"/api/media/{red}/file").status_code == 401
        assert client.get(f"/api/media/{red}/file", params={"token": "s3cret"}).status_code == 401
        hit = next(h for h in ok.json()["hits"] if h["media_id"] == red)
        assert "s3cret" not in ok.text and "mt=" in hit["media_url"] and "mt=" in hit["thumb_url"]
        assert client.get(hit["media_url"]).status_code == 200 and client.get(hit["thumb_url"]).status_code == 200
        mt = hit["media_url"].split("mt=", 1)[1]
        assert client.get(f"/api/media/{green}/file", params={"mt": mt}).status_code == 401  # scoped to its file
        assert client.get(f"/api/media/{red}/file", params={"mt": mt[:-2] + "AA"}).status_code == 401
        app.state.media_tokens.clock = lambda: time.time() + app.state.media_tokens.seconds + 1
        assert client.get(hit["media_url"]).status_code == 401  # expired
        assert client.get(f"/api/media/{red}/thumb", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/").status_code == 200  # the page itself holds no data; it asks for the token


def test_without_token_only_loopback_host_names_are_answered(library):
    engine, _ = library
    app = create_app(engine.context)
    for host, ok in [("127.0.0.1:8765", True), ("localhost", True), ("[::1]:8765", True),
                     ("evil.example", False), ("127.0.0.1.evil.example", False), ("", False)]:
        r = TestClient(app).get("/api/stats", headers={"Host": host})
        assert (r.status_code == 200) == ok, (host, r.status_code)
    assert is_loopback("127.0.0.2") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("::")


def test_serve_tokens_required_off_loopback_generated_shown_once_never_echoed(library, monkeypatch):
    from mmsearch.cli import serve_cmd
    from mmsearch.cli.app import app

    engine, _ = library
    started = []
    def run_server(web_app, sock):  # the socket serve bound before loading models (a busy port fails first)
        started.append((web_app, *sock.getsockname()[:2]))
        sock.close()

    monkeypatch.setattr(serve_cmd, "_run_server", run_server)
    runner = CliRunner()
    lib = str(engine.library.root)

    # Off loopback, no token, output not a terminal: a generated token could not be read safely.
    r = runner.invoke(app, ["serve", "--library", lib, "--host", "0.0.0.0"])
    assert r.exit_code == 2 and "shown on a terminal only" in r.output and not started
    # On a terminal: a random token (>= 128 bits), shown once in the URL.
    monkeypatch.setattr(serve_cmd, "_on_terminal", lambda: True)
    r = runner.invoke(app, ["serve", "--library", lib, "--host", "0.0.0.0"])
    made = started[-1][0].state.token
    assert r.exit_code == 0 and len(made) >= 43 and r.output.count(made) == 1 and f"?token={made}" in r.output
    # Given by the environment or a file: never printed.
    secret = "from-the-env-0123456789"
    r = runner.invoke(app, ["serve", "--library", lib, "--host", "0.0.0.0"], env={"MMSEARCH_TOKEN": secret})
    assert r.exit_code == 0 and started[-1][0].state.token == secret and secret not in r.output
    assert "http://0.0.0.0:8765/ " in r.output
    token_file = engine.library.root.parent / "token.txt"
    token_file.write_text("from-a-file-0123456789\n")
    r = runner.invoke(app, ["serve", "--library", lib, "--host", "0.0.0.0", "--token-file", str(token_file)])
    assert r.exit_code == 0 and started[-1][0].state.token == "from-a-file-0123456789" and "from-a-file" not in r.output
    r = runner.invoke(app, ["serve", "--library", lib, "--host", "0.0.0.0", "--token", "typed-token-0123456789"])
    assert r.exit_code == 0 and "typed-token" not in r.output and "visible to every local account" in r.output
    # Too short: one line, nothing started.
    n = len(started)
    r = runner.invoke(app, ["serve", "--library", lib, "--host", "0.0.0.0", "--token", "a"])
    assert r.exit_code == 2 and "too short" in r.output and len(r.output.strip().splitlines()) == 1 and len(started) == n
    # Loopback: no token unless asked for (--token auto).
    r = runner.invoke(app, ["serve", "--library", lib, "--port", "9999"])
    assert r.exit_code == 0 and started[-1][1:] == ("127.0.0.1", 9999) and started[-1][0].state.token is None
    r = runner.invoke(app, ["serve", "--library", lib, "--token", "auto"])
    assert r.exit_code == 0 and len(started[-1][0].state.token) >= 43
    # --only: the folders served, instead of those the (maybe shared) catalog records.
    photos = str(library[1])
    r = runner.invoke(app, ["serve", "--library", lib, "--only", photos])
    assert r.exit_code == 0 and started[-1][0].state.roots == [photos]
    r = runner.invoke(app, ["serve", "--library", lib, "--only", photos + "-missing"])
    assert r.exit_code == 2 and "no such folder" in r.output

    r = runner.invoke(app, ["serve", "--library", str(Path(lib).parent / "missing")])
    assert r.exit_code == 2 and "no mmsearch library at" in r.output


def test_token_stays_out_of_the_access_log(library):
    """A real uvicorn access log, with the filter `serve` installs: neither token nor media token in it."""
    import logging

    import httpx

    from mmsearch.cli.serve_cmd import _RedactToken

    engine, photos = library
    token = "s3cret-token-0123456789"
    app = create_app(engine.context, token=token)
    red = media_id(engine, photos / "red.png")
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    access = logging.getLogger("uvicorn.access")
    redact = _RedactToken()
    try:
        with live_server(app, log_level="info", access_log=True) as base:
            access.addFilter(redact)  # after uvicorn configured its logging, as `serve` adds it
            access.addHandler(handler)
            hit = httpx.get(f"{base}/api/search", params={"q": "red"},
                            headers={"Authorization": f"Bearer {token}"}).json()["hits"][0]
            mt = hit["media_url"].split("mt=", 1)[1]
            assert httpx.get(base + hit["media_url"]).status_code == 200
            assert httpx.get(f"{base}/?token={token}").status_code == 200
            assert httpx.get(f"{base}/api/media/{red}/file?x=1&token={token}&y=2").status_code == 401
    finally:
        access.removeFilter(redact)
        access.removeHandler(handler)
    log = "\n".join(records)
    assert len(records) >= 4 and "/api/search" in log
    assert token not in log and mt not in log and "token=***&y=2" in log and "mt=***" in log


# -- page and schema ---------------------------------------------------------------------------------
def test_page_and_static_files_are_local_only(client):
    page = client.get("/")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/static/app.js"' in page.text
    for name, kind in (("app.js", "javascript"), ("style.css", "css")):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and kind in r.headers["content-type"]
        assert "http://" not in r.text and "https://" not in r.text and "//cdn" not in r.text, name
    assert "http://" not in page.text and "https://" not in page.text
    assert client.get("/static/server.py").status_code == 404
    assert client.get("/docs").status_code == 404  # Swagger UI would load from a CDN


def test_openapi_schema_documents_the_api(client):
    schema = client.get("/api/openapi.json").json()
    paths = schema["paths"]
    for path in ("/api/search", "/api/search/image", "/api/similar", "/api/stats", "/api/errors",
                 "/api/media/{media_id}", "/api/media/{media_id}/file", "/api/media/{media_id}/thumb"):
        assert path in paths, path
    assert "HitOut" in schema["components"]["schemas"]
    assert {"HTTPBearer", "APIKeyQuery"} <= set(schema["components"]["securitySchemes"])
    assert "/" not in paths and "/static/{name}" not in paths


# -- video (once Engine.index indexes videos) ------------------------------------------------------
def test_video_hits_keyframe_thumbnails_and_range(client, library):
    _engine, _photos = library
    hits = client.get("/api/search", params={"q": "blue", "kind": "video"}).json()["hits"]
    top = hits[0]
    assert top["name"] == "clip.webm" and top["kind"] == "video"
    assert abs(top["start"] - 4.0) < 0.3 and abs(top["end"] - 6.0) < 0.3 and 4.0 <= top["keyframe"] <= 6.0
    thumb = client.get(top["thumb_url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(thumb.content)).convert("RGB")
    r, g, b = image.getpixel((4, 4))  # a corner: the moving square is elsewhere
    assert b > 150 and r < 90 and g < 110, (r, g, b)
    video = client.get(top["media_url"], headers={"Range": "bytes=0-1023"})
    assert video.status_code == 206 and video.headers["content-type"] == "video/webm" and len(video.content) == 1024
    # More like this on a scene: other moments, never the scene itself.
    like = client.get("/api/similar", params={"segment_id": top["segment_id"]}).json()["hits"]
    assert like[0]["name"] in ("blue.png", "blue_2.jpg")
    assert not any(h["media_id"] == top["media_id"] and h["start"] is not None and h["start"] < top["end"]
                   and h["end"] > top["start"] for h in like)


# -- fuzz ------------------------------------------------------------------------------------------
def test_fuzz_the_openapi_schema_finds_no_server_error(client, library):
    """Hypothesis draws operations from the app's own OpenAPI schema and values for their parameters
    (valid for the schema, or junk); no request may produce a 5xx."""
    engine, _photos = library
    schema = client.get("/api/openapi.json").json()
    operations = [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()]
    ids = [m.id for m in engine.catalog.all_media()]

    junk = st.one_of(st.text(max_size=40), st.sampled_from(["", "-1", "0", "1e309", "nan", "inf", "..", "../..",
                                                             "%2e%2e%2f", "/etc/passwd", "\x00", "🙂", "9" * 30]))

    def value(s: dict) -> st.SearchStrategy:
        if "anyOf" in s:
            return st.one_of(*[value(x) for x in s["anyOf"] if x.get("type") != "null"])
        kind = s.get("type")
        if "enum" in s:
            return st.sampled_from(s["enum"])
        if kind == "integer":
            return st.one_of(st.integers(s.get("minimum", -(2**70)), s.get("maximum", 2**70)), st.sampled_from(ids),
                             st.integers())
        if kind == "number":
            return st.floats(allow_nan=True, allow_infinity=True)
        if kind == "array":
            return st.lists(value(s.get("items", {})), max_size=3)
        return st.text(max_size=60)

    def params(op: dict) -> st.SearchStrategy:
        fields = {}
        for p in op.get("parameters", []):
            if p["in"] not in ("query", "path"):
                continue
            strategy = st.one_of(value(p["schema"]), junk)
            fields[(p["in"], p["name"])] = strategy if p.get("required") else st.one_of(st.none(), strategy)
        return st.fixed_dictionaries(fields)

    image = io.BytesIO()
    Image.new("RGB", (8, 8), COLOURS["green"]).save(image, format="PNG")
    bodies = st.one_of(st.binary(max_size=200), st.just(image.getvalue()))
    header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=20)
    headers = st.fixed_dictionaries({}, optional={
        "Range": st.one_of(header_text, st.from_regex(r"bytes=[0-9]{0,6}-[0-9]{0,6}(,[0-9]{0,3}-[0-9]{0,3})?", fullmatch=True)),
        "Authorization": st.one_of(header_text, header_text.map(lambda t: "Bearer " + t)),
    }).map(lambda h: {k: v.encode("latin-1") for k, v in h.items()})
    strategies = {(path, method): params(op) for path, method, op in operations}
    seen: set[int] = set()

    @settings(max_examples=120, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def check(data):
        path, method, _op = data.draw(st.sampled_from(operations))
        values = data.draw(strategies[(path, method)])
        url, query = path, []
        for (where, name), v in values.items():
            if v is None:
                continue
            if where == "path":
                url = url.replace("{" + name + "}", quote(str(v), safe="") or "x")
            else:
                query += [(name, str(x)) for x in (v if isinstance(v, list) else [v])]
        kwargs = {"params": query, "headers": data.draw(headers)}
        if method == "post":
            kwargs["files"] = {"file": ("f.png", data.draw(bodies), "image/png")}
        r = client.request(method.upper(), url, **kwargs)
        seen.add(r.status_code)
        assert r.status_code < 500, (method, url, query, r.status_code, r.text[:300])
        if r.status_code == 200 and r.headers["content-type"].startswith("application/json"):
            json.loads(r.text)

    check()
    assert 200 in seen and 422 in seen  # the pass reached both real answers and validation


def test_the_page_asks_for_the_documented_cut_off_and_hits_say_what_found_them(client, library):
    import re

    from mmsearch.query.ranking import PAGE_MIN_SCORE

    js = client.get("/static/app.js").text
    assert float(re.search(r"const PAGE_MIN_SCORE = ([0-9.]+);", js).group(1)) == PAGE_MIN_SCORE
    assert "PAGE_MIN_SCORE);" in js and "h.score >= cutoff" in js  # text searches hide weaker hits behind a button
    everything = client.get("/api/search", params={"q": "red"}).json()["hits"]
    strong = client.get("/api/search", params={"q": "red", "min_score": PAGE_MIN_SCORE}).json()["hits"]
    assert everything and all(h["signals"] for h in everything)
    assert [h["path"] for h in strong] == [h["path"] for h in everything if h["score"] >= PAGE_MIN_SCORE]
    assert len(strong) < len(everything)
