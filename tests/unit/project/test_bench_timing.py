"""benchmarks/_common.time_each: the warm-up items warm up and are never timed (issue 28, "warm only")."""
from __future__ import annotations

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
