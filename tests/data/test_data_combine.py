"""Several training sets at once (combine_reid_datasets) and torchreid's combineall."""

from __future__ import annotations

from pathlib import Path

import pytest

from iaunet_hf.data import IdentityBatchSampler, combine_reid_datasets, load_reid_dataset


def write_market_style(root: Path, jpeg_writer, train_pids, test_pids) -> Path:
    for pid in train_pids:
        for camera in (1, 2):
            jpeg_writer(root / "bounding_box_train" / f"{pid:04d}_c{camera}s1_000001_00.jpg")
    for pid in test_pids:
        jpeg_writer(root / "query" / f"{pid:04d}_c1s1_000002_00.jpg")
        jpeg_writer(root / "bounding_box_test" / f"{pid:04d}_c2s1_000003_00.jpg")
    jpeg_writer(root / "bounding_box_test" / "0000_c3s1_000004_00.jpg")  # a distractor
    return root


def test_labels_disjoint_source_column_and_sampler_coverage(tmp_path: Path, cache_dir: Path, jpeg_writer):
    market = write_market_style(tmp_path / "Market-1501-v15.09.15", jpeg_writer, [2, 5, 9], [1])
    duke = write_market_style(tmp_path / "DukeMTMC-reID", jpeg_writer, [2, 7], [3])
    sets = {
        "market1501": load_reid_dataset("market1501", market, cache_dir=cache_dir),
        "dukemtmc_reid": load_reid_dataset("dukemtmc_reid", duke, cache_dir=cache_dir),
    }
    combined = combine_reid_datasets(sets)
    assert list(combined) == ["train"]
    train = combined["train"]
    assert train["source"] == ["market1501"] * 6 + ["dukemtmc_reid"] * 4
    assert train["label"] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]  # Duke's pid 2 is not Market's pid 2
    assert train["pid"][:2] == train["pid"][6:8] == [2, 2]
    sampler = IdentityBatchSampler(train["label"], batch_size=10, num_instances=2, seed=0)
    drawn = {train["source"][index] for batch in sampler for index in batch}
    assert drawn == {"market1501", "dukemtmc_reid"}
    with pytest.raises(ValueError, match=r"combine_reid_datasets: no datasets given"):
        combine_reid_datasets({})


def test_combineall_trains_on_every_split(tmp_path: Path, cache_dir: Path, jpeg_writer):
    market = write_market_style(tmp_path / "Market-1501-v15.09.15", jpeg_writer, [2, 5], [1, 4])
    dataset = load_reid_dataset("market1501", market, cache_dir=cache_dir, combineall=True)
    assert sorted(set(dataset["train"]["pid"])) == [1, 2, 4, 5]  # test identities join, distractor 0 does not
    assert dataset["train"].num_rows == 4 + 4
    assert sorted(set(dataset["train"]["label"])) == [0, 1, 2, 3]
    assert dataset["query"]["pid"] == [1, 4]  # query and gallery stay as they are
