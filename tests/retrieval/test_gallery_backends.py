"""One suite, every backend: memory, LanceDB and Milvus (milvus-lite) must give the same answers to the same calls.

Expected results are computed here by brute force on the same data (numpy), never copied from a backend.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from iaunet_hf.retrieval import open_gallery
from iaunet_hf.retrieval.memory import GrowableRows

DIM = 16


@pytest.fixture(params=["memory", "lancedb", "milvus"])
def gallery_uri(request, tmp_path):
    """A fresh, persistent gallery URI of each backend."""
    if request.param == "lancedb":
        pytest.importorskip("lancedb")
        return str(tmp_path / "lance_gallery")
    if request.param == "milvus":
        pytest.importorskip("pymilvus")
        pytest.importorskip("milvus_lite")
        return str(tmp_path / "gallery.db")
    return f"memory://{tmp_path / 'memory_gallery'}"


@pytest.fixture(scope="module")
def rows():
    """600 embeddings of 60 identities (clustered), 4 cameras, timestamps, two sources, and 12 queries."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(60, DIM))
    pids = np.arange(600) % 60
    embeddings = (centres[pids] + 0.6 * rng.normal(size=(600, DIM))).astype(np.float32)
    metadata = {
        "key": [f"cam{i % 4}/{i:05d}.jpg" for i in range(600)],
        "pid": pids,
        "camid": np.arange(600) % 4,
        "timestamp": np.arange(600) * 0.5,
        "source": np.where(np.arange(600) < 300, "day1", "day2").tolist(),
    }
    queries = (centres[:12] + 0.6 * rng.normal(size=(12, DIM))).astype(np.float32)
    return embeddings, metadata, queries


def unit(array):
    return array / np.linalg.norm(array, axis=1, keepdims=True)


def exact_keys(rows, k, mask=None):
    embeddings, metadata, queries = rows
    scores = unit(queries) @ unit(embeddings).T
    if mask is not None:
        scores[:, ~mask] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.array(metadata["key"], dtype=object)[order], np.take_along_axis(scores, order, 1)


def filled(uri, rows):
    gallery = open_gallery(uri)
    embeddings, metadata, _ = rows
    assert gallery.add(embeddings, metadata, batch_size=128) == 600  # streamed in 5 batches
    return gallery


def test_search_is_exact_and_re_adding_keys_is_skipped(gallery_uri, rows):
    with filled(gallery_uri, rows) as gallery:
        embeddings, metadata, queries = rows
        assert gallery.add(embeddings[:50], {"key": metadata["key"][:50]}) == 0
        assert gallery.count() == len(gallery) == 600
        hits = gallery.search(queries, k=5)
        keys, scores = exact_keys(rows, 5)
        np.testing.assert_array_equal(hits.keys, keys)
        np.testing.assert_allclose(hits.similarities, scores, atol=1e-5)
        best = metadata["key"].index(hits.keys[3, 0])
        assert hits.metadata[3][0] == {
            "key": metadata["key"][best],
            "pid": best % 60,
            "camid": best % 4,
            "timestamp": best * 0.5,
            "source": "day1" if best < 300 else "day2",
            "track_id": -1,
            "frame": -1,
            "path": "",
        }


@pytest.mark.parametrize(
    "where, keep",
    [
        ("camid != 3", lambda m: m["camid"] != 3),
        (
            "camid = 1 AND timestamp BETWEEN 10 AND 200",
            lambda m: (m["camid"] == 1) & (m["timestamp"] >= 10) & (m["timestamp"] <= 200),
        ),
        (
            "source = 'day2' OR pid IN (0, 5, 7)",
            lambda m: (np.array(m["source"]) == "day2") | np.isin(m["pid"], [0, 5, 7]),
        ),
        (
            "NOT (camid < 2) AND timestamp NOT BETWEEN 0 AND 100",
            lambda m: (m["camid"] >= 2) & ~((m["timestamp"] >= 0) & (m["timestamp"] <= 100)),
        ),
    ],
)
def test_filters_select_the_same_rows_everywhere(gallery_uri, rows, where, keep):
    mask = keep(rows[1])
    with filled(gallery_uri, rows) as gallery:
        assert gallery.count(where) == int(mask.sum())
        assert gallery.keys(where) == set(np.array(rows[1]["key"])[mask])
        hits = gallery.search(rows[2], k=4, where=where)
        np.testing.assert_array_equal(hits.keys, exact_keys(rows, 4, mask)[0])


def test_one_filter_per_query_and_short_results(gallery_uri, rows):
    with filled(gallery_uri, rows) as gallery:
        filters = [f"NOT (pid = {pid} AND camid = 0)" for pid in range(12)]
        hits = gallery.search(rows[2], k=3, where=filters)
        for query in range(len(filters)):
            mask = ~((rows[1]["pid"] == query) & (rows[1]["camid"] == 0))
            np.testing.assert_array_equal(hits.keys[query], exact_keys(rows, 3, mask)[0][query])
        few = gallery.search(rows[2][:2], k=8, where="pid = 4 AND timestamp < 100")  # 4 such rows
        assert [len(found) for found in few.metadata] == [4, 4]
        assert np.isneginf(few.similarities[:, 4:]).all() and (few.keys[:, 4:] == "").all()


def test_delete_and_count(gallery_uri, rows):
    with filled(gallery_uri, rows) as gallery:
        assert gallery.delete("source = 'day1' AND camid = 2") == 75
        assert gallery.count() == 525 and gallery.count("camid = 2") == 75
        hits = gallery.search(rows[2], k=10)
        assert not any(
            row["source"] == "day1" and row["camid"] == 2 for found in hits.metadata for row in found
        )


def test_persisted_and_reopened_by_uri(gallery_uri, rows):
    filled(gallery_uri, rows).close()
    with open_gallery(gallery_uri) as reopened:
        assert reopened.dim == DIM and reopened.count() == 600
        np.testing.assert_array_equal(reopened.search(rows[2], k=5).keys, exact_keys(rows, 5)[0])
        exported = list(reopened.batches(batch_size=256))
        assert sum(len(batch["key"]) for batch in exported) == 600
        assert all(batch["vector"].shape[1] == DIM for batch in exported)
    with pytest.raises(ValueError, match=f"holds {DIM}-d embeddings, expected dim 8"):
        open_gallery(gallery_uri, dim=8)


def test_concurrent_readers_agree(gallery_uri, rows):
    filled(gallery_uri, rows).close()
    readers = [open_gallery(gallery_uri), open_gallery(gallery_uri)]
    expected = exact_keys(rows, 4)[0]

    def search(position):
        return readers[position % 2].search(rows[2], k=4, where=None).keys

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(search, range(8)))
    for result in results:
        np.testing.assert_array_equal(result, expected)
    for reader in readers:
        reader.close()


def test_ann_index_with_exact_refinement(gallery_uri, rows):
    with filled(gallery_uri, rows) as gallery:
        gallery.create_index(
            "ivf_pq", **({} if gallery_uri.endswith(".db") else {"num_partitions": 4, "num_sub_vectors": 4})
        )
        hits = gallery.search(rows[2], k=10, nprobes=4, refine_factor=20)
        keys, _ = exact_keys(rows, 10)
        recall = np.mean([len(set(found) & set(true)) / 10 for found, true in zip(hits.keys, keys)])
        assert recall >= 0.9
        # the returned similarities are the exact cosine of the returned rows, in descending order
        vectors = {key: unit(rows[0])[rows[1]["key"].index(key)] for key in hits.keys.ravel()}
        exact = np.array(
            [[vectors[key] @ unit(rows[2])[q] for key in row] for q, row in enumerate(hits.keys)]
        )
        np.testing.assert_allclose(hits.similarities, exact, atol=1e-5)
        assert (np.diff(hits.similarities, axis=1) <= 1e-7).all()
    with open_gallery(gallery_uri) as reopened:  # the index is persisted and loads again
        np.testing.assert_array_equal(
            reopened.search(rows[2], k=10, nprobes=4, refine_factor=20).keys, hits.keys
        )


def test_bad_input_is_refused_with_a_clear_error(gallery_uri, rows):
    embeddings, metadata, queries = rows
    with filled(gallery_uri, rows) as gallery:
        with pytest.raises(ValueError, match="embeddings: expected dimension 16, found 5"):
            gallery.add(embeddings[:3, :5])
        poisoned = embeddings[:4].copy()
        poisoned[2, 1] = np.nan
        with pytest.raises(
            ValueError, match=r"embeddings: expected finite values, found 1 of 4 rows .*\(rows 2\)"
        ):
            gallery.add(poisoned, {"key": ["a", "b", "c", "d"]})
        assert gallery.count() == 600  # nothing of the refused batch was written
        with pytest.raises(ValueError, match="where: unknown column 'camera'"):
            gallery.search(queries, k=3, where="camera != 3")
        with pytest.raises(ValueError, match="column 'source' expects a quoted text"):
            gallery.count("source = 3")
        with pytest.raises(ValueError, match="metadata: unknown column"):
            gallery.add(embeddings[:1], {"key": ["x"], "colour": ["red"]})
        with pytest.raises(ValueError, match="queries: expected dimension 16"):
            gallery.search(queries[:, :4], k=3)
        with pytest.raises(ValueError, match="where: expected one filter per query"):
            gallery.search(queries, k=3, where=["camid = 1"])
        with pytest.raises(ValueError, match="where: expected a filter"):
            gallery.delete("")


def test_memory_adds_are_amortised_constant_time():
    table = GrowableRows(4, {"key": object})
    reallocations, buffer = 0, table.vectors
    for i in range(5000):
        table.append(np.ones((1, 4), np.float32), {"key": np.array([str(i)], dtype=object)})
        reallocations += table.vectors is not buffer
        buffer = table.vectors
    assert table.size == 5000 and reallocations <= 10  # doubling: log2(5000 / 16) + 1 copies, not 5000
