"""`mmsearch eval` on a video,start,end,query manifest: moment recall, engine beside exact."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from mmsearch import Engine
from mmsearch.cli.app import app
from mmsearch.indexers.evaluate import TASKS, evaluate, load_manifest

import media_factory as mf


def _videos(root):
    root.mkdir()
    mf.make_video(root / "a.mp4", [("red", 3.0), ("blue", 4.0), ("green", 3.0)], codec="h264", motion=False)
    mf.make_video(root / "b.webm", [("yellow", 3.0), ("purple", 3.0)], codec="vp9", motion=False)


def test_moment_recall_engine_beside_exact(tmp_path):
    _videos(tmp_path / "v")
    manifest = tmp_path / "moments.csv"
    manifest.write_text(
        "video,start,end,query\n"
        "v/a.mp4,0,3,a red scene\n"
        "v/a.mp4,3,7,the blue part\n"
        "v/a.mp4,00:00:07,00:00:10,green\n"
        "v/b.webm,3,6,purple\n"
    )
    loaded = load_manifest(manifest)
    assert loaded.task == "moments" and len(loaded.records) == 4
    with Engine(tmp_path / "lib", model="toy") as engine:
        report = evaluate(engine.context, loaded)
    assert report["text_to_moment"]["engine"]["R@1"] == 1.0
    assert report["text_to_moment"]["exact"]["R@1"] == 1.0
    assert [key for _, key in TASKS[loaded.task].figures] == ["text_to_moment"]  # what `mmsearch eval` prints


def test_wrong_labels_score_zero_through_the_cli(tmp_path):
    """The metric can fail: moments labelled with the wrong span are not counted as found."""
    _videos(tmp_path / "v")
    manifest = tmp_path / "wrong.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in [
        {"video": "v/a.mp4", "start": 0, "end": 3, "query": "blue"},
        {"video": "v/b.webm", "start": 0, "end": 3, "query": "purple"},
    ]))
    r = CliRunner().invoke(app, ["eval", str(manifest), "--model", "toy", "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["text_to_moment"]["engine"]["R@1"] == 0.0 and report["text_to_moment"]["exact"]["R@1"] == 0.0
    human = CliRunner().invoke(app, ["eval", str(manifest), "--model", "toy"])
    assert "text -> moment  engine" in human.stdout
