"""Queries run on one CPU thread and give the process its thread settings back."""
from __future__ import annotations

import torch
from threadpoolctl import threadpool_info

from mmsearch import Engine
from mmsearch.threads import single_threaded


def _blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_single_threaded_sets_one_thread_inside_and_restores_after():
    torch.set_num_threads(2)
    blas = _blas_threads()
    with single_threaded():
        assert torch.get_num_threads() == 1
        assert set(_blas_threads()) == {1}
    assert torch.get_num_threads() == 2 and _blas_threads() == blas


def test_search_runs_single_threaded_and_restores(tmp_path, colour_folder, monkeypatch):
    seen = []
    with Engine(tmp_path / "lib", model="toy") as e:
        e.index([colour_folder])
        real = e._space_candidates

        def spy(*args, **kwargs):
            seen.append((torch.get_num_threads(), set(_blas_threads())))
            return real(*args, **kwargs)

        monkeypatch.setattr(e, "_space_candidates", spy)
        torch.set_num_threads(2)
        hits = e.search("red", k=3)
        similar = e.similar(hits[0].path, k=3)
    assert hits and similar
    assert seen == [(1, {1}), (1, {1})]
    assert torch.get_num_threads() == 2
