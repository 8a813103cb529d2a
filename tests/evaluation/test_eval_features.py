"""Query-chunked evaluation from features equals evaluation of the full distance matrix."""

import numpy as np
import pytest
import torch

from iaunet_hf.evaluation import evaluate_reid, evaluate_reid_features, pairwise_distance


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


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_chunked_features_equal_full_matrix(problem, metric):
    query, gallery, q_pids, g_pids, q_cams, g_cams = problem
    full = evaluate_reid(pairwise_distance(query, gallery, metric), q_pids, g_pids, q_cams, g_cams)
    for chunk_size in (1, 7, 40):
        chunked = evaluate_reid_features(
            query, gallery, q_pids, g_pids, q_cams, g_cams, metric=metric, chunk_size=chunk_size
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
