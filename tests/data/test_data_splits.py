"""split_identities (train-only sets), evaluate_splits (mean ± std over a benchmark's splits)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from iaunet_hf.data import evaluate_splits, format_split_summary, load_reid_dataset, split_identities


@pytest.fixture
def train_only(tmp_path: Path, cache_dir: Path, jpeg_writer):
    rows = []
    for pid in range(1, 11):
        for index in range(1 + pid % 3):  # 1..3 images per identity
            rows.append((f"images/{pid}_{index}.jpg", pid, index % 2))
            jpeg_writer(tmp_path / rows[-1][0])
    (tmp_path / "train.csv").write_text("path,pid,camid\n" + "".join(f"{p},{i},{c}\n" for p, i, c in rows))
    return load_reid_dataset("folder", tmp_path, cache_dir=cache_dir)


def test_split_identities_is_pid_disjoint_and_reproducible(train_only, tmp_path: Path):
    split_file = tmp_path / "split.json"
    split = split_identities(
        train_only, query_per_identity=1, test_fraction=0.4, seed=3, split_file=split_file
    )
    train_pids, query_pids, gallery_pids = (set(split[name]["pid"]) for name in ("train", "query", "gallery"))
    assert (
        not train_pids & (query_pids | gallery_pids) and query_pids == gallery_pids and len(query_pids) == 4
    )
    assert (
        split["train"].num_rows + split["query"].num_rows + split["gallery"].num_rows
        == train_only["train"].num_rows
    )
    assert split["query"].num_rows == 4  # one query per test identity
    assert split["train"]["label"] == [sorted(train_pids).index(pid) for pid in split["train"]["pid"]]
    assert "label" not in split["query"].column_names
    for pid in query_pids:  # queries prefer a camera that has a cross-camera match
        query_cam = split["query"]["camid"][split["query"]["pid"].index(pid)]
        gallery_cams = [c for p, c in zip(split["gallery"]["pid"], split["gallery"]["camid"]) if p == pid]
        assert query_cam not in gallery_cams or len(set(gallery_cams)) == 1
    stored = json.loads(split_file.read_text())
    assert stored["test_pids"] == sorted(query_pids)
    again = split_identities(train_only, test_fraction=0.4, seed=3)
    assert again["query"]["path"] == split["query"]["path"]  # same seed, same split
    other = split_identities(train_only, test_fraction=0.4, seed=4)
    assert other["query"]["path"] != split["query"]["path"]
    reloaded = split_identities(train_only, test_fraction=0.4, seed=99, split_file=split_file)
    assert reloaded["gallery"]["path"] == split["gallery"]["path"]  # the stored file wins over the seed


def test_split_identities_refuses_impossible_requests(train_only, tmp_path: Path):
    with pytest.raises(ValueError, match=r"expected 0 < test_fraction < 1"):
        split_identities(train_only, test_fraction=1.0)
    with pytest.raises(ValueError, match=r"with more than 3 image\(s\); expected at least"):
        split_identities(train_only, query_per_identity=3)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"dataset": "split_identities", "num_rows": 3, "rows": {}}))
    with pytest.raises(ValueError, match=r"bad\.json was made for 3 rows"):
        split_identities(train_only, split_file=bad)


def test_evaluate_splits_reports_mean_and_std():
    results = {0: {"mAP": 0.5, "rank1": 0.6}, 1: {"mAP": 0.7, "rank1": 0.8}, 2: {"mAP": 0.6, "rank1": 1.0}}
    called = []

    def evaluate(split_id: int) -> dict:
        called.append(split_id)
        return results[split_id]

    summary = evaluate_splits(evaluate, 3)
    assert called == [0, 1, 2]
    assert summary["mean"]["mAP"] == pytest.approx(0.6) and summary["mean"]["rank1"] == pytest.approx(0.8)
    assert summary["std"]["mAP"] == pytest.approx(np.sqrt(((0.1**2) * 2) / 3))
    assert format_split_summary(summary) == "3 splits: mAP 60.00 ± 8.16 | rank1 80.00 ± 16.33"
    with pytest.raises(ValueError, match=r"split 1 returned metrics \['mAP'\]"):
        evaluate_splits(lambda i: {"mAP": 0.1} if i else {"mAP": 0.1, "rank1": 0.2}, [0, 1])
