"""DukeMTMC-VideoReID builder: pid/tracklet folders, old and new frame names, true frame order."""

from __future__ import annotations

from pathlib import Path

import pytest

from iaunet_hf.data import load_reid_dataset


def test_frame_order_and_naming(tmp_path: Path, cache_dir: Path, jpeg_writer):
    root = tmp_path / "DukeMTMC-VideoReID"
    # new naming; frame numbers whose text order differs from their numeric order
    for frame in (100, 99, 7):
        jpeg_writer(root / "train" / "0001" / "0001" / f"0001_C6_F{frame}_X{30000 + frame:05d}.jpg")
    # old naming
    for frame in (12, 11):
        jpeg_writer(root / "train" / "0004" / "0003" / f"0004C2F{frame:04d}X{40000 + frame}.jpg")
    jpeg_writer(root / "query" / "0007" / "0001" / "0007_C1_F0001_X00001.jpg")
    for frame in (2, 1):
        jpeg_writer(root / "gallery" / "0007" / "0002" / f"0007_C8_F{frame:04d}_X0000{frame}.jpg")
    (root / "gallery" / "0007" / "0009").mkdir()  # empty tracklet folder: skipped with a warning
    with pytest.warns(UserWarning, match=r"skipped 1 tracklet folder.*0007/0009"):
        dataset = load_reid_dataset("dukemtmc_videoreid", tmp_path, cache_dir=cache_dir)
    train = dataset["train"]
    assert train["pid"] == [1, 4] and train["camid"] == [5, 1] and train["label"] == [0, 1]
    assert [Path(p).name for p in train[0]["frame_paths"]] == [
        "0001_C6_F7_X30007.jpg",
        "0001_C6_F99_X30099.jpg",
        "0001_C6_F100_X30100.jpg",
    ]
    assert [Path(p).name for p in train[1]["frame_paths"]] == [
        "0004C2F0011X40011.jpg",
        "0004C2F0012X40012.jpg",
    ]
    assert train["path"] == ["train/0001/0001", "train/0004/0003"]
    assert dataset["gallery"]["camid"] == [7]
    assert len(dataset["gallery"][0]["frames"]) == 2


def test_bad_frame_name_and_mixed_cameras(tmp_path: Path, cache_dir: Path, jpeg_writer):
    for split in ("query", "gallery"):
        jpeg_writer(tmp_path / split / "0007" / "0001" / "0007_C1_F0001_X00001.jpg")
    jpeg_writer(tmp_path / "train" / "0001" / "0001" / "frame1.jpg")
    with pytest.raises(
        ValueError, match=r"DukeMTMC-VideoReID: cannot parse camera/frame from file name .*frame1\.jpg"
    ):
        load_reid_dataset("dukemtmc_videoreid", tmp_path, cache_dir=cache_dir)
    (tmp_path / "train" / "0001" / "0001" / "frame1.jpg").unlink()
    jpeg_writer(tmp_path / "train" / "0001" / "0001" / "0001_C1_F0001_X00001.jpg")
    jpeg_writer(tmp_path / "train" / "0001" / "0001" / "0001_C2_F0002_X00002.jpg")
    with pytest.raises(ValueError, match=r"tracklet .*0001/0001 mixes cameras \[1, 2\]"):
        load_reid_dataset("dukemtmc_videoreid", tmp_path, cache_dir=cache_dir)
