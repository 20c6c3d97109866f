"""Nothing leaked (issue 25, docs/security.md): what ``mmsearch serve`` returns comes only from files the
user chose to share, and only to its own page.

- Links are decided at scan time (mmsearch/roots.py, indexers/links.py), and the server applies the same
  rule to every answer: one test checks hit text, snippets, thumbnails, waveforms and ``/file`` against it,
  over real symbolic links and catalog rows that name files outside the recorded roots (a shared catalog's
  writer can add such rows).
- No cross-site use: foreign ``Origin`` / ``Sec-Fetch-Site`` is refused before any handler runs (the
  browser half of this is in tests/test_web_e2e.py).
- ``is_loopback`` resolves names.
"""
from __future__ import annotations

import io
import json
import socket

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from test_web_api import BASE, Calls, clean_env

from mmsearch import Engine
from mmsearch.catalog import Meta
from mmsearch.cli.web import create_app, is_loopback
from mmsearch.roots import outside_roots

from conftest import COLOURS, solid

SECRET = "hunter2"  # in every file that must never be shown


@pytest.fixture(scope="module")
def leaky(tmp_path_factory):
    """A library over ``photos/`` holding links out of it, plus catalog rows naming files outside its roots:
    ``other/`` was indexed and then dropped from the recorded roots (as a writer of a shared catalog could),
    and a row for ``private/diary.txt`` written straight into the catalog."""
    root = tmp_path_factory.mktemp("leaky")
    photos, private, other = root / "photos", root / "private", root / "other"
    for name in ("red", "green", "purple"):
        solid(photos / f"{name}.png", name)
    (photos / "notes.txt").write_text("a note about the garden and a password reset")
    (photos / "red.png.txt").write_text("a red square caption")
    solid(private / "purple.png", "purple")
    (private / "creds.txt").write_text(f"bank password {SECRET} zebra")
    (private / "diary.txt").write_text(f"diary password {SECRET} zebra")
    solid(other / "yellow.png", "yellow")
    (other / "other.txt").write_text(f"other password {SECRET} zebra")
    (photos / "creds.txt").symlink_to(private / "creds.txt")  # a linked credentials file
    (photos / "secret.png").symlink_to(private / "purple.png")
    (photos / "alias.txt").symlink_to(photos / "notes.txt")  # inside its root: fine
    (photos / "elsewhere").symlink_to(private)  # a folder link out of the root
    with clean_env():
        engine = Engine(root / "lib", model="toy")
        engine.index([photos, other])
    with engine.catalog._writing() as s:  # the recorded roots now say: photos only
        s.merge(Meta(key="roots", value=json.dumps([str(photos)])))
    st = (private / "diary.txt").stat()
    engine.catalog.write_media([({"path": str(private / "diary.txt"), "content_hash": "diary", "size": st.st_size,
                                  "mtime": st.st_mtime, "kind": "text"}, [])], None)
    yield engine, root
    engine.close()


def test_links_out_of_their_root_are_not_indexed_and_say_why(leaky):
    engine, root = leaky
    photos = root / "photos"
    for name in ("creds.txt", "secret.png"):
        assert engine.catalog.media_by_path(str(photos / name)) is None, name
    assert engine.catalog.media_by_path(str(photos / "alias.txt")) is not None
    errors = {e["path"]: e["message"] for e in TestClient(create_app(engine.context), base_url=BASE)
              .get("/api/errors").json()}
    for name in ("creds.txt", "secret.png", "elsewhere"):
        assert "outside its indexed folder" in errors[str(photos / name)], name
        assert str(root / "private") not in errors[str(photos / name)]  # the target is not named
    assert "symbolic link to a folder" in errors[str(photos / "elsewhere")]


def test_nothing_returned_comes_from_a_file_that_file_would_refuse(leaky):
    """Every hit of every kind of answer passes the one rule, and its file, thumbnail and caption
    thumbnail are served; every catalog row the rule refuses is refused by every route and appears in no
    answer; the secret text is in no response."""
    engine, _ = leaky
    app = create_app(engine.context)
    roots = engine.catalog.roots()
    rows = engine.catalog.all_media()
    refused = {m.id for m in rows if outside_roots(m.path, roots) is not None}
    assert len(refused) >= 3  # other/yellow.png, other/other.txt, the diary row
    purple = io.BytesIO()
    Image.new("RGB", (32, 32), COLOURS["purple"]).save(purple, format="PNG")
    with TestClient(app, base_url=BASE) as client:
        answers = [client.get("/api/search", params={"q": q, "k": 50}) for q in (
            "password zebra", "bank password", "diary", "yellow", "purple", "a red square")]
        answers += [client.post("/api/search/image", files={"file": ("q.png", purple.getvalue(), "image/png")},
                                params={"k": 50})]
        some = next(m.id for m in rows if m.id not in refused)
        answers += [client.get("/api/similar", params={"media_id": some, "k": 50})]
        answers += [client.get("/api/similar", params={"segment_id": seg, "k": 50})
                    for seg in _segments(engine, some)]
        hits = []
        for answer in answers:
            assert answer.status_code == 200, answer.text
            assert SECRET not in answer.text
            hits += answer.json()["hits"]
        assert len({h["media_id"] for h in hits}) >= 4  # not vacuous: the shared files are found
        for hit in hits:
            assert outside_roots(hit["path"], roots) is None and hit["media_id"] not in refused, hit["path"]
            for url in (hit["media_url"], hit["thumb_url"], hit["linked_thumb_url"]):
                if url:
                    r = client.get(url)
                    assert r.status_code == 200 and SECRET.encode() not in r.content, (url, r.status_code)
        for mid in refused:
            for url in (f"/api/media/{mid}/file", f"/api/media/{mid}/thumb", f"/api/media/{mid}",
                        f"/api/similar?media_id={mid}", f"/api/search?q=x&like={mid}"):
                r = client.get(url)
                assert r.status_code == 403 and SECRET not in r.text, (url, r.status_code)
            for seg in _segments(engine, mid):
                assert client.get("/api/similar", params={"segment_id": seg}).status_code == 403


def _segments(engine, mid: int) -> list[int]:
    return [s.id for s in engine.catalog.segments_of_media(mid)][:2]


def test_a_catalog_row_outside_the_roots_is_never_served(leaky, tmp_path):
    """Whatever the catalog says: a row written straight into it for a file outside the roots is refused."""
    engine, _ = leaky
    outside = tmp_path / "id_ed25519"
    outside.write_text(f"PRIVATE KEY {SECRET}")
    st = outside.stat()
    (mid,) = engine.catalog.write_media([({"path": str(outside), "content_hash": "key", "size": st.st_size,
                                           "mtime": st.st_mtime, "kind": "text"}, [])], None).media_ids
    try:
        with TestClient(create_app(engine.context), base_url=BASE) as client:
            r = client.get(f"/api/media/{mid}/file")
            assert r.status_code == 403 and "not under a folder this library indexes" in r.json()["detail"]
            assert SECRET not in r.text
    finally:
        engine.catalog.remove_media([mid])


def test_links_between_roots_only_when_the_setting_allows(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    solid(b / "blue.png", "blue")
    a.mkdir()
    (a / "blue-link.png").symlink_to(b / "blue.png")
    for allowed in (False, True):
        with clean_env():
            engine = Engine(tmp_path / f"lib-{allowed}", model="toy", links_between_roots=allowed)
        with engine:
            engine.index([b])
            engine.index([a])
            link = engine.catalog.media_by_path(str(a / "blue-link.png"))
            assert (link is not None) == allowed
            if allowed:
                with TestClient(create_app(engine.context), base_url=BASE) as client:
                    assert client.get(f"/api/media/{link.id}/file").status_code == 200


# -- no cross-site use -----------------------------------------------------------------------------
CROSS = [
    # (method, path, headers, refused)
    ("GET", "/api/stats", {"Origin": "https://evil.example"}, True),
    ("GET", "/api/stats", {"Origin": "null"}, True),
    ("GET", "/api/stats", {"Origin": "http://127.0.0.1:9"}, True),  # another port is another origin
    ("GET", "/api/stats", {"Sec-Fetch-Site": "cross-site"}, True),
    ("GET", "/api/duplicates", {"Sec-Fetch-Site": "same-site"}, True),
    ("POST", "/api/search/image", {"Sec-Fetch-Site": "same-site"}, True),
    ("POST", "/api/search/image", {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, True),
    ("GET", "/api/media/1/file", {"Sec-Fetch-Site": "cross-site"}, True),
    ("GET", "/api/media/1/thumb", {"Origin": "https://evil.example"}, True),
    ("GET", "/", {"Origin": "https://evil.example"}, True),
    ("GET", "/", {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, False),  # a link to the page
    ("GET", "/api/stats", {"Sec-Fetch-Site": "same-site"}, True),  # another port of this machine
    ("GET", "/static/app.js", {"Sec-Fetch-Site": "same-site"}, False),
    ("GET", "/api/stats", {"Origin": BASE, "Sec-Fetch-Site": "same-origin"}, False),
    ("GET", "/api/stats", {"Sec-Fetch-Site": "none"}, False),  # typed in the address bar
    ("GET", "/api/stats", {}, False),  # curl
]


@pytest.mark.parametrize("method, path, headers, refused", CROSS)
def test_cross_site_requests_are_refused_before_any_handler_runs(leaky, method, path, headers, refused):
    engine, _ = leaky
    app = create_app(engine.context)
    calls = Calls(app)
    files = {"file": ("q.png", b"\x89PNG" + b"x" * 100, "image/png")} if method == "POST" else None
    with TestClient(app, base_url=BASE) as client:
        r = client.request(method, path, headers=headers, files=files)
    assert (r.status_code == 403) == refused, (r.status_code, r.text)
    if refused:
        assert calls.count == 0 and "refused" in r.json()["detail"]
    elif path.startswith("/api"):
        assert calls.count == 1


def test_is_loopback_resolves_names_and_requires_every_address(monkeypatch):
    assert is_loopback("127.0.0.1") and is_loopback("127.0.0.2") and is_loopback("::1") and is_loopback("[::1]")
    assert is_loopback("localhost")  # resolved (/etc/hosts): 127.0.0.1 and ::1
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("192.168.1.5")
    assert not is_loopback("no-such-name.invalid")  # does not resolve: not loopback
    # A name is judged by what it resolves to, every address of it: one outside address is enough to refuse.
    answers = {"mixed.localhost": ["127.0.0.1", "192.168.1.5"], "only.localhost": ["127.0.0.1", "::1"]}

    def resolve(host, *args, **kwargs):
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "unknown")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0)) for a in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    assert not is_loopback("mixed.localhost") and is_loopback("only.localhost") and not is_loopback("evil.localhost")


def test_a_shared_catalog_writer_cannot_make_serve_read_other_files(tmp_path, db_url):
    """Two machines' libraries on one catalog (SQLite here, Debian's PostgreSQL with the postgres mark):
    a row the other writer adds for a file outside the recorded roots is refused; and with ``serve --only``
    the server keeps to its own folders even when that writer records a new root."""
    photos, theirs = tmp_path / "photos", tmp_path / "theirs"
    solid(photos / "red.png", "red")
    (theirs / "notes.txt").parent.mkdir()
    (theirs / "notes.txt").write_text(f"their password {SECRET}")
    with clean_env():
        mine = Engine(tmp_path / "lib", model="toy", database_url=db_url)
    with mine:
        mine.index([photos])
        outside = tmp_path / "id_ed25519"
        outside.write_text(f"PRIVATE KEY {SECRET}")
        st = outside.stat()
        with clean_env():
            other = Engine(tmp_path / "lib2", model="toy", database_url=mine.settings.database)
        with other:  # the other writer: a row straight into the shared catalog
            (key,) = other.catalog.write_media([({"path": str(outside), "content_hash": "key", "size": st.st_size,
                                                  "mtime": st.st_mtime, "kind": "text"}, [])], None).media_ids
        with TestClient(create_app(mine.context), base_url=BASE) as client:
            assert client.get(f"/api/media/{key}/file").status_code == 403
        pinned = create_app(mine.context, roots=[str(photos)])
        with clean_env():
            other = Engine(tmp_path / "lib2", model="toy", database_url=mine.settings.database)
        with other:
            other.index([theirs])  # records a new root in the shared catalog
        notes = mine.catalog.media_by_path(str(theirs / "notes.txt"))
        assert notes is not None and str(theirs) in mine.catalog.roots()
        with TestClient(pinned, base_url=BASE) as client:
            assert client.get(f"/api/media/{notes.id}/file").status_code == 403
            assert SECRET not in client.get("/api/search", params={"q": "password", "k": 50}).text
            red = mine.catalog.media_by_path(str(photos / "red.png"))
            assert client.get(f"/api/media/{red.id}/file").status_code == 200


def test_the_rule_itself(tmp_path):
    """outside_roots: real path under the real path of the root holding the file; a root may itself be a link."""
    disk, photos, private = tmp_path / "disk", tmp_path / "photos", tmp_path / "private"
    (disk / "sub").mkdir(parents=True)
    private.mkdir()
    photos.symlink_to(disk)  # ~/Photos -> /mnt/disk: the root is a link, its files are real under its target
    (disk / "a.txt").write_text("a")
    (private / "key").write_text("k")
    (disk / "sub" / "in.txt").symlink_to(disk / "a.txt")
    (disk / "out.txt").symlink_to(private / "key")
    (disk / "up.txt").symlink_to("../private/key")  # relative, climbing out
    roots = [str(photos)]
    assert outside_roots(str(photos / "a.txt"), roots) is None
    assert outside_roots(str(photos / "sub" / "in.txt"), roots) is None
    assert "outside its indexed folder" in outside_roots(str(photos / "out.txt"), roots)
    assert "outside its indexed folder" in outside_roots(str(photos / "up.txt"), roots)
    assert outside_roots(str(photos / "out.txt"), [*roots, str(private)], between_roots=True) is None
    assert "not under a folder" in outside_roots(str(private / "key"), roots)
    assert "not under a folder" in outside_roots(str(tmp_path / "photos-old" / "a.txt"), roots)  # prefix, not inside
    assert "no indexed folders" in outside_roots(str(photos / "a.txt"), [])


def test_a_link_indexed_before_it_pointed_out_is_not_kept_as_unreadable(tmp_path):
    """A file link indexed while it pointed inside its root, then turned to a place outside, is refused by the
    next run like any link out: its file is not held back as if its folder were unreadable (which would keep
    its text and vectors for ever), but gone from the root, so ``--prune`` forgets it."""
    photos, private = tmp_path / "photos", tmp_path / "private"
    photos.mkdir()
    private.mkdir()
    (photos / "notes.txt").write_text("a note about the garden")
    (private / "creds.txt").write_text(f"bank password {SECRET} zebra")
    link = photos / "alias.txt"
    link.symlink_to(photos / "notes.txt")
    with clean_env():
        with Engine(tmp_path / "lib", model="toy") as engine:
            engine.index([photos])
            assert engine.catalog.media_by_path(str(link)) is not None
            link.unlink()
            link.symlink_to(private / "creds.txt")
            engine.index([photos], prune=True)
            assert engine.catalog.media_by_path(str(link)) is None
            assert engine.catalog.media_by_path(str(photos / "notes.txt")) is not None
            assert any(e["path"] == str(link) and "outside" in e["message"] for e in engine.errors())


def test_duplicates_name_no_file_that_file_would_refuse(tmp_path):
    """``/api/duplicates`` lists paths: a copy outside the served folders (``--only``) is not among them, and a
    group left with one file is not shown; without the limit the same group is there (not vacuous)."""
    photos, other = tmp_path / "photos", tmp_path / "other"
    solid(photos / "red.png", "red")
    solid(photos / "red copy.png", "red")
    solid(photos / "green.png", "green")
    solid(other / "green.png", "green")
    with clean_env():
        with Engine(tmp_path / "lib", model="toy") as engine:
            engine.index([photos, other])

            def listed(roots):
                with TestClient(create_app(engine.context, roots=roots), base_url=BASE) as client:
                    answer = client.get("/api/duplicates", params={"kind": "image"})
                assert answer.status_code == 200, answer.text
                return [sorted(item["path"] for item in [g["keep"], *g["copies"]]) for g in answer.json()["groups"]]

            everything = listed(None)
            assert sorted([str(other / "green.png"), str(photos / "green.png")]) in everything
            assert sorted([str(photos / "red copy.png"), str(photos / "red.png")]) in everything
            assert listed([str(photos)]) == [sorted([str(photos / "red copy.png"), str(photos / "red.png")])]


def test_a_file_named_through_a_linked_folder_is_judged_by_the_rule(tmp_path):
    """``index PHOTOS/elsewhere/creds.txt``, ``elsewhere`` a link out of the root ``PHOTOS``: the file itself is
    no link, but its real path is outside the root, so it is not indexed (the walk never enters such a folder;
    a file named directly must not slip past the rule either)."""
    photos, private = tmp_path / "photos", tmp_path / "private"
    photos.mkdir()
    private.mkdir()
    (photos / "notes.txt").write_text("a note about the garden")
    (private / "creds.txt").write_text(f"bank password {SECRET} zebra")
    (photos / "elsewhere").symlink_to(private)
    named = photos / "elsewhere" / "creds.txt"
    with clean_env():
        with Engine(tmp_path / "lib", model="toy") as engine:
            engine.index([photos])
            engine.index([named])
            assert engine.catalog.media_by_path(str(named)) is None
            assert engine.catalog.media_by_path(str(photos / "notes.txt")) is not None
            assert any(e["path"] == str(named) and "outside its indexed folder" in e["message"]
                       for e in engine.errors())


def test_a_file_gone_from_disk_is_listed_only_under_a_served_root(leaky, tmp_path):
    """An offline file (issue 24) stays in answers, marked offline, only when its path lies under a served
    root; a gone file anywhere else (a row a shared catalog's writer added) is left out, and neither opens."""
    from mmsearch.cli.web.files import listable

    engine, root = leaky
    rows = []
    for path in (root / "photos" / "unplugged" / "gone.txt", tmp_path / "elsewhere" / "gone.txt"):
        (mid,) = engine.catalog.write_media([({"path": str(path), "content_hash": path.parent.name, "size": 1,
                                               "mtime": 1.0, "kind": "text"}, [])], None).media_ids
        rows.append(engine.catalog.media_by_id(mid))
    try:
        roots = engine.catalog.roots()
        assert [listable(engine.context, row, roots) for row in rows] == [True, False]
        with TestClient(create_app(engine.context), base_url=BASE) as client:
            assert [client.get(f"/api/media/{row.id}/file").status_code for row in rows] == [404, 404]
    finally:
        engine.catalog.remove_media([row.id for row in rows])
