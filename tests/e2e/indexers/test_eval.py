"""mmsearch eval: manifests (CSV, JSONL, Karpathy JSON), recall through the engine beside exact search."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from mmsearch import Engine
from mmsearch.encoders.toy import PALETTE
from mmsearch.indexers.evaluate import ManifestError, evaluate, exact_ranks, load_manifest, recall_from_ranks

COLOURS = ["red", "green", "blue", "yellow", "orange", "purple", "pink", "brown", "black", "white", "gray", "cyan"]


@pytest.fixture
def pairs_folder(tmp_path):
    """Solid-colour images, one per colour, captioned with their colour."""
    root = tmp_path / "set"
    (root / "img").mkdir(parents=True)
    rows = []
    for c in COLOURS:
        Image.new("RGB", (40, 30), PALETTE[c]).save(root / "img" / f"{c}.png")
        rows.append((f"img/{c}.png", f"a {c} square"))
        rows.append((f"img/{c}.png", f"a photo that is all {c}"))
    (root / "pairs.csv").write_text("image,caption\n" + "".join(f"{i},{c}\n" for i, c in rows))
    return root


def test_toy_colours_are_retrieved_perfectly(tmp_path, pairs_folder):
    manifest = load_manifest(pairs_folder / "pairs.csv")
    assert manifest.task == "retrieval" and len(manifest.records) == 12
    assert manifest.records[0].captions == ("a red square", "a photo that is all red")
    with Engine(tmp_path / "lib", model="toy") as engine:
        report = evaluate(engine.context, manifest)
    assert report["images"] == 12 and report["captions"] == 24
    for direction in ("text_to_image", "image_to_text"):
        for figure in ("exact", "engine"):
            assert report[direction][figure] == {"R@1": 1.0, "R@5": 1.0, "R@10": 1.0}, (direction, figure)
    assert report["index"]["family"] == "flat" and report["model"] == "toy:colors-v1"


def test_misleading_captions_and_runs_reusing_the_library(tmp_path, pairs_folder):
    # Each caption names its colour once and the next colour twice: its image comes second.
    rows = ["image,caption"] + [f"img/{c}.png,{c} {COLOURS[(i + 1) % 12]} {COLOURS[(i + 1) % 12]}"
                                for i, c in enumerate(COLOURS)]
    (pairs_folder / "mixed.csv").write_text("\n".join(rows) + "\n")
    with Engine(tmp_path / "lib", model="toy") as engine:
        first = evaluate(engine.context, load_manifest(pairs_folder / "mixed.csv"))
        again = evaluate(engine.context, load_manifest(pairs_folder / "mixed.csv", limit=6))
    assert first["text_to_image"]["exact"] == {"R@1": 0.0, "R@5": 1.0, "R@10": 1.0}
    assert first["text_to_image"]["engine"] == first["text_to_image"]["exact"]
    assert again["images"] == 6 and again["captions"] == 6  # stale caption files were dropped


def test_manifest_formats(tmp_path, pairs_folder):
    jsonl = pairs_folder / "pairs.jsonl"
    jsonl.write_text("\n".join(json.dumps({"Image": f"img/{c}.png", "caption": f"a {c} square"}) for c in COLOURS))
    assert len(load_manifest(jsonl).records) == 12
    listed = pairs_folder / "list.json"
    listed.write_text(json.dumps([{"image": "img/red.png", "caption": "red"}]))
    assert load_manifest(listed).records[0].image.name == "red.png"
    tsv = pairs_folder / "pairs.tsv"
    tsv.write_text("image\tcaption\nimg/red.png\ta red, square thing\n")
    assert load_manifest(tsv).records[0].captions == ("a red, square thing",)

    karpathy = {"images": [
        {"filename": "red.png", "filepath": "img", "split": "test", "sentences": [{"raw": "a red square"}, {"raw": "red"}]},
        {"filename": "blue.png", "filepath": "img", "split": "train", "sentences": [{"raw": "a blue square"}]},
        {"filename": "green.png", "filepath": "img", "split": "test", "sentences": [{"raw": "a green square"}]},
    ]}
    kp = tmp_path / "dataset_flickr30k.json"
    kp.write_text(json.dumps(karpathy))
    m = load_manifest(kp, images=pairs_folder)
    assert [p.image.name for p in m.records] == ["red.png", "green.png"]  # test split by default
    assert m.records[0].captions == ("a red square", "red")
    assert len(load_manifest(kp, images=pairs_folder, split="all").records) == 3
    assert [p.image.name for p in load_manifest(kp, images=pairs_folder, split="train").records] == ["blue.png"]


def test_manifest_errors_are_clear(tmp_path, pairs_folder):
    with pytest.raises(ManifestError, match="no manifest file"):
        load_manifest(tmp_path / "nope.csv")
    bad = tmp_path / "missing.csv"
    bad.write_text("image,caption\nnot/there.png,a cat\n")
    with pytest.raises(ManifestError, match="do not exist.*--images"):
        load_manifest(bad)
    moments = tmp_path / "moments.csv"
    moments.write_text("video,start,end,query\nlaunch.mp4,4.0,1.0,the rocket lifts off\n")
    with pytest.raises(ManifestError, match="end > start"):
        load_manifest(moments)
    odd = tmp_path / "odd.txt"
    odd.write_text("x")
    with pytest.raises(ManifestError, match="unknown manifest format"):
        load_manifest(odd)


def test_exact_ranks_and_recall():
    text = np.eye(3, dtype=np.float32)[[0, 1, 2, 2]]  # captions 0,1 -> images 0,1; 2,3 -> image 2
    images = np.eye(3, dtype=np.float32)
    t2i, i2t = exact_ranks(text, images, np.array([0, 1, 2, 1]))
    assert t2i.tolist() == [0, 0, 0, 1] and i2t.tolist() == [0, 0, 0]
    assert recall_from_ranks([0, 1, 7, np.inf], (1, 5, 10)) == {"R@1": 0.25, "R@5": 0.5, "R@10": 0.75}


def test_eval_command(tmp_path, pairs_folder):
    from mmsearch.cli.app import app

    runner = CliRunner()
    r = runner.invoke(app, ["eval", str(pairs_folder / "pairs.csv"), "--model", "toy", "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["text_to_image"]["engine"]["R@1"] == 1.0 and report["image_to_text"]["exact"]["R@1"] == 1.0
    r = runner.invoke(app, ["eval", str(pairs_folder / "pairs.csv"), "--model", "toy", "--library", str(tmp_path / "l")])
    assert r.exit_code == 0, r.output
    assert "text -> image" in r.stdout and "R@10" in r.stdout and "engine" in r.stdout
    r = runner.invoke(app, ["eval", str(tmp_path / "nothing.csv"), "--model", "toy"])
    assert r.exit_code == 2 and "no manifest file" in r.output
    r = runner.invoke(app, ["eval", str(tmp_path / "[set]" / "nothing.csv"), "--model", "toy"])
    assert r.exit_code == 2 and "[set]/nothing.csv" in r.output  # the message's brackets are text, not markup


def test_one_task_table_picks_the_evaluation_and_the_cli_prints_each(tmp_path):
    """The manifest's columns pick a task of the one table (mmsearch.indexers.evaluate.TASKS); a manifest that
    fits none names every task with its columns; the CLI has a way to print each task and nothing else."""
    from mmsearch.cli.eval_cmd import RENDER
    from mmsearch.indexers.evaluate import TASKS

    assert set(RENDER) == set(TASKS) == {"retrieval", "moments"}
    assert all(task.figures for task in TASKS.values())
    odd = tmp_path / "odd.csv"
    odd.write_text("photo,words\na.jpg,hello\n")
    with pytest.raises(ManifestError, match="match no evaluation") as caught:
        load_manifest(odd)
    for task in TASKS.values():
        assert f"{task.name}: {','.join(sorted(task.columns))}" in str(caught.value)
