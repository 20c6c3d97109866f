"""The frames the video pass samples, kept for the run's OCR pass (indexers/kinds/video/text.py): taken once, for
the file as it is now and the same sampling, bounded in memory; otherwise the frames are sampled again."""
from __future__ import annotations

import os

import pytest

import mmsearch.indexers.kinds.video.text as text_module
from mmsearch.encoders import load_image_text_encoder
from mmsearch.indexers.kinds.video.frames import embed_frames
from mmsearch.indexers.kinds.video.text import KeptFrames, hand_over, keep_frames, sampled_frames

import media_factory as mf

BLUE, GREEN = (30, 40, 220), (30, 200, 40)
TOY = load_image_text_encoder("toy", "cpu")


@pytest.fixture
def samplings(video_samplings):
    """How many times the OCR side sampled a video again (tests/conftest.py)."""
    return video_samplings


@pytest.fixture
def video(tmp_path):
    path = tmp_path / "two.mp4"
    mf.make_video(path, [(BLUE, 2.0), (GREEN, 2.0)], size=(160, 90))
    return str(path)


def _pass(path: str) -> KeptFrames:
    """The first pass as the video handler runs it: frames kept on the decode thread, handed over."""
    kept = keep_frames()
    embed_frames(path, TOY, 1.0, 8, keep=kept.keep)
    hand_over(path, 1.0, kept)
    return kept


def test_the_ocr_pass_takes_the_first_passs_frames_once(video, samplings):
    kept = _pass(video)
    times = [t for t, _ in kept.between(0.0, 99.0)]
    assert len(times) == 4 and samplings == []
    assert sampled_frames(video, 1.0) is kept and samplings == []        # no second decode
    again = sampled_frames(video, 1.0)                                   # taken: a later read decodes
    assert again is not kept and samplings == [video]
    assert [t for t, _ in again.between(0.0, 99.0)] == times             # the same sampling rule
    # and the pictures are the same frames (JPEG noise aside)
    for (_, a), (_, b) in zip(kept.between(0.0, 99.0), again.between(0.0, 99.0)):
        assert a.size == b.size


def test_a_file_changed_since_or_another_sampling_is_decoded_again(video, samplings):
    _pass(video)
    assert sampled_frames(video, 0.5) is not None and samplings == [video]     # another interval
    st = os.stat(video)
    os.utime(video, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))         # the file changed since
    sampled_frames(video, 1.0)
    assert samplings == [video, video]


def test_kept_frames_stay_within_their_bound(video, samplings, monkeypatch):
    kept = _pass(video)
    one = kept.size
    assert one > 0
    small = KeptFrames(limit=one // 2)                    # one video over the bound: nothing kept, sampled again
    embed_frames(video, TOY, 1.0, 8, keep=small.keep)
    assert small.full and small.size == 0 and small.between(0.0, 99.0) == []
    hand_over(video, 1.0, small)
    assert sampled_frames(video, 1.0) is kept             # the full one was not handed over
    monkeypatch.setattr(text_module, "KEEP_BYTES", int(one * 1.5))   # room for one video: the oldest goes
    _pass(video)
    other = video.replace("two.mp4", "copy.mp4")
    with open(video, "rb") as src, open(other, "wb") as dst:
        dst.write(src.read())
    _pass(other)
    sampled_frames(video, 1.0)
    assert samplings == [video]                           # dropped for the newer one: decoded again
    sampled_frames(other, 1.0)
    assert samplings == [video]                           # the newer one was kept


def test_the_run_end_drops_what_its_ocr_pass_did_not_take(video, samplings):
    from mmsearch.indexers.deferred import release_kept

    _pass(video)
    release_kept()  # a run's end (its OCR pass ran, or never did)
    sampled_frames(video, 1.0)
    assert samplings == [video]                           # nothing was left waiting: decoded again
