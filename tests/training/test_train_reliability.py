"""Faults a user or an attacker can cause around training: divergence, refused resumes, crafted checkpoint
files, kills during checkpoint rotation. Each one must never lose the last good state or run foreign code."""

from __future__ import annotations

import hashlib
import json
import pickle
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator
from safetensors.torch import load_file

from iaunet_hf.training import NonFiniteLossError, Trainer
from iaunet_hf.training.checkpoints import (
    TrainingProgress,
    check_checkpoint_files,
    list_checkpoints,
    save_checkpoint,
)
from iaunet_hf.training.cli import main

pytestmark = pytest.mark.reliability


def cli(tmp_path: Path, tiny_reid_dirs, tiny_overrides: dict, *extra: str) -> list[str]:
    """iaunet-train arguments for the tiny synthetic run in ``tmp_path / "run"`` plus ``extra``."""
    data_dir, cache_dir = tiny_reid_dirs
    argv = ["--recipe", "synthetic", "--output-dir", str(tmp_path / "run")]
    argv += ["--data-dir", str(data_dir), "--cache-dir", str(cache_dir)]
    for key, value in tiny_overrides.items():
        argv += [f"--{key}", str(value)]
    return [*argv, *extra]


def folder_digest(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def log_rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def one_epoch_run(tmp_path_factory, tiny_reid_dirs, tiny_overrides) -> Path:
    """A finished one-epoch run (its checkpoint_1 and final model) of the tiny synthetic recipe, trained once."""
    folder = tmp_path_factory.mktemp("one_epoch")
    assert main(cli(folder, tiny_reid_dirs, tiny_overrides, "--train.epochs", "1")) == 0
    return folder / "run"


@pytest.fixture
def finished_run(one_epoch_run, tmp_path) -> Path:
    """A copy of ``one_epoch_run`` in ``tmp_path / "run"``, for one test to change."""
    shutil.copytree(one_epoch_run, tmp_path / "run")
    return tmp_path / "run"


def test_divergence_never_reaches_a_checkpoint_and_the_advice_works(
    finished_run, tmp_path, tiny_reid_dirs, tiny_overrides, capsys
):
    checkpoint = finished_run / "checkpoints" / "checkpoint_1"
    saved = folder_digest(checkpoint)
    capsys.readouterr()
    # lr 1e6: the loss explodes to ~1e13 and the weights overflow; the run must warn and save nothing broken
    with pytest.warns(RuntimeWarning, match="the loss is diverging"):
        status = main(
            cli(
                tmp_path,
                tiny_reid_dirs,
                tiny_overrides,
                "--resume",
                "--train.epochs",
                "3",
                "--optimizer.lr",
                "1e6",
            )
        )
    assert status == 1
    message = capsys.readouterr().err
    assert f"the last good checkpoint is {checkpoint}" in message and "--optimizer.lr" in message
    assert message.strip().splitlines()[-1].strip().endswith("--resume latest --optimizer.lr 0.00035")
    assert (
        list_checkpoints(finished_run / "checkpoints") == [checkpoint] and folder_digest(checkpoint) == saved
    )
    assert all(torch.isfinite(t).all() for t in load_file(checkpoint / "model.safetensors").values())

    # the advice, followed: resume from the last good checkpoint with a lower learning rate
    assert (
        main(
            cli(
                tmp_path,
                tiny_reid_dirs,
                tiny_overrides,
                "--resume",
                "--train.epochs",
                "3",
                "--optimizer.lr",
                "1e-4",
            )
        )
        == 0
    )
    resumed = log_rows(finished_run)
    last_resume = max(i for i, row in enumerate(resumed) if row["kind"] == "resume")
    losses = [row["train/loss"] for row in resumed[last_resume:] if row["kind"] == "step"]
    assert len(losses) == 2 and all(loss is not None and loss < 100 for loss in losses)
    assert resumed[last_resume]["changed"]["optimizer.lr"] == 1e-4  # the override is recorded ...
    summary = json.loads((finished_run / "model" / "training_summary.json").read_text())
    assert summary["optimizer"]["lr"] == 1e-4 and summary["epochs_completed"] == 3  # ... and took effect
    assert [p.name for p in list_checkpoints(finished_run / "checkpoints")] == [
        "checkpoint_2",
        "checkpoint_3",
    ]


def test_a_finite_but_exploding_loss_warns(tiny_reid, make_config, tmp_path):
    trainer = Trainer(make_config(tmp_path / "run", **{"train.epochs": 1, "train.max_steps_per_epoch": 3,
                                                       "optimizer.lr": 1e6}), tiny_reid)  # fmt: skip
    with pytest.warns(RuntimeWarning, match="diverging"):
        trainer.train_one_epoch(0)
    assert "diverged" in trainer.weights_problem() or "not finite" in trainer.weights_problem()


def test_safe_resume_overrides_take_effect(finished_run, tiny_reid, make_config):
    config = make_config(finished_run, **{"checkpoint.resume": "latest", "optimizer.lr": 1e-5,
                                          "optimizer.weight_decay": 0.0, "train.epochs": 4})  # fmt: skip
    trainer = Trainer(config, tiny_reid)
    trainer.resume()
    assert {(g["lr"], g["weight_decay"]) for g in trainer.optimizer.param_groups} == {(1e-5, 0.0)}
    assert trainer.progress.epochs_done == 1 and trainer.scheduler.get_last_lr() == [1e-5]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        (["--model.iau_stages", "[2]"], "model.iau_stages"),
        (["--model.architecture", "iaunet_resnet34"], "model.architecture"),
        (["--optimizer.name", "sgd"], "optimizer.name"),
        (["--data.height", "128"], "data.height"),
    ],
)
def test_an_unsafe_resume_is_refused_and_leaves_the_run_untouched(
    finished_run, tmp_path, tiny_reid_dirs, tiny_overrides, capsys, override, field
):
    before = folder_digest(finished_run)
    capsys.readouterr()
    assert (
        main(cli(tmp_path, tiny_reid_dirs, tiny_overrides, "--resume", "--train.epochs", "2", *override)) == 2
    )
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and field in lines[0] and "cannot change" in lines[0]
    assert folder_digest(finished_run) == before


def test_a_fresh_run_into_a_folder_with_checkpoints_is_refused(
    finished_run, tmp_path, tiny_reid_dirs, tiny_overrides, capsys
):
    before = folder_digest(finished_run)
    capsys.readouterr()
    assert main(cli(tmp_path, tiny_reid_dirs, tiny_overrides)) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "already holds checkpoints" in lines[0] and "--resume" in lines[0]
    assert folder_digest(finished_run) == before


def test_resuming_a_finished_run_changes_nothing(finished_run, tmp_path, tiny_reid_dirs, tiny_overrides):
    before = folder_digest(finished_run)
    assert main(cli(tmp_path, tiny_reid_dirs, tiny_overrides, "--train.epochs", "1", "--resume")) == 0
    assert folder_digest(finished_run) == before  # no second "final" row, no rewritten model


class WritesAMarker:
    """A pickle payload: unpickling it calls ``open(marker, "w")``, creating the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_the_payload_works_when_unpickled(tmp_path):  # the check below is only meaningful if it would run
    pickle.loads(pickle.dumps(WritesAMarker(tmp_path / "marker")))
    assert (tmp_path / "marker").exists()


@pytest.mark.parametrize(
    "name",
    ["optimizer.bin", "scheduler.bin", "random_states_0.pkl", "model.safetensors", "training_progress.json",
     "run_config.json", "custom_checkpoint_0.pkl"],
)  # fmt: skip
def test_resume_never_unpickles_a_crafted_checkpoint_file(
    finished_run, tmp_path, tiny_reid_dirs, tiny_overrides, capsys, name
):
    marker = tmp_path / "marker"
    crafted = finished_run / "checkpoints" / "checkpoint_1" / name
    torch.save(WritesAMarker(marker), crafted)  # torch's own zip format around the crafted pickle
    capsys.readouterr()
    status = main(cli(tmp_path, tiny_reid_dirs, tiny_overrides, "--resume", "--train.epochs", "2"))
    assert not marker.exists()
    assert status == 2 and name in capsys.readouterr().err


def test_rotation_renames_before_deleting(tmp_path, monkeypatch):
    accelerator = Accelerator(cpu=True)
    model = torch.nn.Linear(4, 2)
    model, optimizer = accelerator.prepare(model, torch.optim.Adam(model.parameters()))
    progress = TrainingProgress(checkpoint_index=1)
    first = save_checkpoint(accelerator, tmp_path, progress, {}, keep=1)
    complete = sorted(p.name for p in first.iterdir())

    real_rmtree = shutil.rmtree

    def killed_half_way(
        path, *args, **kwargs
    ):  # a kill during deletion: one file gone, then the process dies
        files = sorted(Path(path).iterdir())
        files[0].unlink()
        raise KeyboardInterrupt

    monkeypatch.setattr(shutil, "rmtree", killed_half_way)
    progress.checkpoint_index = 2
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(accelerator, tmp_path, progress, {}, keep=1)
    monkeypatch.setattr(shutil, "rmtree", real_rmtree)
    # every folder named checkpoint_N is complete; the half-deleted one is under a hidden name
    for checkpoint in list_checkpoints(tmp_path):
        assert sorted(p.name for p in checkpoint.iterdir()) == complete
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint_2"]
    # the next save clears the leftover
    progress.checkpoint_index = 3
    save_checkpoint(accelerator, tmp_path, progress, {}, keep=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint_3"]


@pytest.mark.parametrize("action", ["stop", "skip"])
def test_a_nan_in_the_part_attention_reaches_the_non_finite_guard(tiny_reid, make_config, tmp_path, action):
    trainer = Trainer(make_config(tmp_path / "run", **{"train.non_finite_loss": action}), tiny_reid)
    network = trainer.accelerator.unwrap_model(trainer.model).iaunet.network
    block = next(iter(network.iau.values()))
    # a user forward hook that makes the part attention logits NaN (what a diverged part branch gives)
    block.stiau.part_norm.register_forward_hook(lambda module, inputs, output: output * float("nan"))
    if action == "stop":
        with pytest.raises(NonFiniteLossError, match="non-finite loss"):
            trainer.train_one_epoch(0)
    else:
        assert trainer.train_one_epoch(0)["train/skipped_steps"] == 1


def test_a_real_kill_at_random_moments_leaves_only_complete_checkpoints(tmp_path):
    worker = Path(__file__).with_name("rotation_worker.py")
    checkpoints_dir = tmp_path / "checkpoints"
    rng = random.Random(0)
    expected = None
    for _ in range(3):
        process = subprocess.Popen(
            [sys.executable, str(worker), str(checkpoints_dir)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(rng.randint(2, 4)):  # let it save a few times, then kill it mid-way through the next
            assert process.stdout.readline().startswith("saved")
        time.sleep(rng.uniform(0.0, 0.05))
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stdout.close()
        checkpoints = list_checkpoints(checkpoints_dir)
        assert checkpoints, "a kill must leave the last complete checkpoint"
        for checkpoint in checkpoints:
            files = sorted(p.name for p in checkpoint.iterdir())
            expected = expected or files
            assert files == expected, f"{checkpoint} is incomplete after a kill: {files}"
            assert check_checkpoint_files(checkpoint).checkpoint_index == int(
                checkpoint.name.rsplit("_", 1)[1]
            )
