"""benchmarks/_common: time_each's warm-up items warm up and are never timed (issue 28, "warm only"); a
benchmark's scratch folder is gone when its process exits, however it ends."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from _common import time_each


def test_each_item_runs_once_and_the_warm_up_items_are_not_timed():
    calls: list[int] = []
    timed = time_each(calls.append, range(10), warmup=3)
    assert calls == list(range(10))  # a warm-up item is not run (and timed) a second time
    assert len(timed) == 7 and all(t >= 0 for t in timed)


def test_too_few_items_to_time_after_the_warm_up_is_an_error():
    with pytest.raises(ValueError, match="more than 3 items"):
        time_each(lambda _: None, range(3))


def test_a_scratch_folder_is_removed_when_the_process_exits_even_on_an_error(tmp_path):
    here = str(Path(__file__).resolve().parents[3] / "benchmarks")
    code = (f"import sys; sys.path.insert(0, {here!r}); import tempfile; tempfile.tempdir = sys.argv[1]; "
            "from _common import scratch; d = scratch('mmsearch-bench-'); (d / 'big.pt').write_bytes(b'x' * 1000); "
            "print(d); raise SystemExit(3)")
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 3, run.stderr
    folder = Path(run.stdout.strip())
    assert folder.parent == tmp_path and folder.name.startswith("mmsearch-bench-")
    assert not folder.exists() and list(tmp_path.iterdir()) == []
