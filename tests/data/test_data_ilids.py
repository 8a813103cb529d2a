"""i-LIDS (image) on a fixture in its release layout: Persons/<pid 4 digits><index 3 digits>.jpg."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iaunet_hf.data import load_reid_dataset

IMAGES_PER_PID = {1: 4, 2: 2, 3: 3, 4: 4, 5: 2, 6: 3, 7: 2}


@pytest.fixture
def ilids_dir(tmp_path: Path, jpeg_writer) -> Path:
    root = tmp_path / "i-LIDS_Pedestrian"
    for pid, count in IMAGES_PER_PID.items():
        for index in range(1, count + 1):
            jpeg_writer(root / "Persons" / f"{pid:04d}{index:03d}.jpg")
    return root


def test_random_splits(ilids_dir: Path, cache_dir: Path):
    dataset = load_reid_dataset("ilids", ilids_dir.parent, cache_dir=cache_dir, split_id=3)
    stored = json.loads((ilids_dir / "iaunet_splits_ilids_seed0.json").read_text())["splits"][3]
    train, test = set(stored["train"]), set(IMAGES_PER_PID) - set(stored["train"])
    assert len(train) == len(IMAGES_PER_PID) // 2
    assert dataset["train"].num_rows == sum(
        IMAGES_PER_PID[pid] for pid in train
    )  # every image of a train pid
    assert sorted(dataset["query"]["pid"]) == sorted(test) == sorted(dataset["gallery"]["pid"])
    for query, gallery in zip(dataset["query"], dataset["gallery"]):
        assert query["pid"] == gallery["pid"] and query["path"] != gallery["path"]
    # camid is the image index within the identity (no camera labels), as torchreid assigns it
    assert all(row["camid"] == int(Path(row["path"]).stem[4:]) - 1 for row in dataset["train"])
    other = load_reid_dataset("ilids", ilids_dir, cache_dir=cache_dir, split_id=4)
    assert (sorted(set(other["train"]["pid"])), other["query"]["path"]) != (
        sorted(train),
        dataset["query"]["path"],
    )


def test_identity_with_one_image(ilids_dir: Path, cache_dir: Path, jpeg_writer):
    jpeg_writer(ilids_dir / "Persons" / "0099001.jpg")
    with pytest.raises(ValueError, match=r"i-LIDS: .*fewer than 2 images \(\[99\]\)"):
        load_reid_dataset("ilids", ilids_dir, cache_dir=cache_dir)
