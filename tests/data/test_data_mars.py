"""MARS builder on ``info/`` tables written with scipy.io.savemat and frames in bbox folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from iaunet_hf.data import load_reid_dataset


def tracklet_names(prefix: str, camera: int, tracklet: int, count: int) -> list[str]:
    return [f"{prefix}C{camera}T{tracklet:04d}F{frame:03d}.jpg" for frame in range(1, count + 1)]


def write_mars(root: Path, jpeg_writer) -> None:
    train_names = tracklet_names("0001", 1, 1, 3) + tracklet_names("0003", 2, 1, 2)
    train_rows = [[1, 3, 1, 1], [4, 5, 3, 2]]
    test_names = (
        tracklet_names("0002", 1, 1, 2)
        + tracklet_names("0002", 3, 2, 2)
        + tracklet_names("0000", 2, 1, 2)  # distractor
        + tracklet_names("00-1", 4, 1, 1)  # junk
        + tracklet_names("0005", 1, 1, 2)
        + tracklet_names("0005", 6, 3, 2)
    )
    test_rows = [[1, 2, 2, 1], [3, 4, 2, 3], [5, 6, 0, 2], [7, 7, -1, 4], [8, 9, 5, 1], [10, 11, 5, 6]]
    info = root / "info"
    info.mkdir(parents=True)
    for split, names, rows in (("train", train_names, train_rows), ("test", test_names, test_rows)):
        (info / f"{split}_name.txt").write_text("\n".join(names) + "\n")
        scipy.io.savemat(
            info / f"tracks_{split}_info.mat", {f"track_{split}_info": np.array(rows, dtype=np.float64)}
        )
        for name in names:
            jpeg_writer(root / f"bbox_{split}" / name[:4] / name)
    scipy.io.savemat(info / "query_IDX.mat", {"query_IDX": np.array([[1, 5]], dtype=np.float64)})


@pytest.fixture
def mars_dir(tmp_path: Path, jpeg_writer) -> Path:
    root = tmp_path / "MARS"
    write_mars(root, jpeg_writer)
    return root


def test_official_protocol_keeps_queries_in_gallery(mars_dir: Path, cache_dir: Path):
    dataset = load_reid_dataset("mars", mars_dir.parent, cache_dir=cache_dir)
    train = dataset["train"]
    assert train["pid"] == [1, 3] and train["camid"] == [0, 1] and train["label"] == [0, 1]
    assert train[0]["frame_paths"] == [f"bbox_train/0001/0001C1T0001F00{i}.jpg" for i in (1, 2, 3)]
    assert len(train[0]["frames"]) == 3 and train[0]["frames"][0].size == (16, 32)
    assert train["path"][0] == "bbox_train/0001/0001C1T0001"
    query = dataset["query"]
    assert query["pid"] == [2, 5] and query["camid"] == [0, 0]
    gallery = dataset["gallery"]
    assert gallery["pid"] == [2, 2, 0, 5, 5]  # junk (pid -1) dropped, distractor kept, queries included
    assert gallery["camid"] == [0, 2, 1, 0, 5]


def test_torchreid_protocol_excludes_queries(mars_dir: Path, cache_dir: Path):
    dataset = load_reid_dataset("mars", mars_dir, cache_dir=cache_dir, gallery_protocol="torchreid")
    assert dataset["gallery"]["pid"] == [2, 0, 5]
    assert dataset["gallery"]["path"][0] == "bbox_test/0002/0002C3T0002"


def test_table_past_the_name_list(mars_dir: Path, cache_dir: Path):
    scipy.io.savemat(
        mars_dir / "info" / "tracks_train_info.mat",
        {"track_train_info": np.array([[1, 3, 1, 1], [4, 9, 3, 2]])},
    )
    with pytest.raises(
        ValueError, match=r"MARS: .*tracks_train_info\.mat row 2 spans names 4\.\.9; expected .*5 names"
    ):
        load_reid_dataset("mars", mars_dir, cache_dir=cache_dir)


def test_unknown_protocol_and_mismatched_frames(mars_dir: Path, cache_dir: Path):
    with pytest.raises(ValueError, match=r"gallery_protocol is 'prid'; expected one of"):
        load_reid_dataset("mars", mars_dir, cache_dir=cache_dir, gallery_protocol="prid")
    scipy.io.savemat(
        mars_dir / "info" / "tracks_train_info.mat",
        {"track_train_info": np.array([[1, 3, 1, 2], [4, 5, 3, 2]])},
    )
    with pytest.raises(
        ValueError, match=r"frame '0001C1T0001F001\.jpg' .* does not match the row's pid 1 and camera 2"
    ):
        load_reid_dataset("mars", mars_dir, cache_dir=cache_dir)
