"""Resuming from a checkpoint continues exactly where the interrupted run stood."""

from __future__ import annotations

import json

from safetensors.torch import load_file

from iaunet_hf.training import Trainer
from iaunet_hf.training.cli import main


def test_resume_reproduces_the_uninterrupted_run(
    tiny_reid, tiny_reid_dirs, tiny_overrides, make_config, tmp_path
):
    # random erasing and flips draw from the RNG, Adam keeps moments, BN keeps running statistics:
    # all of them must come back from the checkpoint for the weights to match exactly.
    settings = {"train.max_steps_per_epoch": 2, "data.random_erasing": 0.5, "optimizer.lr": 1e-3}
    uninterrupted = Trainer(
        make_config(tmp_path / "full", **settings, **{"train.epochs": 2}), tiny_reid
    ).train()

    # the interrupted run: one epoch (its checkpoint), then the command line continues it with --resume,
    # loading the dataset from its folder (the same Arrow cache)
    Trainer(make_config(tmp_path / "parts", **settings, **{"train.epochs": 1}), tiny_reid).train()
    data_dir, cache_dir = tiny_reid_dirs
    overrides = {
        **tiny_overrides,
        **settings,
        "train.epochs": 2,
        "data-dir": data_dir,
        "cache-dir": cache_dir,
    }
    argv = ["--recipe", "synthetic", "--output-dir", str(tmp_path / "parts"), "--resume"]
    for key, value in overrides.items():
        argv += [f"--{key}", str(value)]
    assert main(argv) == 0

    rows = [json.loads(line) for line in (tmp_path / "parts" / "log.jsonl").read_text().splitlines()]
    epochs = [row for row in rows if row["kind"] == "epoch"]
    assert [row["epoch"] for row in epochs] == [1, 2]  # the resumed run trained only the missing epoch
    assert [row["step"] for row in rows if row["kind"] == "step"] == [1, 2, 3, 4]
    # it numbered its checkpoint after the loaded one instead of colliding with it
    checkpoints = sorted(p.name for p in (tmp_path / "parts" / "checkpoints").iterdir())
    assert checkpoints == ["checkpoint_1", "checkpoint_2"]
    expected = load_file(uninterrupted.model_dir / "model.safetensors")
    actual = load_file(tmp_path / "parts" / "model" / "model.safetensors")
    assert expected.keys() == actual.keys()
    mismatched = [key for key in expected if not (expected[key] == actual[key]).all()]
    assert not mismatched, f"weights differ after resume: {mismatched[:5]}"
    assert uninterrupted.history[-1]["train/loss"] == epochs[-1]["train/loss"]
