"""The web page in a real headless Chromium (Playwright's Python package driving the system browser).

A uvicorn server runs the app in a thread over a toy-encoder library; the tests type queries, read
the grid, use the keyboard, open hits and play a video hit from its scene's start, and a page from
another local origin tries to use the server and is refused. Nothing is
downloaded: the browser is Debian's ``chromium`` (``apt-get install chromium``), never
``playwright install``.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from test_web_api import Calls, build_library, clean_env, live_server, make_test_video, media_id

CHROMIUM = os.environ.get("MMSEARCH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required",
                 "--mute-audio"]

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright (the test extra) is not installed")
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason="needs the system Chromium (apt-get install chromium)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on a free loopback port, served by uvicorn in a thread; yields (base_url, engine, folder)."""
    from mmsearch.cli.web import create_app

    with clean_env():
        engine, photos = build_library(tmp_path_factory.mktemp("e2e"), video=True)
    with live_server(create_app(engine.context)) as base:
        yield base, engine, photos
    engine.close()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@contextlib.contextmanager
def watched_page(browser, base: str, forbidden: tuple[str, ...] = ()):
    """A page of the server at ``base`` that fails the test on a request to any other origin, an uncaught
    exception or any console error (a CSP violation, a failed load), except a 403 on a ``forbidden`` URL."""
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    outside: list[str] = []
    context.route("**/*", lambda route: (route.continue_() if route.request.url.startswith(base)
                                         else (outside.append(route.request.url), route.abort())))
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))

    def console(msg) -> None:
        url = msg.location.get("url", "")
        if msg.type == "error" and not ("403" in msg.text and any(f in url for f in forbidden)):
            errors.append(f"console: {msg.text} ({url})")

    pg.on("console", console)
    yield pg
    context.close()
    assert not outside, f"the page tried to reach {outside}"
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture
def page(browser, server):
    base, engine, photos = server
    # escape.png links out of its folder: it is not indexed, so the page never asks for it (no tolerated 403).
    assert engine.catalog.media_by_path(str(photos / "escape.png")) is None
    with watched_page(browser, base) as pg:
        yield pg


def search(pg, text: str, kinds: tuple[str, ...] = ()) -> None:
    for box in pg.locator('#kinds input[name="kind"]').all():
        box.set_checked(box.get_attribute("value") in kinds)
    pg.fill("#q", text)
    pg.press("#q", "Enter")
    pg.wait_for_function("() => !document.querySelector('#results').hasAttribute('aria-busy') && "
                         "/\\d+ results? for|No good match/.test(document.querySelector('#status').textContent)")
    if not pg.locator(".hit").count() and pg.locator("button.weaker").count():
        pg.click("button.weaker")  # this tiny library's matches sit under the page's cut-off: show them


def test_typing_a_query_shows_the_right_thumbnail_first_and_keyboard_moves(page, server):
    base, engine, photos = server
    page.goto(base + "/")
    # the search box gets the focus once the page is up (waited for: a loaded CI machine is slow to get there)
    # a function, not an expression: Playwright eval()s an expression in the page, which the page's CSP forbids
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'q'", timeout=10_000)
    search(page, "green", ("image",))
    first = page.locator(".hit").first
    assert first.get_attribute("data-path") == str(photos / "green.png")
    img = first.locator("img")
    assert img.get_attribute("src") == f"/api/media/{media_id(engine, photos / 'green.png')}/thumb"
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    # The thumbnail the browser decoded is green.
    rgb = page.evaluate("""img => { const c = document.createElement('canvas'); c.width = c.height = 4;
        const g = c.getContext('2d'); g.drawImage(img, 0, 0, 4, 4); return Array.from(g.getImageData(2, 2, 1, 1).data); }""",
                        img.element_handle())
    assert rgb[1] > 150 and rgb[0] < 80 and rgb[2] < 80, rgb
    assert float(first.locator(".score").inner_text()) > 0 and first.locator(".time").count() == 0
    assert "#q=green" in page.url

    # Only the good match shows; the weaker ones wait behind a button.
    assert page.locator(".hit").count() == 1
    page.click("button.weaker")
    page.wait_for_function("() => document.querySelectorAll('.hit').length >= 3", timeout=10_000)
    # Keyboard: ArrowDown from the box to the first hit, ArrowRight to the next, Tab to the one after.
    page.press("#q", "ArrowDown")
    assert page.evaluate("document.activeElement.dataset.index") == "0"
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.index") == "1"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.index") == "2"
    page.keyboard.press("ArrowLeft")
    second = page.evaluate("document.activeElement.dataset.path")
    # Enter opens the hit in the viewer; Escape closes it and gives the focus back to the hit.
    page.keyboard.press("Enter")
    viewer_img = page.locator("#viewer[open] #viewer-body img")
    viewer_img.wait_for()
    assert viewer_img.get_attribute("src").endswith(f"/api/media/{media_id(engine, second)}/file")
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.querySelector('#viewer').open")
    assert page.evaluate("document.activeElement.dataset.index") == "1"


def test_kind_filter_text_snippets_and_more_like_this(page, server):
    base, _engine, photos = server
    page.goto(base + "/")
    search(page, "red", ("text",))
    kinds = page.locator(".hit").evaluate_all("cards => cards.map(c => c.dataset.kind)")
    assert kinds and set(kinds) == {"text"}
    first = page.locator(".hit").first
    assert first.locator(".snippet").inner_text() == "a red square"

    # "More like this" on the red image: hits like it, never the image itself.
    search(page, "red", ("image",))
    red = page.locator(".hit").first
    assert red.get_attribute("data-path") == str(photos / "red.png")
    red.hover()
    red.locator(".more").click()
    page.wait_for_function("() => document.querySelector('#status').textContent.includes('more like red.png')")
    paths = page.locator(".hit").evaluate_all("cards => cards.map(c => c.dataset.path)")
    assert paths and str(photos / "red.png") not in paths
    # The same from the keyboard: M on a focused hit.
    page.locator(".hit").first.focus()
    label = page.locator(".hit").first.get_attribute("data-path").rsplit("/", 1)[1]
    page.keyboard.press("m")
    page.wait_for_function("name => document.querySelector('#status').textContent.includes('more like ' + name)", arg=label)


def test_stats_footer_and_token_prompt(browser, server):
    """With a token, the page asks for it, then works with it; media URLs carry a media token, never it."""
    from mmsearch.cli.web import create_app

    _, engine, _ = server
    token = "s3cret-token-0123456789"
    with live_server(create_app(engine.context, token=token)) as base:
        context = browser.new_context()
        pg = context.new_page()
        pg.goto(base + "/")
        pg.locator("#token-form:not([hidden])").wait_for()
        pg.fill("#token", token)
        pg.press("#token", "Enter")
        pg.wait_for_function("() => /\\d+ files/.test(document.querySelector('#stats').textContent)")
        search(pg, "blue", ("image",))
        src = pg.locator(".hit img").first.get_attribute("src")
        assert "mt=" in src and token not in src and "token=" not in src
        pg.wait_for_function("() => { const i = document.querySelector('.hit img'); return i.complete && i.naturalWidth > 0; }")
        # Opened with ?token= (the URL `mmsearch serve` prints), the token leaves the address bar.
        pg2 = context.new_page()
        pg2.goto(base + "/?token=" + token)
        pg2.wait_for_function("() => /\\d+ files/.test(document.querySelector('#stats').textContent)")
        assert "token" not in pg2.url
        context.close()


EVIL_PAGE = """<!doctype html><html><body>
<form id="f" method="POST" action="{target}/api/search/image" enctype="multipart/form-data">
<input name="file" value="not a file"></form>
<script>
window.fetched = Promise.all([
  fetch("{target}/api/search?q=red", {{mode: "no-cors"}}).then(() => "sent", (e) => "error " + e),
  fetch("{target}/api/duplicates", {{mode: "no-cors"}}).then(() => "sent", (e) => "error " + e),
  fetch("{target}/api/search/image", {{method: "POST", mode: "no-cors", body: new FormData(document.getElementById("f"))}})
    .then(() => "sent", (e) => "error " + e),
]);
</script></body></html>"""


@pytest.fixture
def evil_origin():
    """A second tiny HTTP server on another loopback port: another origin, as another local program would be.
    Yields a function that serves a page there and returns its URL."""
    import http.server

    pages: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()

    def serve(path: str, html: str) -> str:
        pages[path] = html.encode()
        return f"http://127.0.0.1:{httpd.server_address[1]}{path}"

    yield serve
    httpd.shutdown()
    thread.join(10)


def test_a_page_from_another_origin_is_refused_while_the_real_page_works(browser, server, evil_origin):
    """The other page's fetches and form POST reach the server (Chromium sends them) and get 403; no handler
    runs (the routes' context dependency is counted). The server's own page then searches as usual."""
    from mmsearch.cli.web import create_app

    _, engine, _ = server
    app = create_app(engine.context)
    calls = Calls(app)
    with live_server(app) as base:
        context = browser.new_context()
        pg = context.new_page()
        answers: list[tuple[str, int]] = []
        pg.on("response", lambda r: answers.append((r.url, r.status)) if r.url.startswith(base) else None)
        pg.goto(evil_origin("/evil.html", EVIL_PAGE.format(target=base)))
        assert pg.evaluate("window.fetched") == ["sent", "sent", "sent"]  # no-cors: sent, answer unreadable
        with pg.expect_navigation():
            pg.evaluate("document.getElementById('f').submit()")
        assert "refused" in pg.content()  # the form's POST landed on the server's 403 answer
        assert sorted(answers) == sorted([(f"{base}/api/search?q=red", 403), (f"{base}/api/duplicates", 403),
                                          (f"{base}/api/search/image", 403), (f"{base}/api/search/image", 403)])
        assert calls.count == 0
        # The real page, same browser: works.
        real = context.new_page()
        real.goto(base + "/")
        search(real, "red", ("image",))
        assert real.locator(".hit").count() >= 1 and calls.count >= 1
        context.close()


def test_clicking_a_video_hit_plays_it_from_the_scene_start(page, server):
    base, _engine, photos = server
    ranges: list[int] = []
    page.on("response", lambda r: ranges.append(r.status) if "/file" in r.url else None)
    page.goto(base + "/")
    search(page, "blue", ("video",))
    first = page.locator(".hit").first
    assert first.get_attribute("data-kind") == "video"
    assert first.get_attribute("data-path") == str(photos / "clip.webm")
    start = float(first.get_attribute("data-start"))
    assert abs(start - 4.0) < 0.3  # the blue scene: 4-6 s
    assert first.locator(".time").inner_text() == "00:00:04-00:00:06"
    page.wait_for_function("() => { const i = document.querySelector('.hit img'); return i.complete && i.naturalWidth > 0; }")

    first.click()
    video = page.locator("#viewer[open] video")
    video.wait_for()
    page.wait_for_function("v => v.dataset.seeked === '1'", arg=video.element_handle(), timeout=20_000)
    state = video.evaluate("v => ({seekedAt: Number(v.dataset.seekedAt), t: v.currentTime, "
                           "error: v.error && v.error.code, ready: v.readyState})")
    assert state["error"] is None and state["ready"] >= 1
    assert abs(state["seekedAt"] - start) <= 0.3, state  # the player's currentTime once it got there
    assert start - 0.3 <= state["t"] <= 6.1, state  # and it plays on from there (or waits there)
    assert 206 in ranges  # the browser fetched the video with Range requests and got partial content


# -- what was read, said and shown: OCR boxes, transcripts, subtitles (a library with real bundled models) ----
SAMPLES = Path(__file__).resolve().parents[3] / "sample_data"
# Read at import: the tests' own environment drops every MMSEARCH_ variable.
SCREENSHOT = os.path.abspath(os.environ["MMSEARCH_SCREENSHOT"]) if os.environ.get("MMSEARCH_SCREENSHOT") else None


@contextlib.contextmanager
def serving(web_app):
    """``web_app`` on a free loopback port, served by uvicorn in a thread; yields its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    uv = uvicorn.Server(uvicorn.Config(web_app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not uv.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        uv.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def said_server(tmp_path_factory):
    """A library with a slide (OCR), a recording (speech) and a subtitled video, indexed with the bundled
    OCR, speech and sentence models (toy pictures); yields (base_url, folder)."""
    from test_ocr import slide

    from mmsearch import Engine
    from mmsearch.cli.web import create_app

    root = tmp_path_factory.mktemp("said")
    folder = root / "media"
    folder.mkdir()
    slide([("Quarterly revenue grew", 64), ("Margins improved in Europe", 48)], size=(800, 450)).save(
        folder / "slide.png")
    shutil.copy(SAMPLES / "audio" / "meeting_budget.ogg", folder / "meeting_budget.ogg")
    make_test_video(folder / "clip.webm")
    (folder / "clip.srt").write_text("1\n00:00:04,000 --> 00:00:06,000\nThe blue whale surfaces\nnear the boat\n")
    with clean_env():
        engine = Engine(root / "lib", model="toy")
        engine.index([folder])
    with serving(create_app(engine.context)) as base:
        yield base, folder
    engine.close()


@pytest.fixture
def said_page(browser, said_server):
    with watched_page(browser, said_server[0]) as pg:
        yield pg


def test_ocr_boxes_render_over_the_thumbnail_without_console_errors(said_page, said_server):
    """The boxes of the text read in a picture are drawn over its thumbnail, under the page's own CSP; the
    page fixture fails the test on any console error (a style the CSP blocks is one)."""
    base, folder = said_server
    said_page.goto(base + "/")
    search(said_page, "quarterly revenue", ("image",))
    card = said_page.locator(f'.hit[data-path="{folder / "slide.png"}"]')
    assert card.locator(".said.ocr-text").inner_text().lower().startswith("quarterly revenue")
    said_page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=card.locator("img").element_handle())
    geometry = card.evaluate("""c => { const r = (e) => e.getBoundingClientRect();
        const svg = c.querySelector('svg.ocr-boxes'), img = c.querySelector('.thumb img'), box = c.querySelector('.ocr-box');
        const s = getComputedStyle(svg), b = getComputedStyle(box);
        return {svg: [r(svg).width, r(svg).height, r(svg).left, r(svg).top], img: [r(img).width, r(img).height, r(img).left, r(img).top],
                position: s.position, stroke: b.stroke, fill: b.fill, boxes: c.querySelectorAll('.ocr-box').length,
                line: [r(box).width, r(box).height, r(box).left, r(box).top]}; }""")
    # The overlay covers the thumbnail exactly (the stylesheet's rule applied, not a blocked inline style) ...
    assert geometry["position"] == "absolute" and geometry["svg"] == geometry["img"], geometry
    assert geometry["boxes"] >= 1 and geometry["stroke"] == "rgb(255, 212, 0)" and geometry["fill"] == "none"
    # ... and the first line's outline sits in the picture's upper left part, where it was drawn.
    width, height, left, top = geometry["img"]
    bw, bh, bl, bt = geometry["line"]
    assert 0 < bw < width and 0 < bh < height / 3 and left <= bl < left + width / 2 and top <= bt < top + height / 2


def test_speech_and_subtitle_hits_show_what_was_said(said_page, said_server):
    base, folder = said_server
    said_page.goto(base + "/")
    search(said_page, "budget", ("audio",))
    card = said_page.locator(f'.hit[data-path="{folder / "meeting_budget.ogg"}"]').first
    assert "budget" in card.locator(".said").inner_text().lower()
    search(said_page, "whale surfaces", ("video",))
    card = said_page.locator(f'.hit[data-path="{folder / "clip.webm"}"]').first
    said = card.locator(".said")
    assert "blue whale surfaces" in said.inner_text().lower()
    # Long text stays inside its card (clamped), never spilling over the next one.
    inside = card.evaluate("c => { const s = c.querySelector('.said').getBoundingClientRect(), r = c.getBoundingClientRect();"
                           " return s.bottom <= r.bottom && s.right <= r.right; }")
    assert inside
    # The viewer shows the whole text under the player.
    card.click()
    assert "blue whale surfaces" in said_page.locator("#viewer[open] .fulltext").inner_text().lower()


def test_a_query_in_the_address_runs_from_q_and_from_the_fragment(said_page, said_server):
    base, folder = said_server
    for address in ("/?q=budget&kind=audio", "/#q=budget&kind=audio"):
        said_page.goto(base + address)
        said_page.wait_for_function("() => /\\d+ results? for|No good match/.test(document.querySelector('#status').textContent)")
        assert said_page.input_value("#q") == "budget"
        assert said_page.locator('#kinds input[value="audio"]').is_checked()
        if not said_page.locator(".hit").count():
            said_page.click("button.weaker")
        assert said_page.locator(".hit").first.get_attribute("data-path") == str(folder / "meeting_budget.ogg")
        assert "#q=budget" in said_page.url and "?q=" not in said_page.url


def test_readme_screenshot(said_page, said_server, tmp_path):
    """docs/screenshot.png is this page: written there only when MMSEARCH_SCREENSHOT names the file (so a test
    run never rewrites a tracked file); otherwise the same shot goes to a temporary file."""
    target = SCREENSHOT or str(tmp_path / "screenshot.png")
    base, _folder = said_server
    said_page.set_viewport_size({"width": 1100, "height": 640})
    said_page.goto(base + "/")
    search(said_page, "quarterly revenue budget whale")
    if said_page.locator("button.weaker").count():
        said_page.click("button.weaker")
    said_page.wait_for_function("() => [...document.querySelectorAll('.hit img')].every(i => i.complete)")
    said_page.screenshot(path=target)
    assert Path(target).stat().st_size > 10_000


def test_pending_work_shows_as_a_notice_with_the_cli_s_words(browser, tmp_path):
    """Pictures indexed without their model: the page's notice says what the API's `pending` and the command
    line say."""
    from mmsearch import Engine
    from mmsearch.cli.web import create_app

    folder = tmp_path / "media"
    folder.mkdir()
    from conftest import solid

    solid(folder / "red.png", "red")
    (folder / "note.txt").write_text("a red square on the table")
    with clean_env():
        engine = Engine(tmp_path / "lib", model="ViT-B-32:/no/such/checkpoint.pt", audio_model="off",
                        speech_model="off")
        engine.index([folder])
        lines = [p.line for p in engine.pending()]
    assert lines and "wait for the clip model" in lines[0]
    try:
        with serving(create_app(engine.context)) as base, watched_page(browser, base) as pg:
            pg.goto(base + "/?q=red")
            pg.locator("#pending:not([hidden])").wait_for()
            assert pg.locator("#pending p").all_inner_texts() == lines
    finally:
        engine.close()
