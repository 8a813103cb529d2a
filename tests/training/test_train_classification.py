"""The CIFAR-100 recipe's path: plain cross-entropy, 4 fixed patches as parts, top-1 accuracy."""

from __future__ import annotations

import json
import pickle

import numpy as np

from iaunet_hf.data import load_reid_dataset
from iaunet_hf.training import ClassificationTrainer, load_config, trainer_for


def write_cifar100(root, num_train: int = 16, num_test: int = 8) -> None:
    """The official python-format pickles (``meta``, ``train``, ``test``) with random 32x32 images."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    meta = {
        b"fine_label_names": [f"fine_{i}".encode() for i in range(100)],
        b"coarse_label_names": [f"coarse_{i}".encode() for i in range(20)],
    }
    (root / "meta").write_bytes(pickle.dumps(meta))
    for split, count in (("train", num_train), ("test", num_test)):
        content = {
            b"filenames": [f"{split}_{i}.png".encode() for i in range(count)],
            b"fine_labels": [int(v) for v in rng.integers(0, 4, count)],
            b"coarse_labels": [int(v) for v in rng.integers(0, 20, count)],
            b"data": rng.integers(0, 256, size=(count, 3072), dtype=np.uint8),
        }
        (root / split).write_bytes(pickle.dumps(content))


def test_cifar100_recipe_trains_a_patch_classifier(tmp_path):
    write_cifar100(tmp_path / "cifar" / "cifar-100-python")
    dataset = load_reid_dataset("cifar100", tmp_path / "cifar", cache_dir=tmp_path / "cache")
    config = load_config(
        "cifar100",
        {
            "checkpoint.output_dir": str(tmp_path / "run"),
            "model.architecture": "iaunet_resnet18",
            "data.batch_size": 8,
            "data.eval_batch_size": 8,
            "data.num_workers": 0,
            "train.epochs": 1,
            "eval.every_epochs": 0,
        },
    )
    trainer = trainer_for(config, dataset)
    assert isinstance(trainer, ClassificationTrainer)
    result = trainer.train()
    assert set(result.history[0]) >= {"train/loss", "train/cross_entropy"}
    assert "train/part" not in result.history[0]  # no part masks, no part loss
    assert result.history[0]["train/triplet"] == 0.0
    accuracy = result.metrics["eval/top-1 accuracy"]
    assert 0.0 <= accuracy <= 100.0 and result.metrics["eval/top-1 error"] == 100.0 - accuracy
    assert result.results["results"][0]["metrics"]["top-1 accuracy"] == accuracy
    summary = json.loads((result.model_dir / "training_summary.json").read_text())
    assert summary["task"] == "classification" and summary["loss"]["triplet_weight"] == 0.0
    saved = json.loads((result.model_dir / "config.json").read_text())
    assert saved["part_division"] == "patches" and len(saved["id2label"]) == 100
