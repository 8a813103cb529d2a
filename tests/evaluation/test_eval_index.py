"""GalleryIndex: exact top-k equal to brute force, FAISS equal to torch, save/load round trip."""

import json

import numpy as np
import pytest
import torch

from iaunet_hf.evaluation import GalleryIndex, faiss_available


@pytest.fixture
def gallery():
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(300, 24)).astype(np.float32)
    metadata = [
        {"pid": int(i % 17), "camid": int(i % 5), "path": f"{i % 17:04d}_c{i % 5 + 1}s1_{i:06d}_00.jpg"}
        for i in range(300)
    ]
    return embeddings, metadata, rng.normal(size=(20, 24)).astype(np.float32)


def brute_force(embeddings, queries, k):
    unit_g = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    unit_q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    similarity = unit_q @ unit_g.T
    order = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(similarity, order, 1), order


def test_torch_search_equals_brute_force(gallery):
    embeddings, metadata, queries = gallery
    index = GalleryIndex(24, use_faiss=False)
    index.add(embeddings[:100], metadata[:100])
    index.add(torch.from_numpy(embeddings[100:]), metadata[100:])
    result = index.search(queries, k=7, chunk_size=6)
    similarity, order = brute_force(embeddings, queries, 7)
    np.testing.assert_array_equal(result.indices.numpy(), order)
    np.testing.assert_allclose(result.similarities.numpy(), similarity, atol=1e-5)
    np.testing.assert_allclose(result.distances.numpy(), 1 - similarity, atol=1e-5)
    assert result.metadata[3][0] == metadata[order[3, 0]]


@pytest.mark.skipif(not faiss_available(), reason="faiss is an optional extra")
def test_faiss_gives_the_same_neighbours(gallery):
    embeddings, metadata, queries = gallery
    exact = GalleryIndex(24, use_faiss=False)
    with_faiss = GalleryIndex(24, use_faiss=True)
    for index in (exact, with_faiss):
        index.add(embeddings, metadata)
    first, second = exact.search(queries, k=10), with_faiss.search(queries, k=10)
    np.testing.assert_array_equal(first.indices.numpy(), second.indices.numpy())
    np.testing.assert_allclose(first.similarities.numpy(), second.similarities.numpy(), atol=1e-5)
    with_faiss.add(queries[:2], [{"pid": 99}, {"pid": 98}])  # added after the FAISS index was built
    assert with_faiss.search(queries[:2], k=1).metadata == [[{"pid": 99}], [{"pid": 98}]]


def test_save_and_load_round_trip(gallery, tmp_path):
    embeddings, metadata, queries = gallery
    index = GalleryIndex(24, use_faiss=False)
    index.add(embeddings, [{**m, "pid": np.int64(m["pid"])} for m in metadata])  # numpy scalars serialise
    index.save(tmp_path / "index")
    assert json.loads((tmp_path / "index" / "gallery_index.json").read_text())["metadata"][5] == metadata[5]
    loaded = GalleryIndex.load(tmp_path / "index", use_faiss=False)
    assert len(loaded) == 300
    before, after = index.search(queries, k=5), loaded.search(queries, k=5)
    np.testing.assert_array_equal(before.indices.numpy(), after.indices.numpy())
    assert after.metadata == before.metadata


def test_errors_name_what_was_wrong(gallery, tmp_path):
    embeddings, metadata, _ = gallery
    index = GalleryIndex(24, use_faiss=False)
    with pytest.raises(ValueError, match="metadata: expected 300 entries"):
        index.add(embeddings, metadata[:10])
    with pytest.raises(ValueError, match="embeddings: expected dimension 24"):
        index.add(embeddings[:, :5])
    index.add(embeddings)
    with pytest.raises(ValueError, match="k: expected 1 <= k <= 300"):
        index.search(embeddings[:1], k=301)
    with pytest.raises(FileNotFoundError, match="gallery_index.safetensors"):
        GalleryIndex.load(tmp_path / "missing")


@pytest.mark.reliability
@pytest.mark.parametrize(
    "use_faiss",
    [
        False,
        pytest.param(
            True, marks=pytest.mark.skipif(not faiss_available(), reason="faiss is an optional extra")
        ),
    ],
)
def test_non_finite_embeddings_are_refused(gallery, tmp_path, use_faiss):
    embeddings, metadata, queries = gallery
    index = GalleryIndex(24, use_faiss=use_faiss)
    poisoned = embeddings.copy()
    poisoned[[4, 9], 3] = [np.nan, np.inf]
    with pytest.raises(
        ValueError, match=r"embeddings: expected finite values, found 2 of 300 rows .*\(rows 4, 9\)"
    ):
        index.add(poisoned, metadata)
    assert len(index) == 0  # nothing was added
    index.add(embeddings, metadata)
    bad_queries = queries.copy()
    bad_queries[0, 0] = -np.inf
    with pytest.raises(ValueError, match=r"queries: expected finite values, found 1 of 20 rows .*\(rows 0\)"):
        index.search(bad_queries, k=3)
    # a saved index whose embeddings file was altered is refused on load
    index.save(tmp_path / "index")
    from safetensors.numpy import save_file

    save_file({"embeddings": poisoned}, str(tmp_path / "index" / "gallery_index.safetensors"))
    with pytest.raises(ValueError, match="gallery_index.safetensors: expected finite values, found 2"):
        GalleryIndex.load(tmp_path / "index", use_faiss=use_faiss)
