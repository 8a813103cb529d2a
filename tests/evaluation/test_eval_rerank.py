"""k-reciprocal re-ranking against a dense, loop-by-loop implementation of Zhong et al. (CVPR 2017)."""

import numpy as np
import pytest

from iaunet_hf.evaluation import evaluate_reid, k_reciprocal_rerank, pairwise_distance


def dense_rerank(query, gallery, k1, k2, lambda_value):
    """Straightforward version: full N x N matrices, sets built one item at a time."""
    features = np.concatenate([query, gallery])
    num_query, num_items = len(query), len(features)
    squared = ((features[:, None, :] - features[None, :, :]) ** 2).sum(-1)
    original = squared / squared.max(axis=1, keepdims=True)
    ranking = np.argsort(original, axis=1, kind="stable")

    def reciprocal(i, k):
        return [j for j in ranking[i, : k + 1] if i in ranking[j, : k + 1]]

    weights = np.zeros((num_items, num_items))
    for i in range(num_items):
        base = reciprocal(i, k1)
        expanded = set(base)
        for candidate in base:
            candidate_set = reciprocal(candidate, int(np.around(k1 / 2)))
            if len(set(candidate_set) & set(base)) > 2 / 3 * len(candidate_set):
                expanded |= set(candidate_set)
        members = sorted(expanded)
        weight = np.exp(-original[i, members])
        weights[i, members] = weight / weight.sum()
    if k2 > 1:
        weights = np.stack([weights[ranking[i, :k2]].mean(axis=0) for i in range(num_items)])
    jaccard = np.zeros((num_query, num_items - num_query))
    for i in range(num_query):
        for j in range(num_items - num_query):
            shared = np.minimum(weights[i], weights[num_query + j]).sum()
            jaccard[i, j] = 1 - shared / (2 - shared)
    return (1 - lambda_value) * jaccard + lambda_value * original[:num_query, num_query:]


def clustered(rng, num_items, num_ids=6, dim=12):
    pids = rng.integers(0, num_ids, num_items)
    centres = rng.normal(size=(num_ids, dim))
    return centres[pids] + 0.6 * rng.normal(size=(num_items, dim)), pids


@pytest.mark.parametrize(
    ("num_query", "num_gallery", "k1", "k2", "lambda_value", "chunk_size", "pair_chunk"),
    [
        (10, 50, 20, 6, 0.3, 7, 1 << 24),
        (15, 40, 5, 3, 0.5, 100, 90),  # several Jaccard steps, bounded by pairs and by rows
        (8, 30, 7, 1, 0.0, 4, 1),  # one query per Jaccard step
        (12, 45, 15, 6, 1.0, 16, 1 << 24),
    ],
)
def test_matches_dense_reference(num_query, num_gallery, k1, k2, lambda_value, chunk_size, pair_chunk):
    rng = np.random.default_rng(k1 + num_query)
    features, _ = clustered(rng, num_query + num_gallery)
    query, gallery = features[:num_query], features[num_query:]
    expected = dense_rerank(query, gallery, k1, k2, lambda_value)
    result = k_reciprocal_rerank(
        query, gallery, k1, k2, lambda_value, chunk_size=chunk_size, progress=False, pair_chunk=pair_chunk
    )
    assert result.shape == (num_query, num_gallery)
    np.testing.assert_allclose(result.numpy(), expected, atol=1e-10)


def test_cosine_metric_is_the_formulation_on_unit_vectors():
    rng = np.random.default_rng(4)
    features, _ = clustered(rng, 50)
    query, gallery = features[:12], features[12:]
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    expected = dense_rerank(unit[:12], unit[12:], 10, 4, 0.3)
    result = k_reciprocal_rerank(query, gallery, 10, 4, 0.3, metric="cosine", chunk_size=5, progress=False)
    np.testing.assert_allclose(result.numpy(), expected, atol=1e-10)


def test_float32_agrees_and_reranking_helps_clustered_data():
    rng = np.random.default_rng(1)
    features, pids = clustered(rng, 120, num_ids=8)
    cams = rng.integers(0, 3, 120)
    query, gallery = features[:30], features[30:]
    reranked64 = k_reciprocal_rerank(query, gallery, progress=False).numpy()
    reranked32 = k_reciprocal_rerank(
        query.astype(np.float32), gallery.astype(np.float32), progress=False
    ).numpy()
    np.testing.assert_allclose(reranked32, reranked64, atol=1e-5)
    args = (pids[:30], pids[30:], cams[:30], cams[30:])
    before = evaluate_reid(pairwise_distance(query, gallery, "euclidean"), *args)
    after = evaluate_reid(reranked64, *args)
    assert after["mAP"] > before["mAP"]


def test_invalid_parameters_are_reported():
    features = np.random.default_rng(0).normal(size=(10, 4))
    with pytest.raises(ValueError, match="k1, k2"):
        k_reciprocal_rerank(features[:3], features[3:], k1=20, progress=False)
    with pytest.raises(ValueError, match="query_features: expected dimension 4"):
        k_reciprocal_rerank(features[:3, :2], features[3:], k1=2, progress=False)
    with pytest.raises(ValueError, match="metric: expected 'euclidean' or 'cosine'"):
        k_reciprocal_rerank(features[:3], features[3:], k1=2, metric="manhattan", progress=False)
    with pytest.raises(ValueError, match="neighbours: expected 'exact' or 'faiss'"):
        k_reciprocal_rerank(features[:3], features[3:], k1=2, neighbours="annoy", progress=False)
