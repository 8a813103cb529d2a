"""The data a user brings: sets without part masks, a custom name pattern from the CLI, train-only sets and
several training sets at once."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import datasets
import pytest

from iaunet_hf.data import load_reid_dataset, write_synthetic_reid
from iaunet_hf.training import Trainer
from iaunet_hf.training.cli import main

SPLIT_FOLDERS = {"bounding_box_train": "train", "query": "query", "bounding_box_test": "gallery"}


def renamed_copy(market_dir: Path, root: Path) -> Path:
    """The set's train/query/gallery images as a user's own ``folder`` set named ``person0003-view1-....jpg``."""
    for source, split in SPLIT_FOLDERS.items():
        (root / split).mkdir(parents=True)
        for image in sorted((market_dir / source).glob("*.jpg")):
            pid, camera = image.stem.split("_")[:2]
            if not pid.startswith("-"):  # junk images (pid -1) are not part of a user's own set
                (root / split / f"person{pid}-view{camera[1:]}-{image.name}").write_bytes(image.read_bytes())
    return root


def identity_folders(market_dir: Path, root: Path) -> Path:
    """The training images as a train-only ``<pid>/<image>`` tree (one folder per identity, no cameras)."""
    for image in sorted((market_dir / "bounding_box_train").glob("*.jpg")):
        folder = root / image.stem.split("_")[0]
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(image, folder / image.name)
    return root


def argv_for(tmp_path: Path, tiny_overrides: dict, *extra: str) -> list[str]:
    argv = [
        "--recipe",
        "synthetic",
        "--output-dir",
        str(tmp_path / "run"),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    for key, value in tiny_overrides.items():
        argv += [f"--{key}", str(value)]
    return [*argv, "--train.epochs", "1", *extra]


def test_a_recipe_expecting_masks_on_a_set_without_them_warns_once(tiny_reid_dirs, make_config, tmp_path):
    data_dir, cache_dir = tiny_reid_dirs
    without_masks = load_reid_dataset("market1501", data_dir, cache_dir=cache_dir)  # no mask_dir
    assert "part_masks" not in without_masks["train"].column_names
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer = Trainer(make_config(tmp_path / "run"), without_masks)
    messages = [str(w.message) for w in caught if "part loss is off" in str(w.message)]
    assert len(messages) == 1 and "data.mask_dir" in messages[0]
    assert not trainer.part_masks_used and trainer.loss_settings()["part_loss_weight"] == 0.0
    assert trainer.accelerator.unwrap_model(trainer.model).config.part_loss_weight == 0.0


def test_a_custom_name_pattern_from_the_cli_trains_and_evaluates(tiny_reid_dirs, tiny_overrides, tmp_path):
    root = renamed_copy(tiny_reid_dirs[0], tmp_path / "my_set")
    pattern = r"person([-\d]+)-view(\d)"
    argv = argv_for(tmp_path, tiny_overrides, "--data.dataset", "folder", "--data-dir", str(root))
    assert main([*argv, "--data.name_pattern", pattern]) == 0
    model = tmp_path / "run" / "model"
    results = json.loads((model / "eval_results.json").read_text())
    assert results["results"][0]["dataset"] == "folder" and results["results"][0]["dataset_type"] == "custom"
    assert results["results"][0]["counts"]["num_query"] == len(list((root / "query").iterdir()))
    summary = json.loads((model / "training_summary.json").read_text())
    assert summary["train_datasets"] == ["folder"] and summary["num_train_images"] == 16
    assert not summary["part_masks_used"] and summary["loss"]["part_loss_weight"] == 0.0


def test_a_train_only_set_trains_without_evaluation_or_on_held_out_identities(
    tiny_reid_dirs, tiny_overrides, tmp_path
):
    root = identity_folders(tiny_reid_dirs[0], tmp_path / "people")
    argv = argv_for(tmp_path, tiny_overrides, "--data.dataset", "folder", "--data-dir", str(root))
    assert main(argv) == 0
    model = tmp_path / "run" / "model"
    assert not (model / "eval_results.json").exists() and (model / "README.md").is_file()
    assert json.loads((model / "training_summary.json").read_text())["num_train_identities"] == 4

    # by option: a pid-disjoint query/gallery split of held-out identities, stored in the run folder
    shutil.rmtree(tmp_path / "run")
    assert main([*argv, "--data.missing_eval_splits", "split", "--data.split_test_fraction", "0.25"]) == 0
    split = json.loads((tmp_path / "run" / "eval_split.json").read_text())
    results = json.loads((model / "eval_results.json").read_text())["results"][0]
    assert results["counts"]["num_query"] == len(split["rows"]["query"]) > 0
    assert results["settings"]["camera_filter"] is False  # identity folders carry no cameras
    summary = json.loads((model / "training_summary.json").read_text())
    assert summary["num_train_identities"] == 4 - len(split["test_pids"])


def test_several_training_sets_get_disjoint_labels_and_one_sampler(tiny_reid_dirs, make_config, tmp_path):
    data_dir, cache_dir = tiny_reid_dirs
    other = write_synthetic_reid(tmp_path / "other", num_train_ids=3, num_test_ids=2, num_cameras=2,
                                 images_per_camera=2, num_distractors=0, num_junk=0, height=64, width=32, seed=1)  # fmt: skip
    config = make_config(tmp_path / "run", **{"data.dataset": ["synthetic", "market1501"],
                                              "data.data_dir": [str(data_dir), str(other)],
                                              "data.cache_dir": str(cache_dir), "train.epochs": 1})  # fmt: skip
    trainer = Trainer(config)
    first = load_reid_dataset("synthetic", data_dir, cache_dir=cache_dir)["train"]
    second = load_reid_dataset("market1501", other, cache_dir=cache_dir)["train"]
    assert len(trainer.labels) == first.num_rows + second.num_rows
    num_first = len(set(first["label"]))
    assert set(trainer.labels) == set(range(num_first + len(set(second["label"]))))  # disjoint, contiguous
    # one epoch of the P x K sampler (uncapped) draws identities of both sets
    sampler = trainer.batch_sampler.batch_sampler
    drawn = {trainer.labels[index] for batch in sampler for index in batch}
    assert min(drawn) < num_first <= max(drawn)
    assert trainer.eval_dataset_name == "synthetic" and isinstance(
        trainer.dataset_dict["query"], datasets.Dataset
    )
    result = trainer.train()
    summary = json.loads((result.model_dir / "training_summary.json").read_text())
    assert summary["train_datasets"] == ["synthetic", "market1501"]
    assert summary["num_train_identities"] == len(set(trainer.labels))


def test_a_data_dir_per_dataset_is_required(make_config, tmp_path):
    with pytest.raises(ValueError, match="one folder per dataset"):
        make_config(
            tmp_path / "run", **{"data.dataset": ["synthetic", "market1501"], "data.data_dir": ["/a"]}
        )
