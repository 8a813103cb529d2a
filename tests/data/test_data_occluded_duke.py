"""Occluded-DukeMTMC in both release forms: the converted folders, and the name lists next to the
original DukeMTMC-reID (occluded gallery images moved to the query are found in bounding_box_test/)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from iaunet_hf.data import load_reid_dataset

LISTS = {
    "train": ["0001_c2_f0046182.jpg", "0001_c5_f0051341.jpg", "0003_c1_f0044112.jpg"],
    "query": ["0019_c1_f0051230.jpg", "0021_c8_f0008516.jpg"],  # moved here from the Duke gallery
    "gallery": ["0019_c5_f0060626.jpg", "0021_c2_f0010000.jpg", "0000_c3_f0000001.jpg"],
}
DUKE_FOLDERS = {"train": "bounding_box_train", "query": "query", "gallery": "bounding_box_test"}


def test_converted_folders(tmp_path: Path, cache_dir: Path, jpeg_writer):
    root = tmp_path / "Occluded_Duke"
    for split, names in LISTS.items():
        for name in names:
            jpeg_writer(root / DUKE_FOLDERS[split] / name)
    dataset = load_reid_dataset("occluded_duke", tmp_path, cache_dir=cache_dir)
    assert dataset["train"]["pid"] == [1, 1, 3] and dataset["train"]["camid"] == [1, 4, 0]
    assert dataset["query"]["pid"] == [19, 21] and dataset["query"]["camid"] == [0, 7]
    assert sorted(dataset["gallery"]["pid"]) == [0, 19, 21]


def test_name_lists_with_the_original_set(tmp_path: Path, cache_dir: Path, jpeg_writer):
    duke = tmp_path / "elsewhere" / "DukeMTMC-reID"
    for split, names in LISTS.items():
        folder = (
            "bounding_box_test" if split == "query" else DUKE_FOLDERS[split]
        )  # queries come from the gallery
        for name in names:
            jpeg_writer(duke / folder / name)
    jpeg_writer(duke / "query" / "0999_c1_f0000001.jpg")  # an original query not in the lists
    root = tmp_path / "Occluded_Duke"
    root.mkdir()
    for split, names in LISTS.items():
        (root / f"{split}.list").write_text("\n".join(names) + "\n")
    os.symlink(duke, root / "DukeMTMC-reID")  # a symlinked folder inside the layout is followed
    dataset = load_reid_dataset("occluded_duke", root, cache_dir=cache_dir)
    assert dataset["query"]["path"] == [f"DukeMTMC-reID/bounding_box_test/{n}" for n in LISTS["query"]]
    assert dataset["train"]["pid"] == [1, 1, 3] and sorted(dataset["gallery"]["pid"]) == [0, 19, 21]
    (root / "query.list").write_text("0019_c1_f0051230.jpg\n../../secret.jpg\n")
    with pytest.raises(ValueError, match=r"query\.list line 2: path .*secret\.jpg' escapes the data folder"):
        load_reid_dataset("occluded_duke", root, cache_dir=cache_dir / "fresh")
