"""Switching a space to another model in place (``mmsearch reembed SPACE --model SPEC``)."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mmsearch import Engine
from mmsearch.kinds import WORK_BY_KIND, MediaKind, Space

OFF = dict(audio_model="off", speech_model="off")


def _vector_ids(engine, name):
    row = engine.catalog.space(name)
    return engine.catalog.vector_ids(row.id).tolist()


def _hits(engine, query):
    return [(h.path, round(h.score, 4)) for h in engine.search(query, k=5)]


def _clip_dims(engine):
    """Per file with clip work: the dims of its stored clip vectors."""
    out = {}
    for media in engine.catalog.all_media():
        if Space.CLIP in WORK_BY_KIND[MediaKind(media.kind)]:
            out[media.path] = {v.shape[1] for name, v in engine.catalog.vectors_of_media(media.id).items()
                               if name == Space.CLIP}
    return out


def test_reembed_clip_switches_the_model_and_leaves_the_text_space_alone(tmp_path, colour_folder, tiny_clip):
    lib = tmp_path / "lib"
    with Engine(lib, model="toy", **OFF) as e:
        e.index([colour_folder])
        text_ids = _vector_ids(e, Space.TEXT)
        clip_files = e.catalog.reembed_targets(Space.CLIP)
        report = e.reembed("clip", tiny_clip)
        assert report.old_model != report.model and report.reembedded == len(clip_files) and not report.failures
        row = e.catalog.space(Space.CLIP)
        assert row.model_id == report.model and row.dim == 32 and row.spec == tiny_clip
        assert set(map(frozenset, _clip_dims(e).values())) == {frozenset({32})}
        assert _vector_ids(e, Space.TEXT) == text_ids
        assert [s.name for s in e.catalog.spaces()] == ["clip", "text"]  # no staging row shows
        assert e.check().ok
        assert e.search("a red square", k=3)  # queries go through the new model
        assert e.stats()["jobs"]["clip"]["done"] == len(clip_files)
    assert not (lib / "index" / "clip~next.index").exists()
    with Engine(lib, **OFF) as e:  # no --model: the model the library recorded now
        assert e.model_spec("clip") == tiny_clip and e.encoder("clip").dim == 32
        assert e.library.index(e.catalog.space(Space.CLIP)).ntotal == report.vectors
        assert e.keyword_search("yellow sun")  # the words of re-embedded texts are still found
        assert e.check().ok


def test_queries_answer_from_the_old_model_until_the_swap(tmp_path, colour_folder, tiny_clip):
    with Engine(tmp_path / "lib", model="toy", **OFF) as e:
        e.index([colour_folder])
        before = _hits(e, "red")
        words = [h.segment_id for h in e.keyword_search("yellow sun")]
        during = []

        class Probe:
            def start(self, total):
                pass

            def advance(self, n=1, path=None):
                during.append((_hits(e, "red"), [h.segment_id for h in e.keyword_search("yellow sun")],
                               e.stats()["segments"]))

            def stop(self):
                pass

        e.reembed("clip", tiny_clip, progress=Probe())
        assert len(during) >= 3
        assert all(hits == before and found == words for hits, found, _ in during)
        assert any("~clip" in kinds for *_, kinds in during[1:])  # staged, not shown as hits
        assert _hits(e, "red") != before


KILLED = textwrap.dedent("""
    import sys
    from mmsearch import Engine
    with Engine(sys.argv[1], audio_model="off", speech_model="off") as e:
        e.reembed("clip", sys.argv[2])
""")


def test_a_killed_reembed_leaves_the_old_space_and_resumes(tmp_path, colour_folder, tiny_clip):
    lib = tmp_path / "lib"
    with Engine(lib, model="toy", **OFF) as e:
        e.index([colour_folder])
        before = _hits(e, "red")
        old = e.catalog.space(Space.CLIP).model_id
    env = {"MMSEARCH_TEST_KILL_AT": "commit:3", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    killed = subprocess.run([sys.executable, "-c", KILLED, str(lib), tiny_clip], env=env, timeout=300,
                            capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    with Engine(lib, **OFF) as e:
        assert e.catalog.space(Space.CLIP).model_id == old
        assert len(e.catalog.staged_media(Space.CLIP)) == 2  # two files staged before the kill
        assert _hits(e, "red") == before
        assert e.check().ok
        report = e.reembed("clip", tiny_clip)
        assert report.resumed == 2 and report.reembedded == report.files - 2
        assert e.catalog.space(Space.CLIP).dim == 32 and e.check().ok
        assert not e.catalog.staged_media(Space.CLIP)


@pytest.fixture(scope="session")
def small_sentence_model(tmp_path_factory):
    """Another sentence model: the bundled one with a random 48-dimension projection, saved to a folder."""
    import torch
    from sentence_transformers import SentenceTransformer, models

    from mmsearch.encoders.sentence import bundled_model_dir

    torch.manual_seed(0)
    base = SentenceTransformer(str(bundled_model_dir()), device="cpu")
    folder = tmp_path_factory.mktemp("sentence48")
    SentenceTransformer(modules=[*base, models.Dense(base.get_sentence_embedding_dimension(), 48)]).save(str(folder))
    return str(folder)


def test_reembed_text_encodes_the_stored_texts_again(tmp_path, colour_folder, small_sentence_model):
    with Engine(tmp_path / "lib", model="toy", **OFF) as e:
        e.index([colour_folder])
        clip_ids = _vector_ids(e, Space.CLIP)
        texts = sorted(s.text for m in e.catalog.reembed_targets(Space.TEXT)
                       for s in e.catalog.stored_texts(m, Space.TEXT))
        report = e.reembed("text", small_sentence_model)
        assert report.vectors == len(texts) and not report.failures
        assert sorted(s.text for m in e.catalog.reembed_targets(Space.TEXT)
                      for s in e.catalog.stored_texts(m, Space.TEXT)) == texts
        assert e.catalog.space(Space.TEXT).dim == 48 and _vector_ids(e, Space.CLIP) == clip_ids
        assert e.models.loaded("speech") is None  # nothing transcribed
        vectors = e.catalog.vectors_of_media(e.catalog.media_by_path(str(colour_folder / "notes.md")).id)
        assert vectors["text"].shape == (1, 48) and np.isfinite(vectors["text"]).all()
        assert e.check().ok
        assert e.search("a yellow sun", k=1, kinds=["text"])[0].path == str(colour_folder / "notes.md")


def test_a_running_engine_follows_a_reembed_done_by_another_process(tmp_path, colour_folder, tiny_clip):
    """A long-lived reader (``serve``) that loaded the old model answers with the new one after another
    process switched the space: no mismatch error, no query through the old model."""
    lib = tmp_path / "lib"
    with Engine(lib, model="toy", **OFF) as e:
        e.index([colour_folder])
    with Engine(lib, **OFF) as server:
        old = server.encoder("clip").model_id
        assert server.search("red", k=3) and server.encoder("clip").dim != 32
        done = subprocess.run([sys.executable, "-c", KILLED, str(lib), tiny_clip], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        hits = server.search("red", k=3)
        assert hits and server.encoder("clip").dim == 32 and server.encoder("clip").model_id != old
        assert server.catalog.space(Space.CLIP).model_id == server.encoder("clip").model_id
