"""Query-chunked evaluation from features equals evaluation of the full distance matrix."""

import numpy as np
import pytest
import torch

from iaunet_hf.evaluation import (
    evaluate_reid,
    evaluate_reid_features,
    faiss_available,
    k_reciprocal_rerank,
    pairwise_distance,
)
from iaunet_hf.evaluation.metrics import numba_available

BACKENDS = [
    pytest.param("numba", marks=pytest.mark.skipif(not numba_available(), reason="numba is optional")),
    "torch",
]


def identity_features(rng, centres, num_items):
    """Features clustered by identity, so the metrics are far from trivial values."""
    pids = rng.integers(0, len(centres), num_items)
    return (
        centres[pids] + 0.8 * rng.normal(size=(num_items, centres.shape[1])),
        pids,
        rng.integers(0, 3, num_items),
    )


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(10, 16))
    query, q_pids, q_cams = identity_features(rng, centres, 40)
    gallery, g_pids, g_cams = identity_features(rng, centres, 260)
    return query, gallery, q_pids, g_pids, q_cams, g_cams


def test_distances_match_their_definitions(problem):
    query, gallery = problem[0], problem[1]
    cosine = pairwise_distance(query, gallery, "cosine").numpy()
    unit_q = query / np.linalg.norm(query, axis=1, keepdims=True)
    unit_g = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    np.testing.assert_allclose(cosine, 1 - unit_q @ unit_g.T, atol=1e-12)
    euclidean = pairwise_distance(query, gallery, "euclidean").numpy()
    np.testing.assert_allclose(euclidean, np.linalg.norm(query[:, None] - gallery[None], axis=-1), atol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_chunked_features_equal_full_matrix(problem, metric, backend):
    query, gallery, q_pids, g_pids, q_cams, g_cams = problem
    full = evaluate_reid(pairwise_distance(query, gallery, metric), q_pids, g_pids, q_cams, g_cams)
    for chunk_size in (None, 1, 7, 40):
        chunked = evaluate_reid_features(
            query,
            gallery,
            q_pids,
            g_pids,
            q_cams,
            g_cams,
            metric=metric,
            chunk_size=chunk_size,
            backend=backend,
        )
        assert chunked["mAP"] == pytest.approx(full["mAP"], abs=1e-12)
        assert chunked["mINP"] == pytest.approx(full["mINP"], abs=1e-12)
        np.testing.assert_allclose(chunked["cmc"], full["cmc"])
    assert 0.2 < full["mAP"] < 1.0


def test_half_precision_gallery_and_tensor_inputs(problem):
    query, gallery, q_pids, g_pids, q_cams, g_cams = problem
    reference = evaluate_reid_features(
        query.astype(np.float32), gallery.astype(np.float32), q_pids, g_pids, q_cams, g_cams
    )
    half = evaluate_reid_features(
        torch.tensor(query, dtype=torch.float16),
        torch.tensor(gallery, dtype=torch.float16),
        torch.tensor(q_pids),
        g_pids,
        q_cams,
        g_cams,
    )
    assert half["mAP"] == pytest.approx(reference["mAP"], abs=0.02)


def test_dimension_mismatch_is_reported(problem):
    query, gallery, q_pids, g_pids, q_cams, g_cams = problem
    with pytest.raises(ValueError, match="query_features: expected dimension 16"):
        evaluate_reid_features(query[:, :8], gallery, q_pids, g_pids, q_cams, g_cams)
    with pytest.raises(ValueError, match="metric: expected"):
        evaluate_reid_features(query, gallery, q_pids, g_pids, q_cams, g_cams, metric="manhattan")


@pytest.mark.parametrize("backend", BACKENDS)
def test_camera_filter_off_from_features_equals_the_matrix(problem, backend):
    query, gallery, q_pids, g_pids, q_cams, g_cams = problem
    args = (q_pids, g_pids, q_cams, g_cams)
    full = evaluate_reid(pairwise_distance(query, gallery), *args, camera_filter=False)
    chunked = evaluate_reid_features(
        query, gallery, *args, chunk_size=9, camera_filter=False, backend=backend
    )
    filtered = evaluate_reid_features(query, gallery, *args, chunk_size=9, backend=backend)
    assert chunked["mAP"] == pytest.approx(full["mAP"], abs=1e-12)
    assert chunked["num_valid_queries"] == 40  # no query loses its only match to the filter
    assert chunked["mAP"] != filtered["mAP"]


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_reranked_blocks_equal_the_dense_reranked_matrix(problem, metric):
    # a pair budget of 600 gives blocks of two query rows (600 // 260 gallery entries)
    query, gallery, q_pids, g_pids, q_cams, g_cams = problem
    dense = k_reciprocal_rerank(query, gallery, metric=metric, progress=False, pair_chunk=600)
    full = evaluate_reid(dense, q_pids, g_pids, q_cams, g_cams)
    streamed = evaluate_reid_features(
        query,
        gallery,
        q_pids,
        g_pids,
        q_cams,
        g_cams,
        metric=metric,
        rerank=True,
        rerank_options={"pair_chunk": 600},
        progress=False,
    )
    assert streamed["mAP"] == pytest.approx(full["mAP"], abs=1e-12)
    np.testing.assert_allclose(streamed["cmc"], full["cmc"])
    plain = evaluate_reid_features(query, gallery, q_pids, g_pids, q_cams, g_cams, metric=metric)
    assert streamed["mAP"] != plain["mAP"]


@pytest.mark.skipif(not faiss_available(), reason="faiss is an optional extra")
def test_reranking_with_exhaustive_faiss_neighbours_equals_exact(problem):
    # probing every cell makes the FAISS search exhaustive: the same neighbours and row maxima
    query, gallery, q_pids, g_pids, q_cams, g_cams = problem
    query, gallery = query.astype(np.float32), gallery.astype(np.float32)
    args = (query, gallery, q_pids, g_pids, q_cams, g_cams)
    exact = evaluate_reid_features(*args, rerank=True, progress=False)
    options = {"neighbours": "faiss", "faiss_nlist": 4, "faiss_nprobe": 4}
    approximate = evaluate_reid_features(*args, rerank=True, rerank_options=options, progress=False)
    assert approximate["mAP"] == pytest.approx(exact["mAP"], abs=1e-5)
    with pytest.raises(ValueError, match="neighbours: 'faiss' needs metric='cosine'"):
        evaluate_reid_features(*args, metric="euclidean", rerank=True, rerank_options=options)
