"""PRID (PRID2011 single-shot) on a fixture in the release layout: single_shot/cam_{a,b}/person_XXXX.png."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from iaunet_hf.data import load_reid_dataset

CAM_A, CAM_B = 203, 206  # the release has 385 and 749; persons 1..200 are in both


@pytest.fixture
def prid_dir(tmp_path: Path) -> Path:
    root = tmp_path / "prid_2011" / "single_shot"
    for camera, count in (("cam_a", CAM_A), ("cam_b", CAM_B)):
        (root / camera).mkdir(parents=True)
        for pid in range(1, count + 1):
            Image.fromarray(np.full((4, 2, 3), pid % 256, np.uint8)).save(
                root / camera / f"person_{pid:04d}.png"
            )
    return root.parent


def test_splits_and_cam_b_distractors(prid_dir: Path, cache_dir: Path):
    dataset = load_reid_dataset("prid", prid_dir.parent, cache_dir=cache_dir, split_id=2)
    split = json.loads((prid_dir / "iaunet_splits_prid_seed0.json").read_text())["splits"][2]
    assert sorted(split["train"] + split["test"]) == list(range(1, 201)) and len(split["train"]) == 100
    assert dataset["train"]["pid"] == [pid for pid in split["train"] for _ in range(2)]
    assert dataset["train"]["camid"] == [0, 1] * 100
    assert dataset["query"]["pid"] == split["test"] and set(dataset["query"]["camid"]) == {0}
    assert dataset["gallery"]["pid"] == split["test"] + list(range(201, CAM_B + 1))  # cam_b-only distractors
    assert set(dataset["gallery"]["camid"]) == {1}
    other = json.loads((prid_dir / "iaunet_splits_prid_seed0.json").read_text())["splits"][3]
    assert other["train"] != split["train"]
