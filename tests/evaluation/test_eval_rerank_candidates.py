"""Re-ranking with bfloat16 candidate neighbours re-scored in float32, and the numba kernels of re-ranking
against their torch forms."""

import numpy as np
import pytest
import torch

from iaunet_hf.evaluation import evaluate_reid, k_reciprocal_rerank
from iaunet_hf.evaluation.candidate_neighbours import bf16_candidate_neighbours
from iaunet_hf.evaluation.neighbours import ItemFeatures, exact_neighbours
from iaunet_hf.evaluation.query_statistics import numba_available
from iaunet_hf.evaluation.rerank_steps import _expanded_sets, _reciprocal_neighbours


def clustered(seed, num_items=600, num_ids=40, dim=64, offset=5.0):
    """Identity centres plus noise, all shifted by a common offset (the centring must remove it)."""
    generator = torch.Generator().manual_seed(seed)
    pids = torch.randint(0, num_ids, (num_items,), generator=generator)
    centres = torch.randn(num_ids, dim, generator=generator)
    features = centres[pids] + 0.8 * torch.randn(num_items, dim, generator=generator) + offset
    return features, pids


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_bf16_candidates_give_the_exact_lists_with_float32_distances(metric):
    features, _ = clustered(0)
    items = ItemFeatures(features[:100], features[100:], metric)
    exact_index, exact_distance, exact_max = exact_neighbours(items, 42, 64, False)
    index, distance, row_max = bf16_candidate_neighbours(items, 42, 64, False)
    # the nearest 21 (k1 + 1) as sets; the order may differ only between equal float32 distances
    assert torch.equal(exact_index[:, :21].sort(1).values, index[:, :21].sort(1).values)
    torch.testing.assert_close(distance[:, :21], exact_distance[:, :21], rtol=1e-4, atol=1e-2)
    # the distances are float32 re-computations of the listed pairs, in ascending order
    rows = torch.arange(len(index))[:, None].expand_as(index)
    listed = items.pair_squared_distances(rows.reshape(-1), index.reshape(-1)).view_as(index)
    torch.testing.assert_close(distance, listed, rtol=0, atol=0)
    assert bool((distance[:, 1:] >= distance[:, :-1]).all()) and bool(
        (index[:, 0] == torch.arange(600)).all()
    )
    assert float(((row_max - exact_max) / exact_max).abs().max()) < 1e-2


def test_bf16_candidates_rerank_like_the_exact_search():
    features, pids = clustered(1)
    query, gallery = features[:120], features[120:]
    exact = k_reciprocal_rerank(query, gallery, metric="cosine", progress=False)
    fast = k_reciprocal_rerank(query, gallery, metric="cosine", progress=False, candidate_precision="bf16")
    # equal but where a bf16 candidate list missed a true neighbour (one list of 600 here): few entries move
    close = torch.isclose(fast, exact, rtol=1e-4, atol=1e-4)
    assert float(close.float().mean()) > 0.99
    cams = (np.zeros(120, int), np.ones(480, int))
    exact_map, fast_map = (evaluate_reid(d, pids[:120], pids[120:], *cams)["mAP"] for d in (exact, fast))
    assert fast_map == pytest.approx(exact_map, abs=0.01)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"candidate_precision": "int4"}, "candidate_precision: expected one of"),
        ({"candidate_precision": "bf16", "neighbours": "faiss"}, "needs neighbours='exact'"),
    ],
)
def test_bad_candidate_precision_is_named(options, message):
    features, _ = clustered(2, num_items=60)
    with pytest.raises(ValueError, match=message):
        k_reciprocal_rerank(features[:10], features[10:], metric="cosine", progress=False, **options)


@pytest.mark.skipif(not numba_available(), reason="numba (the [fast] extra) is not installed")
def test_numba_kernels_equal_their_torch_forms():
    from iaunet_hf.evaluation.reciprocal_sets_numba import expanded_sets

    features, _ = clustered(3, num_items=300)
    numba_items = ItemFeatures(features[:50], features[50:], "euclidean")
    torch_items = ItemFeatures(features[:50], features[50:], "euclidean")
    torch_items.use_numba = False
    assert numba_items.use_numba
    known_index, known_distance, _ = exact_neighbours(numba_items, 42, 64, False)
    reciprocal = _reciprocal_neighbours(known_index[:, :21], 20)
    half = _reciprocal_neighbours(known_index[:, :21], 10)
    half_size = (half >= 0).sum(1)
    expected = _expanded_sets(reciprocal, half, half_size)
    found = expanded_sets(reciprocal, half, half_size)
    for row_expected, row_found in zip(expected, found):
        assert row_expected[row_expected >= 0].tolist() == row_found[row_found >= 0].tolist()
    # listed pairs: most in the neighbour lists, some not (computed from the features)
    rows = torch.arange(300).repeat_interleave(60)
    columns = torch.randint(0, 300, (rows.numel(),), generator=torch.Generator().manual_seed(4))
    columns[::3] = known_index[rows[::3], 5]
    torch.testing.assert_close(
        numba_items.pair_squared_distances(rows, columns, known_index, known_distance),
        torch_items.pair_squared_distances(rows, columns, known_index, known_distance),
        rtol=1e-5,
        atol=1e-3,
    )
