"""DukeMTMC-reID builder: Market-style names with 8 cameras."""

from __future__ import annotations

from pathlib import Path

import pytest

from iaunet_hf.data import load_reid_dataset


def test_duke_ids_and_cameras(tmp_path: Path, cache_dir: Path, jpeg_writer):
    root = tmp_path / "DukeMTMC-reID"
    for name in ("0001_c2_f0046182.jpg", "0001_c5_f0051341.jpg", "0005_c8_f0007032.jpg"):
        jpeg_writer(root / "bounding_box_train" / name)
    jpeg_writer(root / "query" / "0005_c2_f0153216.jpg")
    for name in ("0005_c6_f0110016.jpg", "0009_c8_f0013555.jpg"):
        jpeg_writer(root / "bounding_box_test" / name)
    dataset = load_reid_dataset("dukemtmc_reid", tmp_path, cache_dir=cache_dir)
    assert dataset["train"]["camid"] == [1, 4, 7]
    assert dataset["train"]["label"] == [0, 0, 1]
    assert dataset["gallery"]["pid"] == [5, 9]
    assert dataset["query"]["camid"] == [1]


def test_duke_camera_nine_is_rejected(tmp_path: Path, cache_dir: Path, jpeg_writer):
    root = tmp_path / "DukeMTMC-reID"
    jpeg_writer(root / "bounding_box_train" / "0001_c9_f0046182.jpg")
    jpeg_writer(root / "query" / "0005_c2_f0153216.jpg")
    jpeg_writer(root / "bounding_box_test" / "0005_c6_f0110016.jpg")
    with pytest.raises(
        ValueError, match=r"DukeMTMC-reID: file .*0001_c9_f0046182\.jpg has pid 1 and camera 9"
    ):
        load_reid_dataset("dukemtmc_reid", root, cache_dir=cache_dir)
