import os

from mmsearch.indexers.scan import scan

from conftest import solid


def test_scan_classifies_links_captions_and_skips_hidden_and_loops(tmp_path):
    root = tmp_path / "media"
    solid(root / "a.jpg", "red")
    solid(root / "b.png", "blue")
    (root / "a.txt").write_text("caption of a")
    (root / "b.png.txt").write_text("caption of b")
    (root / "free.txt").write_text("not a caption")
    (root / "readme.md").write_text("# notes")
    (root / "data.csv").write_text("1,2")
    solid(root / ".hidden" / "c.png", "green")
    solid(root / ".secret.png", "green")
    os.symlink(root, root / "loop")  # a symlink loop must not be followed
    errors = []
    entries = {os.path.basename(e.path): e for e in scan([root], None, lambda p, w: errors.append(p))}
    assert set(entries) == {"a.jpg", "b.png", "a.txt", "b.png.txt", "free.txt", "readme.md"}
    assert entries["a.txt"].link == str(root / "a.jpg")
    assert entries["b.png.txt"].link == str(root / "b.png")
    assert entries["free.txt"].link is None and entries["readme.md"].link is None
    assert entries["a.jpg"].kind == "image" and entries["readme.md"].kind == "text"
    assert errors == []


def test_scan_records_unreadable_and_dangling(tmp_path):
    root = tmp_path / "m"
    solid(root / "ok.png", "red")
    os.symlink(root / "gone.png", root / "dangling.png")
    errors = []
    entries = scan([root], None, lambda p, w: errors.append((os.path.basename(p), w)))
    assert [os.path.basename(e.path) for e in entries] == ["ok.png"]
    assert errors and errors[0][0] == "dangling.png"


def test_mmsearchignore_skips_names_and_relative_paths_below_its_folder(tmp_path):
    root = tmp_path / "media"
    solid(root / "keep.png", "red")
    solid(root / "draft.tmp.png", "red")
    solid(root / "raw" / "a.png", "blue")
    solid(root / "sub" / "raw" / "b.png", "blue")
    solid(root / "sub" / "c.png", "green")
    solid(root / "sub" / "d.png", "green")
    solid(root / "shots" / "x" / "e.png", "green")
    solid(root / "shots" / "f.png", "green")
    (root / "LICENSES.md").write_text("licence table")
    (root / ".mmsearchignore").write_text("# comment\nLICENSES.md\n*.tmp.png\nraw/\nshots/x\n")
    (root / "sub" / ".mmsearchignore").write_text("c.png\n")
    names = sorted(os.path.relpath(e.path, root) for e in scan([root], None, lambda p, w: None))
    assert names == ["keep.png", "shots/f.png", "sub/d.png"]  # nested rules inherit the parent's
