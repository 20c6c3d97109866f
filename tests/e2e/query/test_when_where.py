"""When and where: EXIF and container metadata read while indexing, the schema-3 migration and its backfill,
and the --after/--before/--camera/--near filters (in SQL, growing the pool for rare matches) and --sort date."""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from fractions import Fraction
from pathlib import Path

import av
import pytest
from PIL import Image
from typer.testing import CliRunner

from mmsearch import Engine, MmsearchError
from mmsearch.catalog import SCHEMA_VERSION
from mmsearch.media.metadata import FACT_COLUMNS, from_exif, from_tags, iso6709
from mmsearch.query.when_where import Near, WhenWhere, period

from conftest import COLOURS

UTC = dt.UTC
EIFFEL = (48.8584, 2.2945)
LOUVRE = (48.8606, 2.3376)  # 3.2 km from the Eiffel tower
LONDON = (51.5007, -0.1246)
RIO = (-22.9519, -43.2105)


@pytest.fixture
def local_tz(monkeypatch):
    """Set this process's local time zone (POSIX TZ), restored after the test."""
    def use(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


def _dms(value: float) -> tuple[Fraction, Fraction, Fraction]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = (value - degrees - minutes / 60) * 3600
    return Fraction(degrees), Fraction(minutes), Fraction(seconds).limit_denominator(10000)


def photo(path: Path, colour: str = "red", *, when: str | None = None, offset: str | None = None,
          make: str | None = None, model: str | None = None, gps: tuple[float, float] | None = None,
          orientation: int | None = None, raw: dict | None = None) -> Path:
    """A solid-colour JPEG with the EXIF asked for (``raw``: {ifd: {tag: value}} written as is)."""
    exif = Image.Exif()
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    if orientation:
        exif[0x0112] = orientation
    sub = exif.get_ifd(0x8769)
    if when:
        sub[0x9003] = when
    if offset:
        sub[0x9011] = offset
    if gps:
        g = exif.get_ifd(0x8825)
        g[1], g[2] = ("N" if gps[0] >= 0 else "S"), _dms(gps[0])
        g[3], g[4] = ("E" if gps[1] >= 0 else "W"), _dms(gps[1])
    for ifd, tags in (raw or {}).items():
        target = exif if ifd == 0 else exif.get_ifd(ifd)
        for tag, value in tags.items():
            target[tag] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), COLOURS[colour]).save(path, exif=exif)
    return path


def retag(src: Path, dst: Path, tags: dict[str, str]) -> Path:
    """A copy of a media file (streams copied, not re-encoded) with these container tags."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        for key, value in tags.items():
            out.metadata[key] = value
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    src.unlink()
    return dst


def media_rows(engine: Engine) -> dict[str, dict]:
    """Every media row's when-and-where columns, by file name."""
    return {Path(m.path).name: {c: getattr(m, c) for c in FACT_COLUMNS} for m in engine.catalog.all_media()}


def utc(*args: int, minutes: int = 0) -> float:
    return dt.datetime(*args, tzinfo=dt.timezone(dt.timedelta(minutes=minutes))).timestamp()


def names(hits) -> list[str]:
    return [Path(h.path).name for h in hits]


@pytest.fixture
def engine(tmp_path):
    with Engine(tmp_path / "lib", model="toy") as e:
        yield e


# -- reading -------------------------------------------------------------------------------------------
def test_exif_time_camera_place_and_orientation_are_read_while_indexing(engine, tmp_path):
    root = tmp_path / "photos"
    photo(root / "paris.jpg", when="2024:05:01 14:30:00", offset="+02:00", make="Canon", model="Canon EOS R5",
          gps=EIFFEL, orientation=6)
    photo(root / "rio.jpg", when="2023:12:24 20:00:00", offset="-03:00", make="Apple", model="iPhone 15 Pro",
          gps=RIO)
    photo(root / "plain.jpg")
    report = engine.index([root])
    assert report.failed == 0
    rows = media_rows(engine)
    paris, rio, plain = rows["paris.jpg"], rows["rio.jpg"], rows["plain.jpg"]
    assert paris["taken_at"] == utc(2024, 5, 1, 12, 30) and paris["time_offset"] == 120
    assert (paris["time_source"], paris["camera_make"], paris["camera_model"], paris["orientation"]) == (
        "exif", "Canon", "Canon EOS R5", 6)
    assert paris["lat"] == pytest.approx(EIFFEL[0], abs=1e-5) and paris["lon"] == pytest.approx(EIFFEL[1], abs=1e-5)
    assert rio["taken_at"] == utc(2023, 12, 24, 23, 0) and rio["time_offset"] == -180
    assert rio["lat"] == pytest.approx(RIO[0], abs=1e-5) and rio["lon"] == pytest.approx(RIO[1], abs=1e-5)  # S, W
    assert plain["time_source"] == "mtime" and plain["taken_at"] is None and plain["lat"] is None
    assert engine.catalog.job_counts()["metadata"] == {"done": 3, "pending": 0, "failed": 0}
    # a hit carries the facts; its JSON says the time in ISO 8601 at the photo's own offset
    hit = engine.search("a red picture", k=3, kinds=["image"], camera="canon")[0]
    assert hit.extra["media_time"] == utc(2024, 5, 1, 12, 30) and hit.extra["camera"] == "Canon EOS R5"
    out = hit.to_dict()
    assert out["media_time"] == "2024-05-01T14:30:00+02:00" and out["time_source"] == "exif"
    assert (out["lat"], out["lon"]) == (paris["lat"], paris["lon"])
    json.dumps(out)
    plain_hit = engine.search("a red picture", k=3, path="plain")[0]
    mtime = (root / "plain.jpg").stat().st_mtime
    assert plain_hit.extra["media_time"] == pytest.approx(mtime)
    assert plain_hit.to_dict()["media_time"].endswith("Z") and "camera" not in plain_hit.extra


def test_an_exif_time_without_offset_is_local_time_of_the_indexing_machine(engine, tmp_path, local_tz):
    local_tz("JST-9")  # UTC+9, no tz database needed
    root = tmp_path / "photos"
    photo(root / "morning.jpg", when="2024:05:01 08:00:00")  # 23:00 UTC the day before
    engine.index([root])
    row = media_rows(engine)["morning.jpg"]
    assert row["taken_at"] == utc(2024, 4, 30, 23, 0) and row["time_offset"] is None
    # the bounds are local time too: the photo is of May 1 here
    assert names(engine.search("red", k=5, after="2024-05-01", before="2024-05-01")) == ["morning.jpg"]
    assert engine.search("red", k=5, before="2024-04-30T23:59") == []
    assert names(engine.search("red", k=5, before="2024-05-01T00:00Z")) == ["morning.jpg"]  # an explicit zone


def test_garbage_exif_is_ignored_value_by_value_never_a_failed_file(engine, tmp_path):
    root = tmp_path / "photos"
    photo(root / "junk.jpg", make="Nikon\x00\x00\x01  ", orientation=99,
          raw={0x8769: {0x9003: "0000:00:00 00:00:00", 0x9011: "+99:99", 0x9004: "garbage"},
               0x8825: {1: "X", 2: (Fraction(1, 1), Fraction(2, 1)), 3: "E", 4: (1.5, 70.0, 2.0)}})
    photo(root / "halfgood.jpg", when="2022:02:02 02:02:02", offset="bogus",
          raw={0x8825: {1: "N", 2: (0.0, 0.0, 0.0), 3: "E", 4: (0.0, 0.0, 0.0)}})  # no fix: 0,0
    # an EXIF segment of random bytes after the JPEG's start marker
    good = photo(root / "tmp.jpg").read_bytes()
    noise = b"Exif\x00\x00MM\x00\x2a" + bytes(range(256)) * 3
    (root / "broken.jpg").write_bytes(good[:2] + b"\xff\xe1" + (len(noise) + 2).to_bytes(2, "big") + noise + good[2:])
    (root / "tmp.jpg").unlink()
    report = engine.index([root])
    assert report.failed == 0 and report.added == 3
    rows = media_rows(engine)
    junk, half, broken = rows["junk.jpg"], rows["halfgood.jpg"], rows["broken.jpg"]
    assert junk["time_source"] == "mtime" and junk["lat"] is None and junk["orientation"] is None
    assert junk["camera_make"] == "Nikon"
    # a bad offset leaves a good time read as local time; a 0,0 position is no position
    assert half["time_source"] == "exif" and half["time_offset"] is None
    assert half["taken_at"] == dt.datetime(2022, 2, 2, 2, 2, 2).timestamp() and half["lat"] is None
    assert broken["time_source"] == "mtime"
    assert engine.catalog.job_counts()["metadata"]["done"] == 3


def test_pure_readers_reject_what_is_out_of_range():
    assert from_exif(None).time_source == "mtime"
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "1700:01:01 00:00:00"  # before photography
    assert from_exif(exif).taken_at is None
    assert iso6709("+48.8584+002.2945+035.000/") == EIFFEL
    assert iso6709("+4851.504+00217.67/") == pytest.approx((48.8584, 2.2945), abs=1e-4)  # DDMM.MM form
    assert iso6709("+95.0+002.0/") is None and iso6709("nonsense") is None
    assert from_tags({"creation_time": "1970-01-01T00:00:00.000000Z"}).taken_at is None  # a zeroed clock
    apple = from_tags({"com.apple.quicktime.creationdate": "2024-05-01T14:30:00+0200",
                       "creation_time": "2024-05-01T12:30:05Z", "com.apple.quicktime.make": "Apple",
                       "com.apple.quicktime.model": "iPhone 15"})
    assert (apple.taken_at, apple.time_offset, apple.camera_make) == (utc(2024, 5, 1, 12, 30), 120, "Apple")


def test_video_and_recording_take_their_container_creation_time_and_place(engine, tmp_path):
    from media_factory import make_audio_only, make_video

    root = tmp_path / "media"
    root.mkdir()
    make_video(root / "raw.mp4", [("red", 1.0)])
    retag(root / "raw.mp4", root / "clip.mp4", {"creation_time": "2023-07-14T09:15:00.000000Z",
                                                "location": "+48.8584+002.2945/"})
    make_audio_only(root / "raw.m4a", duration=1.0)
    retag(root / "raw.m4a", root / "memo.m4a", {"creation_time": "2021-03-03T10:00:00.000000Z"})
    report = engine.index([root])
    assert report.failed == 0
    rows = media_rows(engine)
    clip, memo = rows["clip.mp4"], rows["memo.m4a"]
    assert (clip["taken_at"], clip["time_source"]) == (utc(2023, 7, 14, 9, 15), "container")
    assert (clip["lat"], clip["lon"]) == EIFFEL
    assert (memo["taken_at"], memo["time_source"]) == (utc(2021, 3, 3, 10, 0), "container")
    hits = engine.search("a red picture", k=3, kinds=["video"], after="2023-07", before="2023-07", near="48.858,2.294")
    assert names(hits) == ["clip.mp4"] and hits[0].start is not None
    assert engine.search("a red picture", k=3, kinds=["video"], before="2023-06") == []


# -- filters -------------------------------------------------------------------------------------------
@pytest.fixture
def month_photos(tmp_path, local_tz):
    local_tz("UTC0")
    root = tmp_path / "photos"
    photo(root / "apr30.jpg", when="2024:04:30 23:30:00", offset="+00:00", make="Canon", model="Canon EOS R5",
          gps=EIFFEL)
    photo(root / "may01.jpg", when="2024:05:01 00:10:00", offset="+00:00", make="Apple", model="iPhone 15 Pro",
          gps=LOUVRE)
    photo(root / "may31.jpg", when="2024:05:31 23:50:00", offset="+00:00", make="Canon", model="Canon EOS 90D",
          gps=LONDON)
    photo(root / "jun01.jpg", when="2024:06:01 00:05:00", offset="+00:00", make="FUJIFILM", model="X100V",
          gps=RIO)
    return root


def test_after_and_before_name_whole_periods(engine, month_photos):
    engine.index([month_photos])

    def found(**when) -> set[str]:
        return set(names(engine.search("a red picture", k=10, **when)))

    assert found(after="2024-05-01", before="2024-05-31") == {"may01.jpg", "may31.jpg"}  # May 31 included
    assert found(after="2024-05", before="2024-05") == {"may01.jpg", "may31.jpg"}
    assert found(before="2024-05-31T23:49") == {"apr30.jpg", "may01.jpg"}  # up to the end of that minute
    assert found(before="2024-05-31T23:50") == {"apr30.jpg", "may01.jpg", "may31.jpg"}
    assert found(after="2024-05-31T23:50:00") == {"may31.jpg", "jun01.jpg"}
    assert found(after="2024-06-01T02:00+02:00") == {"jun01.jpg"}  # 00:00 UTC
    assert found(after=dt.datetime(2024, 6, 1, tzinfo=UTC)) == {"jun01.jpg"}
    assert found(after="2025") == set()


def test_camera_is_a_case_insensitive_substring_of_make_and_model(engine, month_photos):
    engine.index([month_photos])

    def found(camera: str) -> set[str]:
        return set(names(engine.search("a red picture", k=10, camera=camera)))

    assert found("canon") == {"apr30.jpg", "may31.jpg"}
    assert found("CANON EOS 90") == {"may31.jpg"}
    assert found("apple iphone") == {"may01.jpg"}
    assert found("fujifilm x100") == {"jun01.jpg"}
    assert found("leica") == set()


def test_near_is_a_great_circle_radius_default_one_km(engine, month_photos):
    engine.index([month_photos])

    def found(near) -> set[str]:
        return set(names(engine.search("a red picture", k=10, near=near)))

    assert found("48.8584,2.2945") == {"apr30.jpg"}  # 1 km: the Louvre is 3.2 km away
    assert found("48.8584,2.2945,4") == {"apr30.jpg", "may01.jpg"}
    assert found((48.8584, 2.2945, 400)) == {"apr30.jpg", "may01.jpg", "may31.jpg"}  # London: 340 km
    assert found("-22.95,-43.21,2") == {"jun01.jpg"}  # south and west
    assert found("0,0,100") == set()


def test_filters_combine_and_run_in_sql_before_grouping(engine, month_photos):
    engine.index([month_photos])
    hits = engine.search("a red picture", k=10, after="2024-05-01", camera="canon", near="51.5,-0.12,5")
    assert names(hits) == ["may31.jpg"]
    ids = [s.id for m in engine.catalog.all_media() for s in engine.catalog.segments_of_media(m.id)]
    where = WhenWhere.parse(after="2024-05-01", camera="canon")
    assert {Path(r.path).name for r in engine.catalog.segments(ids, where).values()} == {"may31.jpg"}


def test_a_rare_match_is_found_by_growing_the_candidate_pool(engine, tmp_path):
    root = tmp_path / "photos"
    for i in range(80):
        photo(root / f"red_{i:02d}.jpg", "red")
    photo(root / "leica.jpg", "blue", make="Leica Camera AG", model="LEICA Q2", when="2020:01:01 10:00:00",
          offset="+01:00")
    engine.index([root])
    # the only match ranks last for this query: the first pool (33 of 81 for k=1) holds no match
    assert names(engine.search("a red picture", k=1, camera="leica")) == ["leica.jpg"]
    assert names(engine.search("a red picture", k=5, before="2021")) == ["leica.jpg"]
    assert names(engine.similar(root / "red_00.jpg", k=3, camera="leica")) == ["leica.jpg"]
    assert len(engine.search("a red picture", k=5, after="2021")) == 5


def test_sort_date_lists_matching_moments_chronologically(engine, tmp_path):
    root = tmp_path / "photos"
    for name, when in (("c.jpg", "2022:03:03 03:00:00"), ("a.jpg", "2020:01:01 01:00:00"),
                       ("d.jpg", "2023:04:04 04:00:00"), ("b.jpg", "2021:02:02 02:00:00")):
        photo(root / name, "red", when=when, offset="+00:00")
    photo(root / "blue.jpg", "blue", when="2019:01:01 00:00:00", offset="+00:00")
    engine.index([root])
    hits = engine.search("a red picture", k=4, sort="date")
    assert names(hits) == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]  # the 4 best, oldest first: not the blue one
    times = [h.extra["media_time"] for h in hits]
    assert times == sorted(times)
    assert names(engine.search("a red picture", k=4, sort="date", after="2021")) == ["b.jpg", "c.jpg", "d.jpg"]


def test_a_caption_takes_the_time_and_place_of_the_photo_it_describes(engine, tmp_path):
    root = tmp_path / "photos"
    photo(root / "beach.jpg", "yellow", when="2019:08:01 12:00:00", offset="+00:00", gps=RIO)
    (root / "beach.txt").write_text("a yellow sunny beach")
    engine.index([root])
    hits = engine.search("yellow beach", k=5, kinds=["text"], before="2019-12-31", near="-22.95,-43.21")
    assert names(hits) == ["beach.txt"] and hits[0].extra["media_time"] == utc(2019, 8, 1, 12, 0)


def test_unreadable_filters_are_one_clear_error(engine):
    for bad in ({"after": "yesterday"}, {"before": "2024-13-01"}, {"near": "48.8"}, {"near": "91,0"},
                {"near": "48,2,0"}, {"after": "2024-06", "before": "2024-05"}):
        with pytest.raises(MmsearchError) as err:
            engine.search("red", **bad)
        assert "\n" not in str(err.value)


def test_near_boxes_cross_the_antimeridian_and_the_poles():
    near = Near(0.0, 179.95, 20)
    lo, hi, lons = near.box()
    assert lons is not None and len(lons) == 2 and near.contains(0.0, -179.95)
    assert not near.contains(0.0, 179.5)
    assert Near(89.99, 0.0, 50).box()[2] is None  # a circle round the pole spans every longitude


def test_period_ends_where_the_named_period_ends(local_tz):
    local_tz("UTC0")
    assert period("2024") == (utc(2024, 1, 1), utc(2025, 1, 1))
    assert period("2024-12") == (utc(2024, 12, 1), utc(2025, 1, 1))
    assert period("2024-02-29") == (utc(2024, 2, 29), utc(2024, 3, 1))
    assert period("2024-05-01T14:30") == (utc(2024, 5, 1, 14, 30), utc(2024, 5, 1, 14, 31))
    assert period("2024-05-01 14:30:05") == (utc(2024, 5, 1, 14, 30, 5), utc(2024, 5, 1, 14, 30, 6))


# -- migration and backfill ----------------------------------------------------------------------------
def _as_schema_2(db_path: Path) -> None:
    """Turn a schema-3 catalog into what schema 2 wrote: no when-and-where columns, no metadata job."""
    with sqlite3.connect(db_path) as db:
        for column in FACT_COLUMNS:
            db.execute(f"ALTER TABLE media DROP COLUMN {column}")
        db.execute("DELETE FROM job WHERE name = 'metadata'")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")


def test_a_schema_2_library_migrates_and_index_backfills_the_metadata(tmp_path):
    root = tmp_path / "photos"
    photo(root / "paris.jpg", when="2024:05:01 14:30:00", offset="+02:00", make="Canon", model="Canon EOS R5",
          gps=EIFFEL)
    photo(root / "plain.jpg", "blue")
    (root / "note.txt").write_text("a red note")
    lib = tmp_path / "lib"
    with Engine(lib, model="toy") as e:
        e.index([root])
    _as_schema_2(lib / "catalog.sqlite3")
    with Engine(lib, model="toy") as e:
        assert e.catalog.schema_version() == SCHEMA_VERSION >= 3
        rows = media_rows(e)
        assert rows and all(r["time_source"] == "mtime" and r["taken_at"] is None for r in rows.values())
        assert e.catalog.job_counts()["metadata"] == {"done": 0, "pending": 2, "failed": 0}  # the two images
        # until the backfill the media time is the mtime: the 2024 photo is "now"
        assert e.search("a red picture", k=5, before="2024-12-31") == []
        report = e.index()  # no paths: the library's own roots, and the pending work
        assert report.backfilled == 2 and report.added == 0
        rows = media_rows(e)
        assert rows["paris.jpg"]["taken_at"] == utc(2024, 5, 1, 12, 30) and rows["paris.jpg"]["camera_make"] == "Canon"
        assert rows["plain.jpg"]["time_source"] == "mtime" and rows["note.txt"]["time_source"] == "mtime"
        assert e.catalog.job_counts()["metadata"] == {"done": 2, "pending": 0, "failed": 0}
        assert names(e.search("a red picture", k=5, before="2024-12-31")) == ["paris.jpg"]
        assert e.check().ok


def test_a_schema_1_library_migrates_straight_to_3_and_backfills(v1_library):
    lib, media = v1_library
    with Engine(lib, model="toy") as e:
        assert e.catalog.schema_version() == SCHEMA_VERSION
        assert e.catalog.job_counts()["metadata"] == {"done": 0, "pending": 2, "failed": 0}
        assert e.search("red", k=1, kinds=["image"])[0].extra["time_source"] == "mtime"
        e.index([media])
        assert e.catalog.job_counts()["metadata"] == {"done": 2, "pending": 0, "failed": 0}
        assert e.check().ok


# -- CLI and HTTP --------------------------------------------------------------------------------------
def test_cli_and_http_take_the_filters_and_return_the_facts(tmp_path, month_photos):
    from fastapi.testclient import TestClient

    from mmsearch.cli.app import app
    from mmsearch.cli.web import create_app

    lib = str(tmp_path / "lib")
    runner = CliRunner()
    assert runner.invoke(app, ["index", str(month_photos), "--library", lib, "--model", "toy"]).exit_code == 0
    r = runner.invoke(app, ["search", "a red picture", "--library", lib, "--json", "--after", "2024-05-01",
                            "--before", "2024-05-31", "--camera", "canon", "--sort", "date"])
    assert r.exit_code == 0, r.output
    hits = json.loads(r.stdout)
    assert [Path(h["path"]).name for h in hits] == ["may31.jpg"]
    assert hits[0]["media_time"] == "2024-05-31T23:50:00+00:00" and hits[0]["camera"] == "Canon EOS 90D"
    r = runner.invoke(app, ["similar", str(month_photos / "apr30.jpg"), "--library", lib, "--json",
                            "--near", "48.8584,2.2945,4"])
    assert [Path(h["path"]).name for h in json.loads(r.stdout)] == ["may01.jpg"]
    r = runner.invoke(app, ["search", "red", "--library", lib, "--near", "north pole"])
    assert r.exit_code == 2 and "--near takes LAT,LON" in r.output

    with Engine(lib) as engine, TestClient(create_app(engine.context), base_url="http://127.0.0.1") as client:
        answer = client.get("/api/search", params={"q": "a red picture", "after": "2024-05-01",
                                                   "before": "2024-05-31", "sort": "date"})
        assert answer.status_code == 200, answer.text
        found = answer.json()["hits"]
        assert [h["name"] for h in found] == ["may01.jpg", "may31.jpg"]
        assert found[0]["media_time"] == "2024-05-01T00:10:00+00:00" and found[0]["time_source"] == "exif"
        assert found[0]["lat"] == pytest.approx(LOUVRE[0], abs=1e-5) and found[0]["camera"] == "Apple iPhone 15 Pro"
        media_id = found[0]["media_id"]
        like = client.get("/api/similar", params={"media_id": media_id, "camera": "fujifilm"})
        assert [h["name"] for h in like.json()["hits"]] == ["jun01.jpg"]
        bad = client.get("/api/search", params={"q": "red", "after": "soon"})
        assert bad.status_code == 400 and "not a date" in bad.json()["detail"]


def test_filters_and_the_migration_on_both_backends(tmp_path, db_url, month_photos):
    """The SQL of the filters (concatenation, CASE, bounding box) and the schema-3 step on SQLite and PostgreSQL."""
    lib = tmp_path / "lib"
    with Engine(lib, model="toy", database_url=db_url) as e:
        e.index([month_photos])
        assert set(names(e.search("a red picture", k=10, camera="canon eos", after="2024-05-01"))) == {"may31.jpg"}
        assert set(names(e.search("a red picture", k=10, near="48.8584,2.2945,4"))) == {"apr30.jpg", "may01.jpg"}
        with e.catalog.sql.begin() as conn:  # back to what schema 2 wrote
            for column in FACT_COLUMNS:
                conn.exec_driver_sql(f"ALTER TABLE media DROP COLUMN {column}")
            conn.exec_driver_sql("DELETE FROM job WHERE name = 'metadata'")
            conn.exec_driver_sql("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    with Engine(lib, model="toy", database_url=db_url) as e:
        assert e.catalog.schema_version() == SCHEMA_VERSION
        assert e.search("a red picture", k=10, camera="canon") == []  # not read yet
        assert e.index().backfilled == 4
        assert set(names(e.search("a red picture", k=10, camera="canon"))) == {"apr30.jpg", "may31.jpg"}
