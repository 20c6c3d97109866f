"""Indexing on a Ray cluster (indexers/cluster/): a library indexed with ``--ray`` equals one indexed locally.

The cluster is real and local: ``ray.cluster_utils.Cluster`` starts a head (no CPUs: it only coordinates)
and two worker nodes of one CPU each, as separate raylet processes, once for this module. Skipped when Ray
is not installed (``pip install 'mmsearch[cluster]'``); the missing-extra error is tested either way.
"""
from __future__ import annotations

import builtins
import os
import sys
import threading

import numpy as np
import pytest
from typer.testing import CliRunner

from mmsearch import Engine
from mmsearch.cli.app import app
from mmsearch.errors import MmsearchError
from mmsearch.indexers.cluster.require import USAGE_STATS, require_ray

import media_factory as mf
from conftest import COLOURS, solid

FIELDS = ("kind", "content_hash", "size", "width", "height", "duration", "status", "decoder")


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'mmsearch[cluster]'")
    ray = require_ray()  # as a run does: before the cluster starts, so its nodes inherit the environment
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    nodes = [c.add_node(num_cpus=1) for _ in range(2)]
    c.wait_for_nodes()
    ray.init(address=c.address, logging_level="WARNING", log_to_driver=False)
    try:
        yield c, nodes
    finally:
        ray.shutdown()
        c.shutdown()


@pytest.fixture
def media(tmp_path):
    root = tmp_path / "media"
    for name in COLOURS:
        solid(root / f"{name}.png", name)
    solid(root / "nested" / "blue_2.jpg", "blue", (80, 80))
    (root / "notes.md").write_text("A short note about a yellow sun.\n")
    mf.make_video(root / "clip.mp4", [("red", 2.0), ("blue", 2.0)], codec="h264", motion=False)
    (root / "broken.png").write_bytes(b"not a picture")
    return root


def _library(engine: Engine) -> dict:
    """Every media row (by path), its segments and its vectors per space."""
    out = {}
    for m in engine.catalog.all_media():
        segs = [(s.kind, s.start, s.end, s.keyframe, s.text) for s in engine.catalog.segments_of_media(m.id)]
        out[m.path] = ({f: getattr(m, f) for f in FIELDS}, sorted(segs, key=repr),
                       engine.catalog.vectors_of_media(m.id), engine.catalog.jobs_of(m.id))
    return out


def _same_library(local: dict, remote: dict) -> None:
    assert local.keys() == remote.keys()
    for path, (row, segs, vecs, jobs) in local.items():
        row2, segs2, vecs2, jobs2 = remote[path]
        assert row == row2, path
        assert segs == segs2, path
        assert vecs.keys() == vecs2.keys(), path
        for space in vecs:
            assert np.allclose(vecs[space], vecs2[space], atol=1e-3), (path, space)
        assert {n: (j.state, j.model_id) for n, j in jobs.items()} == {n: (j.state, j.model_id) for n, j in jobs2.items()}


def test_a_library_indexed_on_the_cluster_equals_one_indexed_here(cluster, media, tmp_path):
    c, _nodes = cluster
    with Engine(tmp_path / "here", model="toy") as here:
        local_report = here.index([media])
        local = _library(here)
    with Engine(tmp_path / "there", model="toy") as there:
        report = there.index([media], ray=c.address)
        assert (report.added, report.failed) == (local_report.added, local_report.failed) == (8, 1)
        assert report.cluster is not None and report.cluster["files"] == 9 and report.cluster["nodes"] == 3
        assert sum(report.cluster["encoded_on"].values()) == 9
        assert report.cluster["bytes_per_file"] > 0
        _same_library(local, _library(there))
        assert there.check().ok
        assert [e.path for e in there.catalog.errors()] == [str(media / "broken.png")]
        # a rerun finds nothing to do, and a changed file is re-indexed on the cluster
        again = there.index([media], ray=c.address)
        assert (again.added, again.updated, again.unchanged) == (0, 0, 8)
        solid(media / "red.png", "green")
        changed = there.index([media], ray=c.address)
        assert changed.updated == 1 and there.check().ok
    # Ray's usage statistics stayed off: no thread left behind that polls Prometheus for the life of the process
    assert "data-usage-metrics-poller" not in {t.name for t in threading.enumerate()}
    hit = Engine(tmp_path / "there", model="toy")
    try:
        assert hit.search("green", k=1, kinds=["image"])[0].path in {str(media / "red.png"), str(media / "green.png")}
    finally:
        hit.close()


def test_text_in_pictures_is_read_after_a_cluster_ingest(cluster, tmp_path, monkeypatch):
    """The cluster does the first pass (pictures, a video's scenes); the driver's deferred pass then reads the
    text of what was committed (the ``ocr`` job, indexers/deferred.py), an image's and each video scene's."""
    from PIL import Image
    from test_ocr import AGENDA, BG, REVENUE, slide, words

    from mmsearch.kinds import Job, SegmentKind

    monkeypatch.delenv("MMSEARCH_OCR_MODEL", raising=False)  # conftest turns OCR off; the default (bundled) here

    def framed(lines):  # the factory shows the middle 80 % of a picture: pad the slide so all of it shows
        canvas = Image.new("RGB", (1600, 900), BG)
        canvas.paste(slide(lines), (160, 90))
        return canvas

    c, _nodes = cluster
    root = tmp_path / "media"
    root.mkdir()
    slide(REVENUE, size=(640, 360)).save(root / "slide.png")
    video = root / "talk.mp4"
    cuts = mf.make_video(video, [(framed(AGENDA), 3.0), (framed(REVENUE), 3.0)], size=(480, 270), fps=5,
                         motion=False)
    with Engine(tmp_path / "there", model="toy", audio_model="off", speech_model="off") as e:
        report = e.index([root], ray=c.address)
        assert report.cluster is not None and report.cluster["files"] == 2 and report.failed == 0
        assert list(report.passes) == ["main", "ocr"] and report.passes["ocr"]["files"] == 2
        assert report.jobs[Job.OCR] == {"done": 2, "pending": 0, "failed": 0}
        catalog = e.context.catalog

        def read(path):
            media = catalog.media_by_path(str(path))
            return [s for s in catalog.segments_of_media(media.id) if s.kind == SegmentKind.OCR]

        [picture] = read(root / "slide.png")
        assert {"quarterly", "revenue", "grew"} <= words(picture.text)
        revenue = next(s for s in read(video) if {"quarterly", "revenue"} <= words(s.text))
        assert abs(revenue.start - cuts[0]) <= 0.5 and revenue.start <= revenue.keyframe < revenue.end
        hits = e.search("quarterly revenue grew", k=2)
        assert {h.path for h in hits} == {str(root / "slide.png"), str(video)}
        assert all("ocr" in h.extra["signals"] for h in hits)


def test_a_node_without_the_text_reader_leaves_the_text_to_the_driver():
    """A node that cannot load the OCR model fails no file's ``ocr`` (the driver's deferred pass reads the
    text) and never loads it; a node without the picture model fails the clip work it cannot do."""
    from mmsearch.config import Settings
    from mmsearch.indexers.cluster.stages import NodeModels, shortfall
    from mmsearch.kinds import Job, MediaKind, Space

    node = NodeModels(Settings(model="off", ocr_model="off", audio_model="off", speech_model="off"))
    assert shortfall(node, MediaKind.IMAGE, {Space.CLIP, Job.OCR}, "n1") == {
        Space.CLIP: "clip model unavailable on node n1: " + node.ctx.models.unavailable.get(Space.CLIP, "not loaded")}
    assert shortfall(node, MediaKind.VIDEO, {Job.OCR}, "n1") == {}
    assert node._ocr is False  # never asked for


def test_every_node_must_see_the_files_as_the_driver_does(cluster, media):
    from mmsearch.indexers.cluster.ray_run import RayCluster

    c, _ = cluster
    connected = RayCluster.connect(c.address)
    connected.check_shared_files([(str(media / "red.png"), (media / "red.png").stat().st_size)])  # seen alike
    with pytest.raises(MmsearchError, match=r"node .* does not see .*red\.png as the driver does: \d+ bytes there, 1 on the driver"):
        connected.check_shared_files([(str(media / "red.png"), 1)])
    with pytest.raises(MmsearchError, match=r"nowhere\.png as the driver does: not there"):
        connected.check_shared_files([(str(media / "nowhere.png"), 10)])


def test_ray_usage_statistics_stay_off_unless_the_user_turned_them_on(monkeypatch):
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'mmsearch[cluster]'")
    monkeypatch.delenv(USAGE_STATS, raising=False)
    require_ray()
    assert os.environ[USAGE_STATS] == "0"
    monkeypatch.setenv(USAGE_STATS, "1")
    require_ray()
    assert os.environ[USAGE_STATS] == "1"


def test_a_bad_address_is_one_clear_line(cluster):
    from mmsearch.indexers.cluster.ray_run import RayCluster

    with pytest.raises(MmsearchError, match="give auto, ray://HOST:PORT or HOST:PORT"):
        RayCluster.connect("http://nowhere")


def test_ray_without_the_extra_names_it(monkeypatch, tmp_path, colour_folder):
    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    for name in [m for m in sys.modules if m == "ray" or m.startswith("ray.")]:
        monkeypatch.delitem(sys.modules, name)
    result = CliRunner().invoke(app, ["index", str(colour_folder), "--library", str(tmp_path / "lib"),
                                      "--model", "toy", "--ray", "auto"])
    assert result.exit_code != 0
    assert "pip install 'mmsearch[cluster]'" in result.output
    assert "Traceback" not in result.output
    monkeypatch.setenv("MMSEARCH_RAY_ADDRESS", "auto")
    with Engine(tmp_path / "lib2", model="toy") as engine, pytest.raises(MmsearchError, match=r"mmsearch\[cluster\]"):
        engine.index([colour_folder])
    monkeypatch.delenv("MMSEARCH_RAY_ADDRESS")
    with Engine(tmp_path / "lib3", model="toy") as engine:  # without --ray: as ever, no Ray needed
        assert engine.index([colour_folder]).added > 0


class _KillNodeAt:
    """A progress bar that SIGKILLs a worker node once ``at`` files are committed, and starts another."""

    def __init__(self, cluster, node, at: int) -> None:
        self.cluster, self.node, self.at, self.done, self.killed = cluster, node, at, 0, False

    def start(self, total: int) -> None:
        pass

    def advance(self, n: int = 1, path: str | None = None) -> None:
        self.done += n
        if self.done >= self.at and not self.killed:
            self.killed = True
            self.cluster.remove_node(self.node, allow_graceful=False)  # its raylet and workers: SIGKILL
            self.cluster.add_node(num_cpus=1)  # the machine comes back (or the autoscaler replaces it)

    def stop(self) -> None:
        pass


@pytest.mark.parametrize("point", ["apply:1", "save:1"])
def test_the_driver_killed_mid_run_loses_nothing_and_the_next_run_finishes(cluster, media, tmp_path, point):
    """SIGKILL of the driver right after its first commit, or as it saves the index snapshot (the catalog is
    ahead of the index snapshot, the cluster's actors are orphaned): the next ``--ray`` run finishes the
    library, which then equals a local one. (A kill inside a transaction is the local writer's, tested in test_crash.py.)"""
    import os
    import signal
    import subprocess

    c, _nodes = cluster
    with Engine(tmp_path / "here", model="toy") as here:
        here.index([media])
        local = _library(here)
    lib = tmp_path / "there"
    cli = [sys.executable, "-m", "mmsearch.cli", "index", str(media), "--library", str(lib), "--model", "toy",
           "--ray", c.address]
    env = dict(os.environ, MMSEARCH_TEST_KILL_AT=point)
    killed = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    with Engine(lib, model="toy") as there:
        assert there.catalog.all_media()  # the commits before the kill are kept
    finished = subprocess.run(cli, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]
    with Engine(lib, model="toy") as there:
        _same_library(local, _library(there))
        assert there.check().ok


def test_a_worker_node_killed_mid_run_loses_nothing(cluster, media, tmp_path):
    """Runs last in this module: it replaces a node of the shared cluster."""
    c, nodes = cluster
    for i in range(12):
        solid(media / "more" / f"{i}.png", list(COLOURS)[i % len(COLOURS)], (40 + i, 40))
    with Engine(tmp_path / "here", model="toy") as here:
        here.index([media])
        local = _library(here)
    killer = _KillNodeAt(c, nodes[0], at=2)
    with Engine(tmp_path / "there", model="toy") as there:
        report = there.index([media], ray=c.address, progress=killer)
        assert killer.killed
        assert report.added == 20 and report.failed == 1
        _same_library(local, _library(there))
        assert there.check().ok
