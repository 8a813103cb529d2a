"""evaluate_reid against hand-computed cases and a straightforward argsort-based reference."""

import numpy as np
import pytest
import torch

from iaunet_hf.evaluation import evaluate_reid


def sorted_reference(distmat, q_pids, g_pids, q_camids, g_camids, max_rank, ap="standard"):
    """The textbook evaluator: stable argsort of each row, drop same pid + same camera, walk the ranking."""
    aps, inps, cmcs = [], [], []
    for row in range(distmat.shape[0]):
        order = np.argsort(distmat[row], kind="stable")
        keep = ~((g_pids[order] == q_pids[row]) & (g_camids[order] == q_camids[row]))
        matches = (g_pids[order] == q_pids[row])[keep]
        if not matches.any():
            continue
        hit_ranks = np.flatnonzero(matches)  # 0-based ranks of the positives
        cmc = np.zeros(max_rank)
        cmc[hit_ranks[0] :] = 1
        cmcs.append(cmc)
        found = np.arange(1, len(hit_ranks) + 1)
        if ap == "standard":
            aps.append(np.mean(found / (hit_ranks + 1)))
        else:
            before = np.array([(f - 1) / r if r else 1.0 for f, r in zip(found, hit_ranks)])
            aps.append(np.mean((before + found / (hit_ranks + 1)) / 2))
        inps.append(len(hit_ranks) / (hit_ranks[-1] + 1))
    return np.mean(aps), np.mean(inps), np.mean(cmcs, axis=0), len(aps)


def random_problem(rng, num_query, num_gallery, num_ids, num_cams, ties=False):
    q_pids = rng.integers(0, num_ids, num_query)
    g_pids = rng.integers(0, num_ids, num_gallery)
    q_cams = rng.integers(0, num_cams, num_query)
    g_cams = rng.integers(0, num_cams, num_gallery)
    if ties:
        distmat = rng.integers(0, 4, (num_query, num_gallery)).astype(np.float64)
    else:
        distmat = rng.random((num_query, num_gallery))
    return distmat, q_pids, g_pids, q_cams, g_cams


# One query (pid 1, camera 0). Gallery after removing the same-camera positive (index 2):
# pid2 (0.1), pid1 (0.3), pid3 (0.4), pid1 (0.5) -> positives at ranks 2 and 4.
HAND_DISTANCES = np.array([[0.3, 0.1, 0.05, 0.5, 0.4]])
HAND_ARGS = dict(
    q_pids=np.array([1]),
    g_pids=np.array([1, 2, 1, 1, 3]),
    q_camids=np.array([0]),
    g_camids=np.array([1, 1, 0, 2, 0]),
)


def test_single_query_by_hand():
    result = evaluate_reid(HAND_DISTANCES, max_rank=5, **HAND_ARGS)
    assert result["mAP"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert result["mINP"] == pytest.approx(2 / 4)
    np.testing.assert_allclose(result["cmc"], [0, 1, 1, 1, 1])
    assert result["num_valid_queries"] == 1


def test_trapezoid_ap_by_hand():
    # official Market-1501 code: (precision before + precision at) / 2 per positive, times 1/num_positives
    result = evaluate_reid(HAND_DISTANCES, max_rank=5, ap="trapezoid", **HAND_ARGS)
    first = (0 / 1 + 1 / 2) / 2
    second = (1 / 3 + 2 / 4) / 2
    assert result["mAP"] == pytest.approx((first + second) / 2)


def test_trapezoid_first_rank_uses_precision_one_before():
    result = evaluate_reid(
        np.array([[0.1, 0.2]]),
        np.array([1]),
        np.array([1, 2]),
        np.array([0]),
        np.array([1, 1]),
        ap="trapezoid",
    )
    assert result["mAP"] == pytest.approx(1.0)


@pytest.mark.parametrize(("g_pids", "expected_ap"), [([2, 1], 0.5), ([1, 2], 1.0)])
def test_ties_are_broken_by_gallery_index(g_pids, expected_ap):
    distances = np.array([[0.2, 0.2]])
    result = evaluate_reid(
        distances, np.array([1]), np.array(g_pids), np.array([0]), np.array([1, 1]), max_rank=2
    )
    assert result["mAP"] == pytest.approx(expected_ap)


def test_query_without_valid_match_is_skipped_and_counted():
    # query 0 only has a same-camera match; query 1 has a cross-camera match at rank 1
    distances = np.array([[0.1, 0.9], [0.8, 0.2]])
    result = evaluate_reid(
        distances, np.array([1, 2]), np.array([1, 2]), np.array([0, 0]), np.array([0, 1]), max_rank=2
    )
    assert result["num_valid_queries"] == 1
    assert result["num_skipped_queries"] == 1
    assert result["mAP"] == pytest.approx(1.0)


def test_no_valid_query_at_all_is_an_error():
    with pytest.raises(ValueError, match="no query has a valid positive"):
        evaluate_reid(np.array([[0.1]]), np.array([1]), np.array([1]), np.array([0]), np.array([0]))


def test_cmc_is_defined_beyond_the_gallery_size():
    distances = np.array([[0.3, 0.1, 0.2]])
    result = evaluate_reid(
        distances, np.array([5]), np.array([5, 7, 8]), np.array([0]), np.array([1, 1, 1]), max_rank=10
    )
    assert result["cmc"].shape == (10,)
    np.testing.assert_allclose(result["cmc"], [0, 0, 1, 1, 1, 1, 1, 1, 1, 1])


def test_distractors_count_as_negatives():
    # pid 0 distractors stay in the gallery: the single positive drops from rank 1 to rank 3
    distances = np.array([[0.3, 0.1, 0.2]])
    result = evaluate_reid(
        distances, np.array([4]), np.array([4, 0, 0]), np.array([0]), np.array([1, 1, 1]), max_rank=3
    )
    assert result["mAP"] == pytest.approx(1 / 3)
    np.testing.assert_allclose(result["cmc"], [0, 0, 1])


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ap", ["standard", "trapezoid"])
def test_matches_sorted_reference_on_random_inputs(seed, ap):
    rng = np.random.default_rng(seed)
    problem = random_problem(
        rng, 37, 211, num_ids=int(rng.integers(3, 20)), num_cams=int(rng.integers(2, 5)), ties=seed % 2 == 1
    )
    expected_map, expected_inp, expected_cmc, expected_valid = sorted_reference(*problem, max_rank=20, ap=ap)
    result = evaluate_reid(*problem, max_rank=20, ap=ap)
    assert result["mAP"] == pytest.approx(expected_map, abs=1e-9)
    assert result["mINP"] == pytest.approx(expected_inp, abs=1e-9)
    np.testing.assert_allclose(result["cmc"], expected_cmc, atol=1e-12)
    assert result["num_valid_queries"] == expected_valid


def test_chunked_equals_unchunked_and_torch_equals_numpy():
    rng = np.random.default_rng(7)
    distmat, q_pids, g_pids, q_cams, g_cams = random_problem(rng, 50, 300, num_ids=12, num_cams=3)
    whole = evaluate_reid(distmat, q_pids, g_pids, q_cams, g_cams, chunk_size=50)
    chunked = evaluate_reid(distmat, q_pids, g_pids, q_cams, g_cams, chunk_size=7)
    tensors = evaluate_reid(*(torch.from_numpy(a) for a in (distmat, q_pids, g_pids, q_cams, g_cams)))
    float32 = evaluate_reid(torch.from_numpy(distmat).float(), q_pids, g_pids, q_cams, g_cams)
    for other in (chunked, tensors):
        assert other["mAP"] == whole["mAP"]
        assert other["mINP"] == whole["mINP"]
        np.testing.assert_array_equal(other["cmc"], whole["cmc"])
    assert float32["mAP"] == pytest.approx(whole["mAP"], abs=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_gpu_matches_cpu():
    rng = np.random.default_rng(3)
    problem = random_problem(rng, 64, 500, num_ids=20, num_cams=4)
    cpu = evaluate_reid(*problem)
    gpu = evaluate_reid(*(torch.from_numpy(a).cuda() for a in problem))
    assert gpu["mAP"] == pytest.approx(cpu["mAP"], abs=1e-12)
    np.testing.assert_allclose(gpu["cmc"], cpu["cmc"])


def test_bad_inputs_name_the_field():
    with pytest.raises(ValueError, match="q_pids: expected 2 entries"):
        evaluate_reid(
            np.zeros((2, 3)), np.array([1]), np.array([1, 2, 3]), np.array([0, 0]), np.array([1, 1, 1])
        )
    with pytest.raises(ValueError, match="distmat: expected finite"):
        evaluate_reid(
            np.array([[np.nan, 0.1]]), np.array([1]), np.array([1, 2]), np.array([0]), np.array([1, 1])
        )
    with pytest.raises(ValueError, match="ap: expected"):
        evaluate_reid(
            np.zeros((1, 2)), np.array([1]), np.array([1, 2]), np.array([0]), np.array([1, 1]), ap="11-point"
        )
