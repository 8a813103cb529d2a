"""Resuming from a checkpoint continues exactly where the interrupted run stood."""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from pathlib import Path

import pytest
from safetensors.torch import load_file
from train_cli import tiny_train_argv

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


# --- issue 26: a resume continues the run's own saved configuration ----------------------------------------
def summary_of(run: Path) -> dict:
    return json.loads((run / "model" / "training_summary.json").read_text())


def resume_rows(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return [row for row in rows if row["kind"] == "resume"]


def folder_digest(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def bf16_run(tmp_path_factory, tiny_reid_dirs, tiny_overrides) -> Path:
    """One epoch of the tiny run in bf16, as the docs' first command trains (``--mixed-precision bf16``)."""
    folder = tmp_path_factory.mktemp("bf16_run") / "run"
    argv = tiny_train_argv(
        folder, tiny_reid_dirs, tiny_overrides, "--train.epochs", "1", "--mixed-precision", "bf16"
    )
    assert main(argv) == 0
    return folder


@pytest.mark.parametrize("with_recipe", [True, False])
def test_the_documented_resume_command_continues_the_run_as_it_was_configured(
    bf16_run, tmp_path, tiny_reid_dirs, with_recipe
):
    # docs/training.md: `iaunet-train --recipe R --data-dir D --output-dir O --resume` (here with a longer run);
    # no --mixed-precision, no size or batch options: they come from the run's saved configuration
    run = tmp_path / "run"
    shutil.copytree(bf16_run, run)
    argv = ["--recipe", "synthetic", "--data-dir", str(tiny_reid_dirs[0])] if with_recipe else []
    assert main([*argv, "--output-dir", str(run), "--resume", "--epochs", "2"]) == 0
    summary = summary_of(run)
    assert summary["epochs_completed"] == 2 and summary["precision"] == "bf16"
    assert summary["image_size"] == [64, 32] and summary["batch_size"] == 8
    assert summary["max_steps_per_epoch"] == 1
    assert [row["changed"] for row in resume_rows(run)] == [{"train.epochs": 2}]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (["--mixed-precision", "no"], "train.mixed_precision"),  # given on the command line: still compared
        (["--recipe", "market1501"], "recipe"),  # another recipe would swap every field at once
    ],
)
def test_options_given_with_resume_are_still_refused_when_they_cannot_change(
    bf16_run, tmp_path, capsys, extra, field
):
    run = tmp_path / "run"
    shutil.copytree(bf16_run, run)
    before = folder_digest(run)
    capsys.readouterr()
    assert main(["--output-dir", str(run), "--resume", "--epochs", "2", *extra]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and field in lines[0], lines
    assert folder_digest(run) == before


@pytest.fixture(scope="module")
def masked_run(tmp_path_factory, tiny_reid_dirs, tiny_overrides) -> Path:
    """One epoch of the tiny set read as Market-1501 with the part masks of ``--data.mask_dir``."""
    folder = tmp_path_factory.mktemp("masked_run") / "run"
    argv = tiny_train_argv(
        folder, tiny_reid_dirs, tiny_overrides, "--train.epochs", "1", "--data.dataset", "market1501"
    )
    assert main([*argv, "--data.mask_dir", str(tiny_reid_dirs[0] / "part_masks")]) == 0
    assert summary_of(folder)["part_masks_used"] is True
    return folder


def test_a_resume_without_mask_dir_keeps_the_part_loss(masked_run, tmp_path, tiny_reid_dirs, tiny_overrides):
    # the command: the first run's options again, without --data.mask_dir
    run = tmp_path / "run"
    shutil.copytree(masked_run, run)
    argv = tiny_train_argv(run, tiny_reid_dirs, tiny_overrides, "--data.dataset", "market1501", "--resume")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(argv) == 0
    assert not [w for w in caught if "part loss is off" in str(w.message)]
    summary = summary_of(run)
    assert summary["epochs_completed"] == 2
    assert summary["part_masks_used"] is True and summary["loss"]["part_loss_weight"] == 0.5
    [segment] = summary["epoch_segments"]
    assert segment["epochs"] == [1, 2] and segment["part_masks_used"] is True
    assert segment["loss"]["part_loss_weight"] == 0.5


def test_a_resume_with_another_mask_dir_is_refused(
    masked_run, tmp_path, tiny_reid_dirs, tiny_overrides, capsys
):
    run = tmp_path / "run"
    shutil.copytree(masked_run, run)
    before = folder_digest(run)
    other = tmp_path / "other_masks"
    shutil.copytree(tiny_reid_dirs[0] / "part_masks", other)
    argv = tiny_train_argv(run, tiny_reid_dirs, tiny_overrides, "--data.dataset", "market1501", "--resume")
    capsys.readouterr()
    assert main([*argv, "--data.mask_dir", str(other)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "data.mask_dir" in lines[0] and "cannot change" in lines[0]
    assert folder_digest(run) == before
    # the same folder by another spelling is no change
    same = tmp_path / "link"
    same.symlink_to(tiny_reid_dirs[0] / "part_masks")
    assert main([*argv, "--data.mask_dir", str(same)]) == 0


def test_the_summary_records_each_epoch_and_never_rewrites_earlier_ones(
    masked_run, tmp_path, tiny_reid_dirs, tiny_overrides
):
    # a resume that turns the part loss off (a safe change) for epoch 2: epoch 1 still trained with it
    run = tmp_path / "run"
    shutil.copytree(masked_run, run)
    assert main(["--output-dir", str(run), "--resume", "--epochs", "2", "--loss.part_loss_weight", "0"]) == 0
    summary = summary_of(run)
    first, second = summary["epoch_segments"]
    assert first["epochs"] == [1, 1] and first["part_masks_used"] is True
    assert first["loss"]["part_loss_weight"] == 0.5
    assert second["epochs"] == [2, 2] and second["part_masks_used"] is False
    assert second["loss"]["part_loss_weight"] == 0.0
    # run-wide, the part loss has no single value: null, not the last epoch's 0 for the whole run
    assert summary["part_masks_used"] is None and summary["loss"]["part_loss_weight"] is None
    assert summary["loss"]["triplet_weight"] == 1.0  # what every epoch agrees on stays
    assert "Trained without part masks" not in (run / "model" / "README.md").read_text()
