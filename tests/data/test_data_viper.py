"""VIPeR on a fixture in its release layout (cam_a/ and cam_b/ BMP files): pairing, the 10 seeded
partitions x 2 directions, the stored split file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from iaunet_hf.data import load_reid_dataset

NUM_PERSONS = 8


@pytest.fixture
def viper_dir(tmp_path: Path) -> Path:
    root = tmp_path / "VIPeR"
    for camera, angle in (("cam_a", 0), ("cam_b", 90)):
        (root / camera).mkdir(parents=True)
        for person in range(NUM_PERSONS):
            array = np.full((16, 8, 3), person * 10 + (camera == "cam_b"), dtype=np.uint8)
            Image.fromarray(array).save(root / camera / f"{person:03d}_{angle + person}.bmp")
    return root


def test_pairs_directions_and_split_file(viper_dir: Path, cache_dir: Path):
    even = load_reid_dataset("viper", viper_dir, cache_dir=cache_dir, split_id=4)
    odd = load_reid_dataset("viper", viper_dir, cache_dir=cache_dir, split_id=5)
    stored = json.loads((viper_dir / "iaunet_splits_viper_seed0.json").read_text())
    partition = stored["splits"][2]
    assert len(stored["splits"]) == 10 and stored["dataset"] == "viper" and stored["seed"] == 0
    assert sorted(partition["train"] + partition["test"]) == list(range(1, NUM_PERSONS + 1))
    assert len(partition["train"]) == NUM_PERSONS // 2
    assert sorted(set(even["train"]["pid"])) == partition["train"]
    assert even["train"]["path"] == odd["train"]["path"]  # 2k and 2k+1 share the training set
    assert set(even["query"]["camid"]) == {0} and set(even["gallery"]["camid"]) == {1}
    assert set(odd["query"]["camid"]) == {1} and set(odd["gallery"]["camid"]) == {0}
    assert even["query"]["pid"] == partition["test"] == odd["gallery"]["pid"]
    # pid n pairs the n-th sorted file of each camera
    for row in even["train"]:
        assert np.asarray(row["image"])[0, 0, 0] == (row["pid"] - 1) * 10 + row["camid"]


def test_splits_are_seeded_reproducible_and_read_back(viper_dir: Path, tmp_path: Path, cache_dir: Path):
    load_reid_dataset("viper", viper_dir, cache_dir=cache_dir)
    first = json.loads((viper_dir / "iaunet_splits_viper_seed0.json").read_text())
    (viper_dir / "iaunet_splits_viper_seed0.json").unlink()
    load_reid_dataset("viper", viper_dir, cache_dir=tmp_path / "fresh")
    assert (
        json.loads((viper_dir / "iaunet_splits_viper_seed0.json").read_text()) == first
    )  # same seed, same splits
    load_reid_dataset("viper", viper_dir, cache_dir=cache_dir, seed=1)
    assert json.loads((viper_dir / "iaunet_splits_viper_seed1.json").read_text())["splits"] != first["splits"]
    # the stored file is the source of truth, and a changed file re-prepares the cache
    edited = dict(first, splits=[{"train": [1, 2, 3, 4], "test": [5, 6, 7, 8]}] * 10)
    custom = tmp_path / "my_splits.json"
    custom.write_text(json.dumps(edited))
    dataset = load_reid_dataset("viper", viper_dir, cache_dir=cache_dir, split_file=str(custom))
    assert sorted(set(dataset["train"]["pid"])) == [1, 2, 3, 4]
    custom.write_text(json.dumps(dict(edited, splits=[{"train": [5, 6, 7, 8], "test": [1, 2, 3, 4]}] * 10)))
    dataset = load_reid_dataset("viper", viper_dir, cache_dir=cache_dir, split_file=str(custom))
    assert sorted(set(dataset["train"]["pid"])) == [5, 6, 7, 8]
    with pytest.raises(ValueError, match=r"viper: split_id is 20; expected 0\.\.19"):
        load_reid_dataset("viper", viper_dir, cache_dir=cache_dir, split_id=20)


def test_unequal_cameras(viper_dir: Path, cache_dir: Path):
    next((viper_dir / "cam_b").iterdir()).unlink()
    with pytest.raises(ValueError, match=r"VIPeR: .*cam_a holds 8 images and .*cam_b 7"):
        load_reid_dataset("viper", viper_dir, cache_dir=cache_dir)
