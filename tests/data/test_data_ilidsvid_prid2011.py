"""iLIDS-VID and PRID2011 (multi-shot) on fixtures in their release layouts: per-person sequence
folders, iLIDS-VID's train_test_splits_ilidsvid.mat, PRID2011's frame-count rule."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from iaunet_hf.data import load_reid_dataset
from iaunet_hf.data.builders import Prid2011


def write_frames(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(names):
        Image.fromarray(np.full((4, 2, 3), index, np.uint8)).save(folder / name)


@pytest.fixture
def ilidsvid_dir(tmp_path: Path) -> Path:
    root = tmp_path / "iLIDS-VID"
    for person in range(1, 7):
        for camera in (1, 2):
            frames = [f"cam{camera}_person{person:03d}_{frame:05d}.png" for frame in (317, 30, 1000)]
            write_frames(root / "i-LIDS-VID" / "sequences" / f"cam{camera}" / f"person{person:03d}", frames)
    split_dir = root / "train-test people splits"
    split_dir.mkdir()
    rng = np.random.default_rng(0)
    ls_set = np.stack([rng.permutation(6) + 1 for _ in range(10)]).astype(np.float64)
    scipy.io.savemat(str(split_dir / "train_test_splits_ilidsvid.mat"), {"ls_set": ls_set})
    return root


def test_ilidsvid_official_splits(ilidsvid_dir: Path, cache_dir: Path):
    ls_set = scipy.io.loadmat(
        str(ilidsvid_dir / "train-test people splits" / "train_test_splits_ilidsvid.mat")
    )
    row = ls_set["ls_set"][7].astype(int)
    dataset = load_reid_dataset("ilidsvid", ilidsvid_dir, cache_dir=cache_dir, split_id=7)
    test, train = sorted(row[:3]), sorted(row[3:])  # first half tests, second half trains (Wang et al.)
    assert dataset["train"]["pid"] == [pid for pid in train for _ in (0, 1)]
    assert dataset["train"]["camid"] == [0, 1] * 3
    assert dataset["query"]["pid"] == test == dataset["gallery"]["pid"]
    assert set(dataset["query"]["camid"]) == {0} and set(dataset["gallery"]["camid"]) == {1}
    frames = dataset["query"][0]["frame_paths"]
    assert [Path(f).stem[-5:] for f in frames] == ["00030", "00317", "01000"]  # temporal order
    assert dataset["query"][0]["path"] == f"i-LIDS-VID/sequences/cam1/person{test[0]:03d}"


@pytest.fixture
def prid2011_dir(tmp_path: Path) -> Path:
    root = tmp_path / "prid_2011" / "multi_shot"
    counts = {1: (22, 30), 2: (40, 22), 3: (25, 21), 4: (22, 22), 5: (22, 10), 6: (23, 24), 201: (0, 30)}
    for pid, per_camera in counts.items():
        for camera, count in zip(("cam_a", "cam_b"), per_camera):
            if count:
                write_frames(
                    root / camera / f"person_{pid:04d}", [f"{frame:04d}.png" for frame in range(1, count + 1)]
                )
    return root.parent


def test_prid2011_keeps_persons_with_more_than_21_frames_in_both_cameras(prid2011_dir: Path, cache_dir: Path):
    assert Prid2011(data_dir=str(prid2011_dir)).kept_pids(prid2011_dir) == [1, 2, 4, 6]
    dataset = load_reid_dataset("prid2011", prid2011_dir, cache_dir=cache_dir, split_id=1)
    split = json.loads((prid2011_dir / "iaunet_splits_prid2011_seed0.json").read_text())["splits"][1]
    assert sorted(split["train"] + split["test"]) == [1, 2, 4, 6] and len(split["train"]) == 2
    assert dataset["train"]["pid"] == [pid for pid in split["train"] for _ in (0, 1)]
    assert dataset["query"]["pid"] == split["test"] == dataset["gallery"]["pid"]
    assert set(dataset["query"]["camid"]) == {0} and set(dataset["gallery"]["camid"]) == {1}
    assert all(len(frames) >= 22 for frames in dataset["query"]["frame_paths"])
    assert dataset["query"][0]["frame_paths"][:2] == [
        f"multi_shot/cam_a/person_{split['test'][0]:04d}/0001.png",
        f"multi_shot/cam_a/person_{split['test'][0]:04d}/0002.png",
    ]
