"""CIFAR-100 builder on pickles written in the official python format."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from iaunet_hf.data import load_reid_dataset


def write_cifar(root: Path, num_train: int = 6, num_test: int = 3) -> np.ndarray:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    fine_names = [f"fine_{i}".encode() for i in range(100)]
    coarse_names = [f"coarse_{i}".encode() for i in range(20)]
    with (root / "meta").open("wb") as handle:
        pickle.dump({b"fine_label_names": fine_names, b"coarse_label_names": coarse_names}, handle)
    train_data = None
    for split, count in (("train", num_train), ("test", num_test)):
        data = rng.integers(0, 256, size=(count, 3072), dtype=np.uint8)
        content = {
            b"filenames": [f"img_{i}.png".encode() for i in range(count)],
            b"fine_labels": [int(v) for v in rng.integers(0, 100, count)],
            b"coarse_labels": [int(v) for v in rng.integers(0, 20, count)],
            b"data": data,
        }
        with (root / split).open("wb") as handle:
            pickle.dump(content, handle)
        if split == "train":
            train_data = content
    return train_data


def test_cifar100_rows_and_labels(tmp_path: Path, cache_dir: Path):
    content = write_cifar(tmp_path / "cifar-100-python")
    dataset = load_reid_dataset("cifar100", tmp_path, cache_dir=cache_dir)
    assert dataset["train"].num_rows == 6 and dataset["test"].num_rows == 3
    assert dataset["train"].features["fine_label"].names[5] == "fine_5"
    assert dataset["train"].features["coarse_label"].num_classes == 20
    assert dataset["train"]["fine_label"] == content[b"fine_labels"]
    pixels = np.asarray(dataset["train"][1]["image"])
    # channel planes of 1024 values each, rows of 32 pixels
    assert pixels[0, 0, 0] == content[b"data"][1, 0]
    assert pixels[0, 1, 1] == content[b"data"][1, 1024 + 1]
    assert pixels[2, 3, 2] == content[b"data"][1, 2048 + 2 * 32 + 3]


def test_cifar100_bad_pickle(tmp_path: Path, cache_dir: Path):
    write_cifar(tmp_path)
    with (tmp_path / "test").open("wb") as handle:
        pickle.dump(
            {b"data": np.zeros((2, 100), dtype=np.uint8), b"fine_labels": [1, 2], b"coarse_labels": [0, 0]},
            handle,
        )
    with pytest.raises(ValueError, match=r"CIFAR-100: .*test holds data \(2, 100\).*expected \(N, 3072\)"):
        load_reid_dataset("cifar100", tmp_path, cache_dir=cache_dir)
