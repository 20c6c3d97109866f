"""Fallbacks that used to swallow every exception silently now catch only what can really happen there, and
say so in one warning: the integrity spot-check of stored vectors, and the exact search on a CUDA GPU."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from mmsearch import integrity
from mmsearch.vectors import VectorIndex


class _Unreconstructable:
    """An index whose vectors cannot be read back, raising what FAISS raises (or ``error``)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def reconstruct(self, id_: int) -> np.ndarray:
        raise self.error


class _NoCatalog:
    def vector_blobs(self, ids):  # never reached when reconstruct fails
        raise AssertionError("compared values although the index gave none")


@pytest.mark.parametrize("error", [RuntimeError("Error in reconstruct: not implemented"), KeyError(3),
                                   NotImplementedError()])
def test_integrity_compares_by_ids_and_warns_when_vectors_cannot_be_read(caplog, error):
    report = integrity.Report()
    with caplog.at_level(logging.WARNING, logger="mmsearch.integrity"):
        integrity._compare_values(report, "clip", "index", _Unreconstructable(error), [1, 2, 3], _NoCatalog(), None)
    assert report.problems == []
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "'clip'" in warnings[0].getMessage() and "compared by ids only" in warnings[0].getMessage()


def test_integrity_does_not_hide_a_bug():
    with pytest.raises(TypeError):
        integrity._compare_values(integrity.Report(), "clip", "index", _Unreconstructable(TypeError("bug")), [1],
                                  _NoCatalog(), None)


def test_gpu_search_failure_warns_and_leaves_the_answer_to_the_cpu(caplog, monkeypatch):
    idx = VectorIndex(8)
    forgotten = []
    monkeypatch.setattr(idx._gpu, "forget", lambda: forgotten.append(True))

    def out_of_memory(queries, k, device="cpu"):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(idx, "torch_search", out_of_memory)
    with caplog.at_level(logging.WARNING, logger="mmsearch.vectors.index"):
        assert idx._torch_cuda_search(np.zeros((1, 8), np.float32), 3) is None
    assert forgotten == [True]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "exact search on the GPU failed (CUDA out of memory); searching on the CPU"]


def test_gpu_search_does_not_hide_a_bug(monkeypatch):
    idx = VectorIndex(8)

    def bug(queries, k, device="cpu"):
        raise TypeError("bug")

    monkeypatch.setattr(idx, "torch_search", bug)
    with pytest.raises(TypeError):
        idx._torch_cuda_search(np.zeros((1, 8), np.float32), 3)


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://me:secret@db/lib", "postgresql://me:***@db/lib"),
    ("x://me:secret@[::1", "x://me:***@[::1"),  # SQLAlchemy cannot parse it (ValueError): still masked
    ("not a url", "not a url"),
])
def test_a_url_in_a_message_never_shows_its_password(url, shown):
    from mmsearch.catalog import shown_url

    assert shown_url(url) == shown
