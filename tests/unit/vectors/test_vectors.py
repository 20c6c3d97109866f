"""Vector indexes: the family rule, ANN recall against exact search, exact re-ranking, snapshots of
every family, removal and compaction, rebuilds through the Library, torch search."""
from __future__ import annotations

import json
import struct
from dataclasses import replace

import faiss
import numpy as np
import pytest

from mmsearch import vectors
from mmsearch.errors import LibraryError
from mmsearch.vectors import FAMILIES, IndexPolicy, VectorIndex, choose_family, estimate_bytes, nlist_for, snapshot
from mmsearch.vectors import policy as size_rule

DIM = 32
ANN = ("hnsw", "ivf", "ivfpq")
# Small thresholds so every family is reached by a few thousand vectors; a budget that holds HNSW
# and IVF at these sizes.
POLICY = IndexPolicy(exact_max=500, hnsw_max=2_000, memory_budget=1 << 30)
# Policies under which each ANN family is the rule's choice for any size past exact_max.
PINNED = {
    "hnsw": replace(POLICY, hnsw_max=10**9),
    "ivf": replace(POLICY, hnsw_max=500),
    "ivfpq": replace(POLICY, hnsw_max=500, memory_budget=1),
}


def clustered(n: int, dim: int = DIM, seed: int = 0, clusters: int = 40) -> np.ndarray:
    """Unit vectors around random centres, rounded to float16 as the catalog stores them."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    x = centres[rng.integers(0, clusters, n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float16).astype(np.float32)


def queries_near(x: np.ndarray, count: int = 80, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q = x[rng.integers(0, len(x), count)] + rng.standard_normal((count, x.shape[1])).astype(np.float32) * 0.25
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def recall_at(found: np.ndarray, truth: np.ndarray, k: int = 10) -> float:
    return float(np.mean([len(set(a[:k]) & set(b[:k])) / k for a, b in zip(found, truth)]))


def exact(x: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    s = q @ x.T
    order = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(s, order, 1), ids[order]


@pytest.fixture(scope="module")
def data():
    x = clustered(4_000)
    ids = np.arange(10, 10 + len(x), dtype=np.int64) * 3  # catalog ids are not row numbers
    return ids, x


@pytest.fixture(scope="module")
def built(data):
    ids, x = data
    return {fam: VectorIndex.build(DIM, ids, x, family=fam, policy=POLICY) for fam in ANN}


# -- the rule ---------------------------------------------------------------------------------------
def test_family_rule_at_thresholds():
    p = POLICY
    assert choose_family(0, DIM, p) == "flat"
    assert choose_family(499, DIM, p) == "flat"
    assert choose_family(500, DIM, p) == "hnsw"
    assert choose_family(1_999, DIM, p) == "hnsw"
    assert choose_family(2_000, DIM, p) == "ivf"
    # past the memory budget the float16 vectors no longer fit: compressed codes
    small = IndexPolicy(exact_max=500, hnsw_max=2_000, memory_budget=estimate_bytes("ivf", 3_000, DIM, p))
    assert choose_family(3_000, DIM, small) == "ivf"
    assert choose_family(3_001, DIM, small) == "ivfpq"
    # HNSW's graph needs more than IVF: a budget between the two skips it
    between = IndexPolicy(exact_max=500, hnsw_max=2_000, memory_budget=estimate_bytes("ivf", 1_000, DIM, p))
    assert choose_family(1_000, DIM, between) == "ivf"


def test_default_rule_for_a_clip_space():
    p = IndexPolicy(memory_budget=4 << 30)
    assert choose_family(49_999, 512, p) == "flat"
    assert choose_family(50_000, 512, p) == "hnsw"
    assert choose_family(250_000, 512, p) == "ivf"
    assert choose_family(1_000_000, 512, p) == "ivf"
    assert choose_family(10_000_000, 512, p) == "ivfpq"
    assert nlist_for(1_000_000) == 4096 and nlist_for(250_000) == 2048


def test_index_size_rule_from_settings(tmp_path, monkeypatch):
    from mmsearch.config import load_settings
    from mmsearch.library import Library

    monkeypatch.setenv("MMSEARCH_INDEX_MEMORY_MB", "100")
    monkeypatch.setenv("MMSEARCH_INDEX_EXACT_MAX", "1234")
    settings = load_settings(library=tmp_path / "lib")
    policy = vectors.policy_for(settings)
    assert policy.budget() == 100 << 20 and policy.exact_max == 1234
    assert vectors.policy_for(load_settings({}, library=tmp_path)).budget() == IndexPolicy().budget() > 0
    library = Library(settings)
    try:
        space = library.catalog.ensure_space("clip", "m", 4)
        assert library.index(space).policy.exact_max == 1234  # what the library's indexes decide with
    finally:
        library.catalog.close()


# -- recall and exact scores ------------------------------------------------------------------------
@pytest.mark.parametrize("family", ANN)
def test_ann_recall_against_exact_search(built, data, family):
    ids, x = data
    idx = built[family]
    assert idx.family == family and idx.ntotal == len(ids)
    assert idx.info()["recall"] >= 0.97  # calibrated to target + margin
    q = queries_near(x)
    _, truth = exact(x, ids, q, 10)
    _, found = idx.search(q, 10)
    assert recall_at(found, truth) >= 0.95
    # the engine asks for k' = 40 candidates: as good or better
    _, found40 = idx.search(q, 40)
    assert recall_at(found40, truth) >= 0.95


@pytest.mark.parametrize("family", ANN)
def test_returned_scores_are_exact_scores(built, data, family):
    ids, x = data
    by_id = dict(zip(ids.tolist(), x))
    q = queries_near(x, 20, seed=3)
    scores, found = built[family].search(q, 10)
    for qi in range(len(q)):
        assert (np.diff(scores[qi]) <= 1e-6).all()  # best first
        for s, i in zip(scores[qi], found[qi]):
            assert s == pytest.approx(float(by_id[int(i)] @ q[qi]), abs=1e-5)


def test_ivfpq_reranking_turns_code_scores_into_exact_ones(built, data):
    ids, x = data
    idx = built["ivfpq"]
    q = queries_near(x, 5, seed=4)
    raw_scores, raw_rows = idx.structure.candidates(q, 10)  # the PQ codes' own ranking
    exact_scores = np.array([[x[r] @ q[i] for r in raw_rows[i]] for i in range(len(q))])
    assert np.abs(raw_scores - exact_scores).max() > 1e-4  # PQ scores are approximate ...
    scores, _found = idx.search(q, 10)
    truth_s, _ = exact(x, ids, q, 10)
    assert np.abs(scores - truth_s).max() < 1e-5  # ... re-ranked ones are exact


# -- persistence -------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", ("flat",) + ANN)
def test_snapshot_roundtrip_of_every_family(tmp_path, data, family):
    ids, x = data
    idx = VectorIndex.build(DIM, ids[:3000], x[:3000], family=family, policy=POLICY, epoch=5)
    idx.remove(ids[:10])
    q = queries_near(x, 10, seed=5)
    before = idx.search(q, 10)
    path = tmp_path / "clip.index"
    idx.save(path, {"space": "clip", "model_id": "m"})
    after_save = idx.search(q, 10)  # ivfpq now reads its vectors from the snapshot's memory map
    loaded, meta = VectorIndex.load(path)
    assert meta["family"] == family and meta["epoch"] == 5 and meta["model_id"] == "m"
    assert loaded.family == family and loaded.epoch == 5 and loaded.ntotal == 2990
    assert loaded.params == idx.params
    assert sorted(loaded.ids()) == sorted(ids[10:3000])
    for got in (after_save, loaded.search(q, 10)):
        np.testing.assert_array_equal(got[1], before[1])
        np.testing.assert_allclose(got[0], before[0], atol=1e-6)
    # a loaded index keeps taking changes and saves again
    loaded.add(ids[3000:3100], x[3000:3100])
    loaded.remove(ids[3000:3010])
    assert loaded.ntotal == 2990 + 90
    np.testing.assert_allclose(loaded.reconstruct(int(ids[3050])), x[3050], atol=1e-3)
    loaded.save(path, {"space": "clip", "model_id": "m"})
    again, _ = VectorIndex.load(path)
    assert sorted(again.ids()) == sorted(loaded.ids())
    np.testing.assert_array_equal(again.search(q, 10)[1], loaded.search(q, 10)[1])


def test_damaged_snapshot_raises_library_error(tmp_path, built):
    # (a copy: the saved index memory-maps its snapshot, which mmsearch only ever replaces by rename)
    path = tmp_path / "clip.index"
    built["ivfpq"].save(path, {"space": "clip"})
    raw = path.read_bytes()
    for i, broken in enumerate((raw[:100], raw[: len(raw) // 2], b"MMSIDX02" + raw[8:40])):
        (tmp_path / f"broken{i}.index").write_bytes(broken)
        with pytest.raises(LibraryError, match="damaged"):
            VectorIndex.load(tmp_path / f"broken{i}.index")


def test_version_1_snapshot_still_loads(tmp_path, data):
    ids, x = data
    flat = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
    flat.add_with_ids(x[:50], ids[:50])
    blob = json.dumps({"space": "clip", "dim": DIM, "epoch": 3, "ntotal": 50}).encode()
    path = tmp_path / "old.index"
    path.write_bytes(vectors.MAGIC + struct.pack("<I", len(blob)) + blob + faiss.serialize_index(flat).tobytes())
    idx, _meta = VectorIndex.load(path)
    assert idx.family == "flat" and idx.epoch == 3 and idx.ntotal == 50
    assert idx.search(x[:1], 1)[1][0, 0] == ids[0]


def test_version_2_file_layout(tmp_path, data):
    """MMSIDX02: magic, header length, JSON header, then 64-byte aligned sections (existing files stay readable)."""
    ids, x = data
    idx = VectorIndex.build(DIM, ids[:600], x[:600], family="hnsw", policy=POLICY, epoch=2)
    idx.remove(ids[:5])
    path = tmp_path / "clip.index"
    idx.save(path, {"space": "clip", "model_id": "m"})
    raw = path.read_bytes()
    assert raw[:8] == vectors.MAGIC2
    (n,) = struct.unpack("<I", raw[8:12])
    meta = json.loads(raw[12 : 12 + n])
    base = 12 + n + (-(12 + n) % 64)
    assert list(meta) == ["space", "model_id", "dim", "epoch", "ntotal", "family", "params", "rows", "dead",
                          "sections"]
    assert (meta["family"], meta["epoch"], meta["rows"], meta["dead"], meta["ntotal"]) == ("hnsw", 2, 600, 5, 595)
    assert list(meta["sections"]) == ["faiss", "ids", "alive"]
    assert all(off % 64 == 0 for off, _ in meta["sections"].values())
    off, size = meta["sections"]["ids"]
    np.testing.assert_array_equal(np.frombuffer(raw[base + off : base + off + size], np.int64), ids[:600])
    off, size = meta["sections"]["alive"]
    alive = np.frombuffer(raw[base + off : base + off + size], np.bool_)
    assert alive.sum() == 595 and not alive[:5].any()
    assert len(raw) == base + off + size + (-size % 64)


@pytest.mark.parametrize("damage", ["truncated", "magic", "count", "family", "missing", "v1-truncated"])
def test_snapshot_module_rejects_damaged_files(tmp_path, data, damage):
    ids, x = data
    path = tmp_path / "clip.index"
    snapshot.save(path, VectorIndex.build(DIM, ids[:600], x[:600], family="hnsw", policy=POLICY).structure,
                  {"space": "clip"}, epoch=1)
    raw = path.read_bytes()
    if damage == "truncated":
        raw = raw[: len(raw) - 100]
    elif damage == "magic":
        raw = b"MMSIDX99" + raw[8:]
    elif damage == "count":  # same header length: only the header's word disagrees with the sections
        raw = raw.replace(b'"ntotal": 600', b'"ntotal": 601', 1)
    elif damage == "family":
        raw = raw.replace(b'"family": "hnsw"', b'"family": "nope"', 1)
    elif damage == "v1-truncated":
        flat = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
        flat.add_with_ids(x[:50], ids[:50])
        blob = json.dumps({"dim": DIM, "ntotal": 50}).encode()
        raw = (vectors.MAGIC + struct.pack("<I", len(blob)) + blob + faiss.serialize_index(flat).tobytes())[:-64]
    if damage == "missing":
        path = tmp_path / "absent.index"
    else:
        path.write_bytes(raw)
    with pytest.raises(LibraryError, match="cannot read" if damage == "missing" else "damaged"):
        snapshot.load(path)


# -- the family table --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(FAMILIES))
def test_each_family_of_the_table_adds_searches_removes_and_serializes(tmp_path, data, name):
    ids, x = data
    kind = FAMILIES[name]
    assert kind.name == name
    assert kind.resident_bytes(3_000, DIM, POLICY) == estimate_bytes(name, 3_000, DIM, POLICY) > 0
    family = kind.build(DIM, ids[:1500], x[:1500], POLICY)
    family.calibrate(POLICY)
    family.add(ids[1500:1600], x[1500:1600])
    assert family.remove(ids[:50]) == 50 and family.remove(ids[:50]) == 0
    assert family.ntotal == 1550 and sorted(family.ids()) == sorted(ids[50:1600])
    np.testing.assert_allclose(family.reconstruct(int(ids[1550])), x[1550], atol=1e-3)
    with pytest.raises(KeyError):
        family.reconstruct(int(ids[0]))
    live = np.arange(50, 1600)
    q = queries_near(x[live], 30, seed=31)
    _, truth = exact(x[live], ids[live], q, 10)
    scores, found = family.search(q, 10)
    assert recall_at(found, truth) >= 0.9
    assert not set(found.ravel().tolist()) & set(ids[:50].tolist())
    assert recall_at(family.exact_search(q, 10)[1], truth) == 1.0
    path = tmp_path / f"{name}.index"
    snapshot.save(path, family, {"space": "clip"}, epoch=9)
    loaded, meta = snapshot.load(path)
    assert type(loaded) is kind and meta["family"] == name and meta["epoch"] == 9
    assert (loaded.ntotal, loaded.dead, loaded.params) == (1550, family.dead, family.params)
    again_scores, again = loaded.search(q, 10)
    np.testing.assert_array_equal(again, found)
    np.testing.assert_allclose(again_scores, scores, atol=1e-6)
    by_id = {int(i): v for block_ids, block in loaded.iter_live() for i, v in zip(block_ids, block)}
    assert sorted(by_id) == sorted(ids[50:1600].tolist())
    np.testing.assert_array_equal(by_id[int(ids[1599])], x[1599].astype(np.float16))


# -- removal, compaction, rebuild -------------------------------------------------------------------
@pytest.mark.parametrize("family", ANN)
def test_removed_vectors_never_come_back_and_compaction(data, family):
    ids, x = data
    idx = VectorIndex.build(DIM, ids[:2000], x[:2000], policy=PINNED[family])
    assert idx.family == family
    gone = ids[:300]
    assert idx.remove(gone) == 300 and idx.remove(gone) == 0
    q = x[:300]  # each removed vector's own query
    _, found = idx.search(q, 10)
    assert not set(found.ravel().tolist()) & set(gone.tolist())
    assert idx.rebuild_reason() is None  # 15% dead: under the compaction threshold
    idx.remove(ids[300:450])
    assert "removed" in idx.rebuild_reason()
    idx.maybe_rebuild()
    assert idx.dead_rows == 0 and idx.ntotal == 1550
    assert sorted(idx.ids()) == sorted(ids[450:2000])


def test_family_follows_size_with_hysteresis(data):
    ids, x = data
    idx = VectorIndex(DIM, policy=POLICY)
    idx.add(ids[:499], x[:499])
    assert idx.maybe_rebuild() is None and idx.family == "flat"
    idx.add(ids[499:600], x[499:600])
    assert "flat -> hnsw" in idx.maybe_rebuild() and idx.family == "hnsw"
    idx.remove(ids[:100])
    assert idx.rebuild_reason() is None
    idx.remove(ids[100:150])  # 450 left: below exact_max, inside the hysteresis band; 25% dead
    assert "removed" in idx.maybe_rebuild()
    assert idx.family == "hnsw" and idx.dead_rows == 0 and idx.ntotal == 450  # compacted, same family
    idx.remove(ids[150:300])  # 300 left
    assert "hnsw -> flat" in idx.maybe_rebuild() and idx.family == "flat" and idx.ntotal == 300
    idx.add(ids[600:2500], x[600:2500])
    idx.maybe_rebuild()
    assert idx.family == "ivf" and idx.ntotal == 2200
    assert idx.params["trained_n"] == 2200
    idx.add(ids[2500:4000], x[2500:4000])  # < 4x the trained size: no retraining
    assert idx.rebuild_reason() is None


def _writer_library(tmp_path, monkeypatch, x: np.ndarray):
    """A writer Library under POLICY's size rule (exact below 500 vectors), its clip space, a
    function that commits rows of ``x`` the way the pipeline does, and the settings."""
    from mmsearch.catalog import NewSegment
    from mmsearch.config import load_settings
    from mmsearch.library import Library

    monkeypatch.setattr(size_rule, "DEFAULT_POLICY", POLICY)  # hnsw_max is not a setting
    settings = load_settings(library=tmp_path / "lib", index_exact_max=POLICY.exact_max,
                             index_memory_mb=POLICY.memory_budget >> 20)
    lib = Library(settings)
    lib.acquire_writer()
    space = lib.catalog.ensure_space("clip", "test-model", DIM)
    lib.index(space)

    def write(rows):
        items = [({"path": f"/m/{i}.jpg", "content_hash": f"h{i}", "size": 1, "mtime": 0.0, "kind": "image"},
                  [NewSegment(kind="image", vector=x[i])]) for i in rows]
        lib.apply(lib.catalog.write_media(items, "clip"), space)

    return lib, space, write, settings


def test_library_rebuilds_when_a_space_crosses_a_threshold(tmp_path, monkeypatch):
    from mmsearch.library import Library

    x = clustered(800, seed=11)
    lib, space, write, settings = _writer_library(tmp_path, monkeypatch, x)
    write(range(400))
    lib.save(force=True)
    assert lib.index(space).family == "flat"
    write(range(400, 800))
    lib.save(force=True)
    idx = lib.index(space)
    assert idx.family == "hnsw" and idx.ntotal == 800
    ids_before = set(idx.ids())
    assert ids_before == set(lib.catalog.vector_ids(space.id))
    lib.close()

    reopened = Library(settings)
    space = reopened.catalog.space("clip")
    idx = reopened.index(space)
    assert idx.family == "hnsw" and set(idx.ids()) == ids_before  # from the snapshot, not a replay
    scores, _found = idx.search(x[5:6], 1)
    assert scores[0, 0] == pytest.approx(1.0, abs=1e-3)
    # a space that shrinks goes back to exact search
    reopened.acquire_writer()
    media = [m.id for m in reopened.catalog.all_media()][:500]
    reopened.apply(__import__("mmsearch.catalog", fromlist=["WriteResult"]).WriteResult(
        [], [], reopened.catalog.remove_media(media)), None)
    reopened.save(force=True)
    assert reopened.index(space).family == "flat" and reopened.index(space).ntotal == 300
    reopened.close()


# -- torch search ------------------------------------------------------------------------------------
def test_torch_search_equals_faiss_exact(data, built):
    ids, x = data
    flat = VectorIndex.build(DIM, ids, x, family="flat", policy=POLICY)
    q = queries_near(x, 30, seed=9)
    f_scores, f_ids = flat.search(q, 10)
    t_scores, t_ids = flat.torch_search(q, 10, device="cpu")
    np.testing.assert_array_equal(t_ids, f_ids)
    np.testing.assert_allclose(t_scores, f_scores, atol=1e-5)
    # every family holds the same vectors: torch (exact) over an ANN index equals exact search too
    for family in ANN:
        _s, i = built[family].torch_search(q, 10, device="cpu")
        np.testing.assert_array_equal(i, f_ids)
        _e_s, e_i = built[family].exact_search(q, 10)
        np.testing.assert_array_equal(e_i, f_ids)


def test_big_rebuilds_spill_to_disk_and_wide_searches_scan(data):
    ids, x = data
    idx = VectorIndex.build(DIM, ids, x, policy=PINNED["ivfpq"])
    spilled_ids, spilled = idx.live_vectors(spill_bytes=0)
    assert isinstance(spilled, np.memmap) and len(spilled) == len(ids)
    again = VectorIndex.build(DIM, spilled_ids, spilled, family="ivfpq", policy=PINNED["ivfpq"])
    assert np.shares_memory(again.structure.store.base, spilled)  # float16 vectors on disk are used in place
    q = queries_near(x, 10, seed=12)
    np.testing.assert_array_equal(again.search(q, 10)[1], idx.search(q, 10)[1])
    # a search wider than any ANN list (a filter widening k' towards the whole space) is exact
    wide = vectors.ANN_MAX_K + 1
    np.testing.assert_array_equal(idx.search(q[:2], wide)[1], idx.exact_search(q[:2], wide)[1])


def test_periodic_snapshots_back_off_when_a_snapshot_is_slow(tmp_path, monkeypatch):
    """Unforced saves wait max(every, 10 x the last save's duration); forced ones always write."""
    from mmsearch import library as library_module
    from mmsearch.catalog import NewSegment
    from mmsearch.config import load_settings
    from mmsearch.library import Library

    clock = [1000.0]
    monkeypatch.setattr(library_module.time, "monotonic", lambda: clock[0])
    writes = []
    real_save = VectorIndex.save

    def slow_save(self, path, meta):
        clock[0] += 5.0  # a 5 s snapshot
        writes.append(clock[0])
        return real_save(self, path, meta)

    monkeypatch.setattr(VectorIndex, "save", slow_save)
    lib = Library(load_settings(library=tmp_path / "lib"))
    lib.acquire_writer()
    space = lib.catalog.ensure_space("clip", "test-model", DIM)
    lib.index(space)
    x = clustered(30, seed=5)

    def write(i):
        item = ({"path": f"/m/{i}.jpg", "content_hash": f"h{i}", "size": 1, "mtime": 0.0, "kind": "image"},
                [NewSegment(kind="image", vector=x[i])])
        lib.apply(lib.catalog.write_media([item], "clip"), space)

    write(0)
    lib.save(force=True)
    assert len(writes) == 1
    write(1)
    clock[0] += 31  # past `every` (30 s) but not past 10 x 5 s
    lib.save()
    assert len(writes) == 1
    clock[0] += 20  # 51 s since the last save
    lib.save()
    assert len(writes) == 2
    write(2)
    lib.save(force=True)
    assert len(writes) == 3
    lib.close()


def _gated_build(monkeypatch, gate, fail: bool = False):
    """VectorIndex.build that waits for ``gate`` (so a test can act while a rebuild is under way)."""
    real = VectorIndex.build.__func__

    def build(cls, *args, **kwargs):
        assert gate.wait(30)
        if fail:
            raise MemoryError("test: the build ran out of memory")
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(VectorIndex, "build", classmethod(build))


@pytest.mark.parametrize("catch_up", [2_000, 0], ids=["swap_replays", "builder_catches_up"])
def test_background_rebuild_takes_the_changes_made_meanwhile(monkeypatch, catch_up):
    import threading

    x = clustered(700, seed=21)
    idx = VectorIndex(DIM, policy=replace(POLICY, catch_up_rows=catch_up))
    idx.add(range(600), x[:600])
    gate = threading.Event()
    _gated_build(monkeypatch, gate)
    assert "flat -> hnsw" in idx.start_rebuild()
    assert idx.rebuilding and idx.start_rebuild() is None  # one at a time
    # meanwhile: the live index answers and takes adds and removes
    idx.add(range(600, 700), x[600:])
    assert idx.remove(range(40)) == 40
    assert idx.family == "flat" and int(idx.search(x[650:651], 1)[1][0, 0]) == 650
    assert idx.finish_rebuild() is False  # still building
    job = idx.background_rebuild
    gate.set()
    job.join()
    assert job.replayed == (0 if catch_up else 2)  # the add and the remove, applied by the builder
    assert idx.rebuilding and idx.family == "flat"  # joined, not swapped in
    assert idx.finish_rebuild(wait=True) is True
    assert idx.family == "hnsw" and not idx.rebuilding
    assert set(idx.ids()) == set(range(40, 700))
    np.testing.assert_array_equal(idx.reconstruct(699), x[699])  # added during the build
    with pytest.raises(KeyError):
        idx.reconstruct(5)  # removed during the build
    q = clustered(50, seed=22)
    found, truth = idx.search(q, 10)[1], idx.exact_search(q, 10)[1]
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)]) >= 0.95


def test_a_failed_background_rebuild_keeps_the_current_index(monkeypatch):
    import threading

    x = clustered(600, seed=23)
    idx = VectorIndex(DIM, policy=POLICY)
    idx.add(range(600), x)
    gate = threading.Event()
    gate.set()
    _gated_build(monkeypatch, gate, fail=True)
    assert idx.start_rebuild() is not None
    assert idx.finish_rebuild(wait=True) is False
    assert idx.family == "flat" and idx.ntotal == 600 and not idx.rebuilding
    idx.add([600], clustered(1, seed=24))  # no journal left behind
    assert idx.background_rebuild is None and idx.ntotal == 601


def test_library_rebuilds_in_the_background_between_saves_and_waits_at_the_end(tmp_path, monkeypatch):
    import threading

    from mmsearch.library import Library

    lib, space, write, settings = _writer_library(tmp_path, monkeypatch, clustered(700, seed=25))
    gate = threading.Event()
    _gated_build(monkeypatch, gate)
    write(range(600))
    lib.save(every=0)  # unforced: starts the rebuild and returns at once
    idx = lib.index(space)
    assert idx.rebuilding and idx.family == "flat"
    write(range(600, 700))  # the ingest goes on meanwhile
    gate.set()
    lib.save(force=True)  # the end of the run: waits and swaps
    assert idx.family == "hnsw" and not idx.rebuilding
    assert set(idx.ids()) == set(lib.catalog.vector_ids(space.id))
    lib.close()
    reopened = Library(settings)
    try:
        assert reopened.index(reopened.catalog.space("clip")).family == "hnsw"  # the snapshot has it
    finally:
        reopened.close()
