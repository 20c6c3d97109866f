"""The web page in a real headless Chromium (Playwright's Python package driving the system browser).

A uvicorn server runs the app in a thread over a toy-encoder library; the tests type queries, read
the grid, use the keyboard, open hits and play a video hit from its scene's start, and a page from
another local origin tries to use the server and is refused. Nothing is
downloaded: the browser is Debian's ``chromium`` (``apt-get install chromium``), never
``playwright install``.
"""
from __future__ import annotations

import os
import shutil
import threading

import pytest
from test_web_api import Calls, build_library, clean_env, live_server, media_id

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


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    # Nothing may leave the machine: any request to another origin fails the test.
    outside: list[str] = []
    context.route("**/*", lambda route: (route.continue_() if route.request.url.startswith(server[0])
                                         else (outside.append(route.request.url), route.abort())))
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not outside, f"the page tried to reach {outside}"
    assert not errors, f"JavaScript errors: {errors}"


def search(pg, text: str, kinds: tuple[str, ...] = ()) -> None:
    for box in pg.locator('#kinds input[name="kind"]').all():
        box.set_checked(box.get_attribute("value") in kinds)
    pg.fill("#q", text)
    pg.press("#q", "Enter")
    pg.wait_for_function("() => !document.querySelector('#results').hasAttribute('aria-busy') && "
                         "/results|No good match/.test(document.querySelector('#status').textContent)")
    if not pg.locator(".hit").count() and pg.locator("button.weaker").count():
        pg.click("button.weaker")  # this tiny library's matches sit under the page's cut-off: show them


def test_typing_a_query_shows_the_right_thumbnail_first_and_keyboard_moves(page, server):
    base, engine, photos = server
    page.goto(base + "/")
    # the search box gets the focus once the page is up (waited for: a loaded CI machine is slow to get there)
    page.wait_for_function("document.activeElement && document.activeElement.id === 'q'", timeout=10_000)
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
    page.wait_for_function("document.querySelectorAll('.hit').length >= 3", timeout=10_000)
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
        def do_GET(self):  # noqa: N802 (http.server's naming)
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
