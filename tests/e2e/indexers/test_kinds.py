"""The kind table (mmsearch.kinds.KINDS) and its handlers (mmsearch.indexers.kinds.HANDLERS) as the scan, the
decode step, the writer and a query by example read them, and the one place an index run counts what it did
(mmsearch.indexers.report.Tally)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmsearch import Engine
from mmsearch.config import Settings
from mmsearch.encoders.toy import ToyColorEncoder
from mmsearch.errors import MmsearchError
from mmsearch.indexers import IndexReport
from mmsearch.indexers.decode import decode
from mmsearch.indexers.items import Decoded, Failed, FileEntry, Same, Timed
from mmsearch.indexers.kinds import EXTENSIONS, HANDLERS, DecodeInputs, TimedInputs
from mmsearch.indexers.report import Tally
from mmsearch.indexers.scan import kind_of, scan
from mmsearch.kinds import (
    KINDS,
    LINKING_KINDS,
    QUERY_KINDS,
    TIMED_KINDS,
    WORK_BY_KIND,
    MediaKind,
    SegmentKind,
    extension_table,
    kind_of_path,
)
from mmsearch.media.audio import AUDIO_EXTENSIONS
from mmsearch.media.images import IMAGE_EXTENSIONS
from mmsearch.media.subtitles import SUBTITLE_EXTENSIONS
from mmsearch.media.text import TEXT_EXTENSIONS
from mmsearch.media.video import VIDEO_EXTENSIONS
from mmsearch.query.examples import kind_of as example_kind_of

import media_factory as mf
from conftest import solid


# -- the table --------------------------------------------------------------------------------------------
def test_every_media_kind_has_one_handler_registered_under_its_own_kind():
    assert set(HANDLERS) == set(MediaKind)
    assert all(kind == handler.kind for kind, handler in HANDLERS.items())


def test_every_extension_maps_to_exactly_one_handler():
    claimed = [(ext, h.kind) for h in HANDLERS.values() for ext in h.extensions]
    assert len(claimed) == len({ext for ext, _ in claimed}) == len(EXTENSIONS)  # no extension claimed twice
    assert dict(claimed) == EXTENSIONS
    assert all(ext.startswith(".") and ext == ext.lower() for ext in EXTENSIONS)
    media_modules = {MediaKind.IMAGE: IMAGE_EXTENSIONS, MediaKind.TEXT: TEXT_EXTENSIONS,
                     MediaKind.SUBTITLE: SUBTITLE_EXTENSIONS, MediaKind.VIDEO: VIDEO_EXTENSIONS,
                     MediaKind.AUDIO: AUDIO_EXTENSIONS}
    assert {kind: HANDLERS[kind].extensions for kind in MediaKind} == media_modules


def test_the_kind_table_holds_every_kind_and_the_handlers_and_views_read_it():
    assert list(KINDS) == list(MediaKind)
    for kind, facts in KINDS.items():
        handler = HANDLERS[kind]
        assert (handler.extensions, handler.timed, handler.describes) == (facts.extensions, facts.timed, facts.describes)
        assert WORK_BY_KIND[kind] == facts.work
    assert TIMED_KINDS == {k for k, f in KINDS.items() if f.timed}
    assert LINKING_KINDS == {k for k, f in KINDS.items() if f.describes}
    assert QUERY_KINDS == (MediaKind.IMAGE, MediaKind.TEXT, MediaKind.VIDEO, MediaKind.AUDIO)  # --kind's order
    assert EXTENSIONS == extension_table()


def test_the_table_names_the_media_modules_constants_themselves():
    media_modules = {MediaKind.IMAGE: IMAGE_EXTENSIONS, MediaKind.TEXT: TEXT_EXTENSIONS,
                     MediaKind.SUBTITLE: SUBTITLE_EXTENSIONS, MediaKind.VIDEO: VIDEO_EXTENSIONS,
                     MediaKind.AUDIO: AUDIO_EXTENSIONS}
    assert all(KINDS[kind].extensions is constant for kind, constant in media_modules.items())


def test_the_vocabulary_loads_no_decoder_until_an_extension_is_asked_for():
    """Every command imports mmsearch.kinds; the video decoder's module (PyAV) costs ~40 ms a search never needs."""
    code = ("import sys, mmsearch.kinds as k; before = sorted(m for m in sys.modules if m.startswith('mmsearch.media')"
            " or m == 'av'); k.kind_of_path('x.mp4'); print(before, 'av' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[]", "True"]


def test_a_query_file_is_classified_by_the_same_table(tmp_path):
    assert example_kind_of(Path("Clip.MP4"), None) == kind_of_path("Clip.MP4") == MediaKind.VIDEO
    assert example_kind_of(Path("a.ogg"), None) == MediaKind.AUDIO
    assert example_kind_of(Path("b.webp"), None) == MediaKind.IMAGE
    for name in ("notes.txt", "clip.srt", "data.csv"):  # a kind (or no kind) nothing is built from: one clear line
        with pytest.raises(MmsearchError, match=f"cannot search by {name}: not an image, recording or video file"):
            example_kind_of(Path(name), None)


def test_timed_kinds_are_the_ones_with_a_timeline():
    assert {kind for kind, h in HANDLERS.items() if h.timed} == {MediaKind.VIDEO, MediaKind.AUDIO}
    assert {kind for kind, h in HANDLERS.items() if h.describes} == {MediaKind.TEXT, MediaKind.SUBTITLE}


def test_scan_classifies_by_the_table_and_ignores_unknown_extensions(tmp_path):
    root = tmp_path / "media"
    root.mkdir()
    for i, ext in enumerate(sorted(EXTENSIONS)):
        (root / f"f{i}{ext}").write_bytes(b"x")
        (root / f"u{i}{ext.upper()}").write_bytes(b"x")  # extensions compare case-insensitively
    for name in ("data.csv", "archive.tar.gz", "noext", "photo.jpg.bak", "clip.mp4~"):
        (root / name).write_bytes(b"x")
    errors: list = []
    entries = scan([root], None, lambda p, why: errors.append((p, why)))
    assert errors == []
    assert len(entries) == 2 * len(EXTENSIONS)
    for e in entries:
        assert e.kind == EXTENSIONS[os.path.splitext(e.path)[1].lower()] == kind_of(e.path)
    assert kind_of("data.csv") is None and kind_of("noext") is None and kind_of("photo.jpg.bak") is None


def test_captions_and_subtitles_link_to_the_kinds_their_handler_describes(tmp_path):
    root = tmp_path / "m"
    root.mkdir()
    for name in ("clip.mp4", "clip.en.srt", "clip.txt", "talk.mp4", "talk.vtt", "photo.jpg", "photo.srt",
                 "photo.jpg.txt", "song.mp3", "song.txt", "lonely.srt"):
        (root / name).write_bytes(b"x")
    links = {os.path.basename(e.path): e.link for e in scan([root], None, lambda p, w: None)}
    assert links["clip.en.srt"] == links["clip.txt"] == str(root / "clip.mp4")
    assert links["talk.vtt"] == str(root / "talk.mp4")
    assert links["photo.jpg.txt"] == str(root / "photo.jpg")
    assert links["photo.srt"] is None  # subtitles describe videos only
    assert links["song.txt"] is None and links["lonely.srt"] is None  # a caption describes pictures only
    assert links["clip.mp4"] is None and links["song.mp3"] is None


# -- the decode step --------------------------------------------------------------------------------------
@pytest.fixture()
def inputs():
    return DecodeInputs(Settings(), ToyColorEncoder())


def _entry(path, kind=None) -> FileEntry:
    st = os.stat(path)
    return FileEntry(str(path), st.st_size, st.st_mtime, kind or kind_of(str(path)))


def test_decode_goes_through_the_kind_handler_and_never_raises(tmp_path, inputs):
    solid(tmp_path / "red.png", "red")
    (tmp_path / "note.md").write_text("A red note.\n\nAnd a blue one.")
    (tmp_path / "empty.txt").write_text("   ")
    (tmp_path / "cues.srt").write_text("1\n00:00:01,000 --> 00:00:02,500\nHello there\n")
    (tmp_path / "clip.mp4").write_bytes(b"not decoded on a worker")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")

    image = decode(_entry(tmp_path / "red.png"), None, inputs, {})
    assert isinstance(image, Decoded) and len(image.images) == 1 and image.fields["kind"] == "image"
    [seg] = HANDLERS[MediaKind.IMAGE].segments(image, {"clip": list(inputs.encoder.encode_prepared(image.images))})
    assert seg.kind == SegmentKind.IMAGE
    note = decode(_entry(tmp_path / "note.md"), None, inputs, {})
    assert isinstance(note, Decoded) and note.units == len(note.texts) >= 1 and not note.images
    cues = decode(_entry(tmp_path / "cues.srt"), None, inputs, {})
    assert isinstance(cues, Decoded) and cues.texts == ["Hello there"] and cues.spans == [(1.0, 2.5)]
    segs = HANDLERS[MediaKind.SUBTITLE].segments(cues, {"clip": list(inputs.encoder.encode_text(cues.texts))})
    assert [(s.kind, s.start, s.end, s.text) for s in segs] == [(SegmentKind.SUBTITLE, 1.0, 2.5, "Hello there")]
    assert isinstance(decode(_entry(tmp_path / "clip.mp4"), None, inputs, {}), Timed)

    empty = decode(_entry(tmp_path / "empty.txt"), None, inputs, {})
    assert isinstance(empty, Failed) and (empty.stage, empty.message) == ("decode", "empty text file")
    bad = decode(_entry(tmp_path / "bad.png"), None, inputs, {})
    assert isinstance(bad, Failed) and bad.stage == "decode" and bad.message
    gone = _entry(tmp_path / "red.png")
    os.unlink(gone.path)
    vanished = decode(gone, None, inputs, {})
    assert isinstance(vanished, Failed) and vanished.message == "file disappeared while being indexed"
    huge = _entry(tmp_path / "note.md", MediaKind.IMAGE)
    huge.size = HANDLERS[MediaKind.IMAGE].read_limit + 1
    too_big = decode(huge, None, inputs, {})
    assert isinstance(too_big, Failed) and too_big.stage == "read" and "too large" in too_big.message


def test_decode_recognises_unchanged_and_moved_content_by_hash(tmp_path, colour_folder):
    with Engine(tmp_path / "lib", model="toy") as e:
        e.index([colour_folder])
        red = e.catalog.media_by_path(str(colour_folder / "red.png"))
        inputs = DecodeInputs(e.settings, ToyColorEncoder())
        same = decode(_entry(colour_folder / "red.png"), red, inputs, {})
        assert isinstance(same, Same) and not same.moved and same.media.id == red.id
        os.rename(colour_folder / "red.png", colour_folder / "crimson.png")
        missing = {red.content_hash: red}
        moved = decode(_entry(colour_folder / "crimson.png"), None, inputs, missing)
        assert isinstance(moved, Same) and moved.moved and moved.media.id == red.id
        assert missing == {}  # taken: a second file with that content is new, not a move


# -- the counting -----------------------------------------------------------------------------------------
class _Bar:
    def __init__(self):
        self.total, self.paths, self.stopped = None, [], False

    def start(self, total):
        self.total = total

    def advance(self, n=1, path=None):
        self.paths += [path] * n

    def stop(self):
        self.stopped = True


def test_tally_counts_each_file_once_and_advances_once_per_file_of_the_work_list():
    bar = _Bar()
    tally = Tally(bar)
    tally.unreadable("/x/fifo.png", "not a regular file")  # the scan's: not in the work list
    tally.planned(unchanged=3, skipped_bad=2, work=5)
    tally.indexed("/x/new.png", replaced=False)
    tally.indexed("/x/changed.png", replaced=True)
    tally.same("/x/moved.png", moved=True)
    tally.same("/x/touched.png", moved=False)
    tally.failed("/x/bad.png", "cannot identify image file")
    tally.removed(4)
    tally.warn("audio space inactive: no model")
    r = tally.report
    assert (r.added, r.updated, r.unchanged, r.moved, r.removed, r.failed, r.skipped_bad) == (1, 1, 4, 1, 4, 2, 2)
    assert r.failures == [("/x/fifo.png", "not a regular file"), ("/x/bad.png", "cannot identify image file")]
    assert r.warnings == ["audio space inactive: no model"]
    assert bar.total == 5 and len(bar.paths) == 5 and "/x/fifo.png" not in bar.paths


def test_report_json_fields_are_unchanged():
    assert set(IndexReport().to_dict()) == {"added", "updated", "unchanged", "moved", "removed", "failed",
                                             "skipped_bad", "seconds", "failures", "warnings", "backfilled", "jobs",
                                             "missing", "offline", "passes"}


def test_an_index_run_reports_every_file_once(tmp_path, colour_folder):
    with Engine(tmp_path / "lib", model="toy") as e:
        first = e.index([colour_folder])
        files = len(scan([colour_folder], None, lambda p, w: None))
        assert first.added == files and first.failed == first.updated == first.unchanged == 0
        solid(colour_folder / "green.png", "purple")
        os.utime(colour_folder / "green.png", (1e9, 1e9))
        os.rename(colour_folder / "red.png", colour_folder / "crimson.png")
        (colour_folder / "yellow.png").unlink()
        (colour_folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
        solid(colour_folder / "new.png", "blue")
        bar = _Bar()
        r = e.index([colour_folder], progress=bar)
        # a deleted file is kept as missing for the grace runs (mmsearch/presence.py)
        assert (r.added, r.updated, r.moved, r.removed, r.missing, r.failed) == (1, 1, 1, 0, 1, 1)
        assert r.added + r.updated + r.moved + r.unchanged + r.failed == files + 1  # -1 deleted, +2 new
        assert bar.total == 4 and sorted(map(os.path.basename, bar.paths)) == [
            "broken.png", "crimson.png", "green.png", "new.png"] and bar.stopped


# -- timed handlers get what they need handed in ----------------------------------------------------------
def test_a_video_handler_indexes_with_the_models_it_is_handed_and_nothing_else(tmp_path):
    """No run, no RunModels: plain values in, scenes out; no sound models handed in, no sound segments."""
    path = tmp_path / "clip.mp4"
    cuts = mf.make_video(path, [("red", 2.0), ("blue", 2.0)], codec="h264", motion=False)
    st = path.stat()
    job = Timed(FileEntry(str(path), st.st_size, st.st_mtime, MediaKind.VIDEO), None, {})
    done = HANDLERS[MediaKind.VIDEO].index(job, TimedInputs(Settings(), ToyColorEncoder(), 8))
    scenes = [s for s in done.segments if s.kind == SegmentKind.SCENE]
    assert len(scenes) == 2 and abs(scenes[1].start - cuts[0]) <= 0.5
    assert {s.kind for s in done.segments} == {SegmentKind.SCENE, SegmentKind.FRAME}
    assert job.fields["duration"] == pytest.approx(4.0, abs=0.2) and done.notes == []


def test_handlers_never_import_the_run_above_them():
    """indexers/kinds/ is below the run: the run (spaces, writer, run, deferred) hands the handlers their inputs."""
    import ast

    root = Path(__file__).resolve().parent.parent / "indexers" / "kinds"
    above = {"spaces", "writer", "run", "deferred", "encode", "cluster", "reembed", "watch"}
    for path in root.rglob("*.py"):
        depth = len(path.relative_to(root).parts)  # 1: indexers/kinds/x.py, 2: indexers/kinds/video/x.py
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level > depth and node.module:
                assert node.module.split(".")[0] not in above, (path, node.module)
            if isinstance(node, ast.ImportFrom) and not node.level and node.module:
                assert not node.module.startswith(tuple(f"mmsearch.indexers.{m}" for m in above)), (path, node.module)
