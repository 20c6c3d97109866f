"""Queries run on one CPU thread and give the process its thread settings back."""
from __future__ import annotations

import torch
from threadpoolctl import threadpool_info

from mmsearch import Engine
from mmsearch.query import candidates, examples
from mmsearch.threads import single_threaded


def _blas_threads() -> list[int]:
    """numpy's BLAS threads (the query path's; an OpenMP-layered BLAS counts per calling thread)."""
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas" and "numpy" in i["filepath"]]


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
        real = candidates.space_candidates

        def spy(*args, **kwargs):
            seen.append((torch.get_num_threads(), set(_blas_threads())))
            return real(*args, **kwargs)

        for module in (candidates, examples):  # a text query's spaces and an example's
            monkeypatch.setattr(module, "space_candidates", spy)
        torch.set_num_threads(2)
        hits = e.search("red", k=3)
        similar = e.similar(hits[0].path, k=3)
    assert hits and similar
    assert len(seen) >= 2 and all(s == (1, {1}) for s in seen)  # every space of search and similar
    assert torch.get_num_threads() == 2


def test_overlapping_queries_keep_one_thread_until_the_last_leaves_then_restore():
    import threading

    torch.set_num_threads(2)
    blas = _blas_threads()
    a_inside, a_may_leave, a_left, b_inside = (threading.Event() for _ in range(4))
    seen = {}

    def query_a():
        with single_threaded():
            a_inside.set()
            assert a_may_leave.wait(10)
        a_left.set()

    def query_b():
        assert a_inside.wait(10)
        with single_threaded():
            b_inside.set()
            assert a_left.wait(10)  # A has left: B is still on one thread
            seen["b_after_a"] = torch.get_num_threads()

    threads = [threading.Thread(target=query_a), threading.Thread(target=query_b)]
    for t in threads:
        t.start()
    assert b_inside.wait(10)
    a_may_leave.set()
    for t in threads:
        t.join(10)
    # (numpy's OpenBLAS reports its thread count unreliably from worker threads, so only torch's is
    # checked in between; both must be back at the end.)
    assert seen["b_after_a"] == 1
    assert torch.get_num_threads() == 2 and _blas_threads() == blas
