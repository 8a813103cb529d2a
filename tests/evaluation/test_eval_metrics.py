"""evaluate_reid against hand-computed cases and a straightforward argsort-based reference."""

import numpy as np
import pytest
import torch

from iaunet_hf.evaluation import evaluate_reid
from iaunet_hf.evaluation.metrics import GalleryIdentities, numba_available

# Both rank kernels: the fused numba pass (optional extra) and the torch fallback.
BACKENDS = [
    pytest.param("numba", marks=pytest.mark.skipif(not numba_available(), reason="numba is optional")),
    "torch",
]


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


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ap", ["standard", "trapezoid"])
def test_matches_sorted_reference_on_random_inputs(seed, ap, backend):
    rng = np.random.default_rng(seed)
    problem = random_problem(
        rng, 37, 211, num_ids=int(rng.integers(3, 20)), num_cams=int(rng.integers(2, 5)), ties=seed % 2 == 1
    )
    expected_map, expected_inp, expected_cmc, expected_valid = sorted_reference(*problem, max_rank=20, ap=ap)
    result = evaluate_reid(*problem, max_rank=20, ap=ap, backend=backend)
    assert result["mAP"] == pytest.approx(expected_map, abs=1e-9)
    assert result["mINP"] == pytest.approx(expected_inp, abs=1e-9)
    np.testing.assert_allclose(result["cmc"], expected_cmc, atol=1e-12)
    assert result["num_valid_queries"] == expected_valid


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("ties", "dtype"), [(False, np.float64), (True, np.float64), (False, np.float32)])
def test_many_positives_per_query_match_the_reference(backend, ties, dtype):
    # two identities in 700 entries: ~350 positives a query, beyond the numba kernel's pass limit
    # (256), so its binary-search path runs; float32 rows keep their own precision in the comparisons
    rng = np.random.default_rng(11)
    distmat, *labels = random_problem(rng, 12, 700, num_ids=2, num_cams=3, ties=ties)
    distmat = distmat.astype(dtype)
    expected_map, expected_inp, expected_cmc, _ = sorted_reference(distmat, *labels, max_rank=10)
    result = evaluate_reid(distmat, *labels, max_rank=10, backend=backend)
    assert result["mAP"] == pytest.approx(expected_map, abs=1e-9)
    assert result["mINP"] == pytest.approx(expected_inp, abs=1e-9)
    np.testing.assert_allclose(result["cmc"], expected_cmc, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_camera_filter_off_keeps_same_camera_matches_by_hand(backend):
    # nothing removed: pid1 (0.05), pid2 (0.1), pid1 (0.3), pid3 (0.4), pid1 (0.5) -> ranks 1, 3, 5
    result = evaluate_reid(HAND_DISTANCES, max_rank=5, camera_filter=False, backend=backend, **HAND_ARGS)
    assert result["mAP"] == pytest.approx((1 / 1 + 2 / 3 + 3 / 5) / 3)
    assert result["mINP"] == pytest.approx(3 / 5)
    np.testing.assert_allclose(result["cmc"], [1, 1, 1, 1, 1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_unknown_camera_never_counts_as_the_same_camera(backend):
    # a query camid of -1 removes nothing even with the filter on; a gallery -1 is never the query's camera
    unknown_query = dict(HAND_ARGS, q_camids=np.array([-1]))
    on = evaluate_reid(HAND_DISTANCES, max_rank=5, backend=backend, **unknown_query)
    off = evaluate_reid(HAND_DISTANCES, max_rank=5, camera_filter=False, backend=backend, **HAND_ARGS)
    assert on["mAP"] == off["mAP"]
    unknown_gallery = dict(HAND_ARGS, g_camids=np.array([1, 1, -1, 2, 0]))
    result = evaluate_reid(HAND_DISTANCES, max_rank=5, backend=backend, **unknown_gallery)
    assert result["mAP"] == pytest.approx(off["mAP"])


def test_identity_table_size_is_the_gallery_size_not_identities_times_largest_group():
    # one distractor identity with 5000 entries and 300 identities of 2: a dense table would be 301 x 5000
    g_pids = np.concatenate([np.zeros(5000, dtype=np.int64), np.repeat(np.arange(1, 301), 2)])
    identities = GalleryIdentities(g_pids, np.zeros_like(g_pids))
    assert identities.member_order.numel() == g_pids.size
    assert identities.group_start.numel() == 302
    candidates = identities.candidates(torch.tensor([7, 9999]))  # width: the queries' largest group
    assert candidates.shape == (2, 2)
    assert sorted(candidates[0].tolist()) == [5000 + 12, 5000 + 13] and candidates[1].tolist() == [-1, -1]


def test_chunked_equals_unchunked_and_torch_equals_numpy():
    rng = np.random.default_rng(7)
    distmat, q_pids, g_pids, q_cams, g_cams = random_problem(rng, 50, 300, num_ids=12, num_cams=3)
    whole = evaluate_reid(distmat, q_pids, g_pids, q_cams, g_cams, chunk_size=50)
    chunked = evaluate_reid(distmat, q_pids, g_pids, q_cams, g_cams, chunk_size=7)
    tensors = evaluate_reid(*(torch.from_numpy(a) for a in (distmat, q_pids, g_pids, q_cams, g_cams)))
    float32 = evaluate_reid(torch.from_numpy(distmat).float(), q_pids, g_pids, q_cams, g_cams)
    others = [chunked, tensors, evaluate_reid(distmat, q_pids, g_pids, q_cams, g_cams, backend="torch")]
    if numba_available():
        strided = torch.from_numpy(distmat).T.contiguous().T  # a non-contiguous view
        others.append(evaluate_reid(strided, q_pids, g_pids, q_cams, g_cams, chunk_size=9, backend="numba"))
    for other in others:
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


@pytest.mark.reliability
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_distances_are_refused(backend, bad, dtype):
    distmat = np.random.default_rng(0).random((4, 6)).astype(dtype)
    distmat[2, 5] = bad  # in a row whose query has no positive at all: it is still checked
    with pytest.raises(ValueError, match="distmat: expected finite distances, found 1 NaN or infinite"):
        evaluate_reid(
            distmat,
            np.array([1, 1, 9, 1]),
            np.array([1, 2, 3, 1, 2, 3]),
            np.zeros(4, int),
            np.ones(6, int),
            backend=backend,
        )


def test_unknown_backend_is_reported():
    with pytest.raises(ValueError, match="backend: expected 'auto', 'numba' or 'torch'"):
        evaluate_reid(HAND_DISTANCES, backend="cuda", **HAND_ARGS)


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
