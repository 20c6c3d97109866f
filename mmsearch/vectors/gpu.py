"""GPU placement: FAISS GPU copies of an index, and exact search by a torch matrix product.

Search runs on the GPU when ``faiss.get_num_gpus() > 0`` (flat, ivf and ivfpq are copied to it; the
graph of hnsw has no FAISS GPU version and stays on the CPU). With CUDA through torch but a
CPU-only FAISS build, every family is searched exactly by a float16 matrix product on the GPU
(:func:`torch_topk`). Below ``GPU_MIN`` vectors copying costs more than searching on the CPU.

A placement caches its copies until :meth:`GpuPlacement.forget` (every change of the index).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import faiss
import numpy as np

from mmsearch.vectors.families import Family

log = logging.getLogger(__name__)

GPU_MIN = 20_000  # below this, copying to a GPU costs more than searching on the CPU

_TORCH_CUDA: bool | None = None


def gpu_count() -> int:
    """GPUs FAISS can use (0 with faiss-cpu, or faiss-gpu on a machine without one)."""
    try:
        return int(faiss.get_num_gpus())
    except AttributeError:
        return 0


def torch_cuda() -> bool:
    """CUDA through torch (checked once per process)."""
    global _TORCH_CUDA
    if _TORCH_CUDA is None:
        try:
            import torch

            _TORCH_CUDA = bool(torch.cuda.is_available())
        except (ImportError, RuntimeError) as exc:  # no torch, or a CUDA driver that fails to initialise
            log.warning("CUDA through torch is unavailable (%s); the GPU path is off", exc)
            _TORCH_CUDA = False
    return _TORCH_CUDA


def torch_topk(matrix, queries: np.ndarray, k: int, ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k inner products of ``queries`` against the rows of the torch tensor ``matrix``.

    Candidates are found in the matrix's dtype (float16 on a GPU: half the memory and twice the
    speed), then re-scored in float32 so the scores and order are those of exact search.
    Returns (scores, ids) where ids are ``ids[row]`` (rows when ``ids`` is None), -1 when missing.
    """
    import torch

    n = int(matrix.shape[0])
    nq = len(queries)
    if n == 0 or k <= 0:
        return np.zeros((nq, 0), np.float32), np.zeros((nq, 0), np.int64)
    k = min(int(k), n)
    with torch.no_grad():
        q = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32)).to(matrix.device)
        wide = min(n, k if matrix.dtype == torch.float32 else 2 * k + 16)
        scores = q.to(matrix.dtype) @ matrix.T
        _, cand = torch.topk(scores.float(), wide, dim=1)
        exact = torch.einsum("qd,qcd->qc", q, matrix[cand].float())
        top, order = torch.topk(exact, k, dim=1)
        rows = torch.gather(cand, 1, order).cpu().numpy().astype(np.int64)
        best = top.cpu().numpy().astype(np.float32)
    if ids is not None:
        rows = np.asarray(ids, np.int64)[rows]
    return best, rows


Blocks = Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]]  # -> (ids, float16 vectors) blocks


class GpuPlacement:
    """The GPU copies of one index: a FAISS GPU index and a torch matrix, made on first use."""

    def __init__(self) -> None:
        self._faiss: tuple | None = None  # (GPU index or None when it cannot be copied, positions, resources)
        self._torch: tuple | None = None  # (device, matrix, ids)

    def forget(self) -> None:
        """Drop the copies (the index changed)."""
        self._faiss = None
        self._torch = None

    def faiss_search(self, family: Family, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        """FAISS GPU search; None when the family has no GPU version or the copy failed."""
        if self._faiss is None:
            source = family.gpu_source()
            self._faiss = (None, None, None)
            if source is not None:
                try:
                    res = faiss.StandardGpuResources()
                    opts = faiss.GpuClonerOptions()
                    opts.useFloat16 = True  # IVF-PQ lookup tables of d/8 sub-quantizers need it
                    cpu, positions = source
                    self._faiss = (faiss.index_cpu_to_gpu(res, 0, cpu, opts), positions, res)
                except Exception as exc:  # noqa: BLE001 - an unsupported layout stays on the CPU
                    log.info("%s index stays on the CPU: %s", family.name, exc)
        gpu, positions, _ = self._faiss
        if gpu is None:
            return None
        return family.gpu_search(gpu, positions, queries, k)

    def torch_matrix(self, blocks: Blocks, ntotal: int, dim: int, device: str) -> tuple:
        """(torch matrix of the live vectors on ``device``, their ids): float16 on CUDA, float32 on
        the CPU, filled block by block from ``blocks()`` on first use (no second host copy)."""
        import torch

        cached = self._torch
        if cached is None or cached[0] != device:
            self._torch = None
            dtype = torch.float16 if device.startswith("cuda") else torch.float32
            matrix = torch.empty((ntotal, dim), dtype=dtype, device=device)
            ids, at = np.zeros(ntotal, np.int64), 0
            for block_ids, block in blocks():
                matrix[at : at + len(block)] = torch.from_numpy(np.ascontiguousarray(block)).to(device, dtype)
                ids[at : at + len(block)] = block_ids
                at += len(block)
            cached = self._torch = (device, matrix, ids)
        return cached[1], cached[2]
