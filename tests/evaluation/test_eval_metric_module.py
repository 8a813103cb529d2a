"""The ``evaluate`` module, loaded with ``evaluate.load`` from the installed package."""

from concurrent.futures import ThreadPoolExecutor

import evaluate
import numpy as np
import pytest

from iaunet_hf.evaluation import METRIC_PATH, evaluate_reid_features


@pytest.fixture
def items():
    rng = np.random.default_rng(0)
    pids = rng.integers(0, 8, 90)
    embeddings = rng.normal(size=(8, 10))[pids] + 0.7 * rng.normal(size=(90, 10))
    camids = rng.integers(0, 3, 90)
    is_query = np.zeros(90, dtype=bool)
    is_query[rng.choice(90, 20, replace=False)] = True
    return embeddings.astype(np.float32), pids, camids, is_query


def direct(embeddings, pids, camids, is_query):
    q, g = is_query, ~is_query
    return evaluate_reid_features(embeddings[q], embeddings[g], pids[q], pids[g], camids[q], camids[g])


def test_batches_give_the_direct_numbers(items):
    embeddings, pids, camids, is_query = items
    metric = evaluate.load(METRIC_PATH)
    for start in range(0, 90, 25):
        part = slice(start, start + 25)
        metric.add_batch(
            embeddings=embeddings[part].tolist(),
            pids=pids[part],
            camids=camids[part],
            is_query=is_query[part],
        )
    result = metric.compute()
    expected = direct(*items)
    assert result["mAP"] == pytest.approx(expected["mAP"], abs=1e-12)
    assert result["mINP"] == pytest.approx(expected["mINP"], abs=1e-12)
    assert result["rank-1"] == pytest.approx(expected["cmc"][0])
    assert result["rank-20"] == pytest.approx(expected["cmc"][19])
    np.testing.assert_allclose(result["cmc"], expected["cmc"])


def test_two_processes_with_process_id(items, tmp_path):
    """Two workers share a cache folder; they rendez-vous through evaluate's file locks, so they run concurrently."""
    embeddings, pids, camids, is_query = items

    def worker(rank):
        metric = evaluate.load(
            METRIC_PATH,
            num_process=2,
            process_id=rank,
            experiment_id="reid-two-process",
            cache_dir=str(tmp_path),
            timeout=60,
        )
        part = slice(rank * 45, (rank + 1) * 45)
        metric.add_batch(
            embeddings=embeddings[part], pids=pids[part], camids=camids[part], is_query=is_query[part]
        )
        return metric.compute()

    with ThreadPoolExecutor(max_workers=2) as pool:
        main_result, other_result = pool.map(worker, [0, 1])
    assert other_result is None  # only process 0 returns the result
    assert main_result["mAP"] == pytest.approx(direct(*items)["mAP"], abs=1e-12)


def test_missing_gallery_is_reported(items):
    embeddings, pids, camids, _ = items
    metric = evaluate.load(METRIC_PATH)
    with pytest.raises(ValueError, match="is_query: expected both query and gallery"):
        metric.compute(embeddings=embeddings, pids=pids, camids=camids, is_query=np.ones(90, dtype=bool))


def test_output_maps_to_the_results_format(items, tmp_path):
    """The module's dict becomes a results-file entry exactly as the direct evaluation does."""
    from iaunet_hf.evaluation.results import read_results, result_entry, results_document, write_results

    embeddings, pids, camids, is_query = items
    output = evaluate.load(METRIC_PATH).compute(
        embeddings=embeddings, pids=pids, camids=camids, is_query=is_query
    )
    options = dict(settings={"metric": "cosine"}, num_query=20, num_gallery=70)
    entry = result_entry("folder", output, **options)
    assert entry == result_entry("folder", direct(*items), **options)
    assert entry["dataset_type"] == "custom" and entry["metrics"]["rank-1"] == pytest.approx(
        100 * output["rank-1"]
    )
    assert set(entry["metrics"]) == {"mAP", "mINP", "rank-1", "rank-5", "rank-10", "rank-20"}
    path = write_results(tmp_path / "results.json", results_document([entry]))
    assert read_results(path)["results"] == [entry]


def test_unknown_cameras_switch_the_camera_filter_off(items):
    embeddings, pids, _, is_query = items
    unknown = np.full(len(pids), -1)
    output = evaluate.load(METRIC_PATH).compute(
        embeddings=embeddings, pids=pids, camids=unknown, is_query=is_query
    )
    q, g = is_query, ~is_query
    expected = evaluate_reid_features(
        embeddings[q], embeddings[g], pids[q], pids[g], unknown[q], unknown[g], camera_filter=False
    )
    assert output["camera_filter"] is False
    assert output["mAP"] == pytest.approx(expected["mAP"], abs=1e-12)
    known = evaluate.load(METRIC_PATH).compute(
        embeddings=embeddings, pids=pids, camids=items[2], is_query=is_query
    )
    assert known["camera_filter"] is True
