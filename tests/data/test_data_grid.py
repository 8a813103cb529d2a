"""GRID on a fixture in its release layout: probe/ and gallery/ JPEGs (pid-0 gallery distractors)
and features_and_partitions.mat holding trainIdxAll as a cell array of structs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from iaunet_hf.data import load_reid_dataset

PERSONS = range(1, 7)


def write_partitions(path: Path, train_sets: list[list[int]]) -> None:
    cells = np.empty((1, len(train_sets)), dtype=object)
    for index, train in enumerate(train_sets):
        entry = np.zeros((1, 1), dtype=[("idxProbe", object), ("idxGallery", object), ("idxTrain", object)])
        entry[0, 0] = (np.array([[0]]), np.array([[0]]), np.array([train], dtype=np.float64))
        cells[0, index] = entry
    scipy.io.savemat(str(path), {"trainIdxAll": cells})


@pytest.fixture
def grid_dir(tmp_path: Path, jpeg_writer) -> Path:
    root = tmp_path / "underground_reid"
    for pid in PERSONS:
        jpeg_writer(root / "probe" / f"{pid:04d}_{pid}_25004_107_32_106_238.jpeg")
        jpeg_writer(root / "gallery" / f"{pid:04d}_{(pid % 8) + 1}_25004_107_32_106_238.jpeg")
    for index in range(3):
        jpeg_writer(root / "gallery" / f"0000_{index + 2}_1_{index}_1_1_1.jpeg")
    root.mkdir(exist_ok=True)
    write_partitions(root / "features_and_partitions.mat", [[1, 2, 3], [4, 5, 6]] * 5)
    return root


def test_official_partitions_cameras_and_distractors(grid_dir: Path, cache_dir: Path):
    dataset = load_reid_dataset("grid", grid_dir, cache_dir=cache_dir, split_id=1)
    assert sorted(set(dataset["train"]["pid"])) == [4, 5, 6]
    assert dataset["train"].num_rows == 6  # probe + gallery image of each train identity
    assert dataset["query"]["pid"] == [1, 2, 3]
    assert dataset["query"]["camid"] == [0, 1, 2]  # probe camera = pid here, stored 0-based
    assert sorted(dataset["gallery"]["pid"]) == [0, 0, 0, 1, 2, 3]  # distractors kept in the gallery
    assert sorted(dataset["gallery"].filter(lambda r: r["pid"] == 0)["camid"]) == [1, 2, 3]
    first = load_reid_dataset("grid", grid_dir, cache_dir=cache_dir, split_id=0)
    assert sorted(set(first["train"]["pid"])) == [1, 2, 3]
    with pytest.raises(ValueError, match=r"grid: split_id is 10; expected 0\.\.9"):
        load_reid_dataset("grid", grid_dir, cache_dir=cache_dir, split_id=10)


def test_camera_out_of_range(grid_dir: Path, cache_dir: Path, jpeg_writer):
    jpeg_writer(grid_dir / "probe" / "0009_9_1_1_1_1_1.jpeg")
    with pytest.raises(ValueError, match=r"GRID: .*0009_9_1_1_1_1_1\.jpeg has camera 9; expected 1\.\.8"):
        load_reid_dataset("grid", grid_dir, cache_dir=cache_dir)
