"""Atomic, rotated checkpoints: a save that fails half-way leaves the previous checkpoint as it was."""

from __future__ import annotations

import pytest
import torch
from accelerate import Accelerator

from iaunet_hf.training.checkpoints import (
    TrainingProgress,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    resolve_resume,
    save_checkpoint,
)


def _prepared(seed: int = 0):
    torch.manual_seed(seed)
    accelerator = Accelerator(cpu=True)
    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    progress = TrainingProgress()
    model, optimizer = accelerator.prepare(model, optimizer)
    return accelerator, model, optimizer, progress


def _step(model, optimizer):
    loss = model(torch.ones(3, 4)).pow(2).sum()
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()


class SaveFailure(RuntimeError):
    pass


def test_failed_save_leaves_previous_checkpoint_intact(tmp_path):
    accelerator, model, optimizer, progress = _prepared()
    _step(model, optimizer)
    progress.epochs_done, progress.checkpoint_index = 1, 1
    first = save_checkpoint(accelerator, tmp_path, progress, {"name": "test"}, keep=2)
    saved_files = {path.name: path.read_bytes() for path in first.iterdir()}
    saved_weight = model.weight.detach().clone()

    _step(model, optimizer)

    def failing_hook(models, weights, output_dir):  # a user save hook that fails mid-save
        raise SaveFailure("disk full")

    handle = accelerator.register_save_state_pre_hook(failing_hook)
    progress.checkpoint_index = 2
    with pytest.raises(SaveFailure):
        save_checkpoint(accelerator, tmp_path, progress, {"name": "test"}, keep=1)
    handle.remove()

    assert list_checkpoints(tmp_path) == [first]
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no half-written folder left behind
    assert {path.name: path.read_bytes() for path in first.iterdir()} == saved_files
    progress = load_checkpoint(accelerator, first)
    torch.testing.assert_close(model.weight.detach(), saved_weight)
    assert progress.epochs_done == 1 and progress.checkpoint_index == 1
    assert accelerator.project_configuration.iteration == 2  # numbering continues after the loaded one


def test_rotation_keeps_the_newest_and_ignores_unfinished_folders(tmp_path):
    accelerator, model, optimizer, progress = _prepared()
    for index in range(1, 5):
        _step(model, optimizer)
        progress.checkpoint_index = index
        save_checkpoint(accelerator, tmp_path, progress, {}, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint_3", "checkpoint_4"]
    (tmp_path / ".tmp-checkpoint_5").mkdir()  # what a run killed while saving leaves
    assert latest_checkpoint(tmp_path).name == "checkpoint_4"
    assert resolve_resume("latest", tmp_path).name == "checkpoint_4"
    with pytest.raises(FileNotFoundError, match="no checkpoint_N folder"):
        resolve_resume("latest", tmp_path / "elsewhere")
    with pytest.raises(FileNotFoundError, match="not a checkpoint folder"):
        resolve_resume(str(tmp_path / "checkpoint_9"), tmp_path)
    # the next save over a stale temporary folder still succeeds
    progress.checkpoint_index = 5
    assert save_checkpoint(accelerator, tmp_path, progress, {}, keep=2).name == "checkpoint_5"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint_4", "checkpoint_5"]
