"""Atomic, rotated training-state checkpoints on ``accelerator.save_state``, and the run's progress as JSON.

``save_state`` writes many files one after another, so every checkpoint is written into a hidden temporary
folder and renamed into place only once complete. Rotation renames an old checkpoint aside before deleting it,
so a kill at any moment never leaves a half-deleted folder under a ``checkpoint_N`` name.

Nothing in a checkpoint is unpickled: the package's own progress and the run's config are JSON files
(``training_progress.json``, ``run_config.json``; accelerate's custom-state pickle is not used), the model is
safetensors, and every torch file (optimizer, scheduler, RNG states, scaler) is loaded with
``weights_only=True`` before ``load_state`` reads it, so a crafted file is refused with its name.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from accelerate import Accelerator

CHECKPOINTS_DIR = "checkpoints"  # the run's training states, under its output folder
CHECKPOINT_PREFIX = "checkpoint_"
TEMPORARY_PREFIX = ".tmp-"
PROGRESS_FILE = "training_progress.json"
RUN_CONFIG_FILE = "run_config.json"
TORCH_FILE_SUFFIXES = (".bin", ".pkl", ".pt", ".pth")
_CHECKPOINT_PATTERN = re.compile(rf"^{CHECKPOINT_PREFIX}(\d+)$")


@dataclass
class TrainingProgress:
    """Where a run stands; written as JSON into every checkpoint and read back on resume."""

    epochs_done: int = 0
    global_step: int = 0
    checkpoint_index: int = 0
    best_metric: float = -1.0  # mAP (reID) or top-1 accuracy (classification) of the best model so far
    best_epoch: int = -1
    reference_loss: float | None = (
        None  # the run's first logged loss: the scale divergence is measured against
    )
    finished: bool = False  # the final model of ``epochs_done`` epochs was saved
    # What the epochs trained with, as runs of equal epochs: [{"epochs": [first, last], "part_masks_used": ...,
    # "loss": {...}}] (summary.record_epoch). Checkpoints written before it existed have none.
    epoch_segments: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_file(cls, path: Path) -> TrainingProgress:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ValueError(f"checkpoint file {path}: not a training progress JSON file ({error})") from None
        names = {f.name for f in fields(cls)}
        if not isinstance(raw, dict) or set(raw) - names:
            raise ValueError(
                f"checkpoint file {path}: expected a JSON object with keys among {sorted(names)}"
            )
        return cls(**raw)


def list_checkpoints(checkpoints_dir: str | Path) -> list[Path]:
    """Complete checkpoints under ``checkpoints_dir``, oldest first (temporary folders are not checkpoints)."""
    folder = Path(checkpoints_dir)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _CHECKPOINT_PATTERN.match(p.name))]
    return [path for _, path in sorted(found)]


def latest_checkpoint(checkpoints_dir: str | Path) -> Path | None:
    checkpoints = list_checkpoints(checkpoints_dir)
    return checkpoints[-1] if checkpoints else None


def resolve_resume(resume: str, checkpoints_dir: str | Path) -> Path:
    """The checkpoint folder named by ``--resume``: ``"latest"`` or a path to a ``checkpoint_N`` folder."""
    if resume == "latest":
        path = latest_checkpoint(checkpoints_dir)
        if path is None:
            raise FileNotFoundError(
                f"--resume latest: no {CHECKPOINT_PREFIX}N folder in {checkpoints_dir}; expected a previous run's "
                "checkpoints there (same --output-dir), or pass a checkpoint folder. With no checkpoint to resume, "
                "leave out --resume to start the run again (a folder without checkpoints can be reused)"
            )
        return path
    path = Path(resume)
    if not (path / PROGRESS_FILE).is_file():
        raise FileNotFoundError(
            f"--resume {resume}: not a checkpoint folder of this package; expected a {CHECKPOINT_PREFIX}N folder "
            f"holding {PROGRESS_FILE}"
        )
    return path


def read_run_config(checkpoint: Path) -> dict[str, Any]:
    """The config (nested plain data) the checkpoint's run trained with."""
    path = checkpoint / RUN_CONFIG_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"checkpoint file {path}: not the run's config JSON ({error})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"checkpoint file {path}: expected a JSON object")
    return raw


def remove_directory(folder: Path) -> None:
    """Rename ``folder`` to a hidden name, then delete it: a kill in between leaves only a hidden leftover."""
    aside = folder.with_name(f"{TEMPORARY_PREFIX}old-{folder.name}")
    if aside.exists():
        shutil.rmtree(aside)
    os.replace(folder, aside)
    shutil.rmtree(aside)


def replace_directory(source: Path, target: Path) -> None:
    """Move the complete folder ``source`` to ``target``; a previous ``target`` is renamed aside, then removed."""
    aside = target.with_name(f"{TEMPORARY_PREFIX}old-{target.name}")
    if aside.exists():
        shutil.rmtree(aside)
    if target.exists():
        os.replace(target, aside)
    os.replace(source, target)
    if aside.exists():
        shutil.rmtree(aside)


def rotate_checkpoints(checkpoints_dir: Path, keep: int) -> None:
    """Keep the newest ``keep`` checkpoints; clear hidden leftovers of interrupted saves and rotations."""
    for old in list_checkpoints(checkpoints_dir)[:-keep]:
        remove_directory(old)
    for leftover in checkpoints_dir.glob(f"{TEMPORARY_PREFIX}old-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def save_checkpoint(
    accelerator: Accelerator,
    checkpoints_dir: str | Path,
    progress: TrainingProgress,
    run_config: dict[str, Any],
    keep: int,
) -> Path:
    """``accelerator.save_state`` plus the progress and config JSON into ``checkpoint_<progress.checkpoint_index>``
    atomically, then rotate. Every process must call it (each writes its own RNG state). If saving raises, the
    temporary folder is removed and the error propagates; the existing checkpoints are left as they were."""
    checkpoints_dir = Path(checkpoints_dir)
    final = checkpoints_dir / f"{CHECKPOINT_PREFIX}{progress.checkpoint_index}"
    temporary = checkpoints_dir / f"{TEMPORARY_PREFIX}{final.name}"
    if accelerator.is_main_process:
        checkpoints_dir.mkdir(parents=True, exist_ok=True)
        if temporary.exists():  # left by a run killed while saving
            shutil.rmtree(temporary)
        temporary.mkdir()
    accelerator.wait_for_everyone()
    try:
        accelerator.save_state(str(temporary), safe_serialization=True)
        if accelerator.is_main_process:
            (temporary / PROGRESS_FILE).write_text(progress.to_json(), encoding="utf-8")
            (temporary / RUN_CONFIG_FILE).write_text(json.dumps(run_config, indent=2), encoding="utf-8")
    except BaseException:
        if accelerator.is_main_process:
            shutil.rmtree(temporary, ignore_errors=True)
        raise
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        replace_directory(temporary, final)
        rotate_checkpoints(checkpoints_dir, keep)
    accelerator.wait_for_everyone()
    return final


def check_checkpoint_files(checkpoint: Path) -> TrainingProgress:
    """Read the progress JSON, open every safetensors file and load every torch file of the checkpoint with
    ``weights_only=True`` (accelerate's safe globals for numpy RNG states): a file that is not what it claims
    or would need arbitrary unpickling is refused with its name, before anything is loaded or written."""
    from accelerate.utils import load
    from safetensors import safe_open

    progress = TrainingProgress.from_file(checkpoint / PROGRESS_FILE)
    for path in sorted(checkpoint.iterdir()):
        if path.suffix == ".safetensors":
            try:
                with safe_open(str(path), framework="pt"):
                    pass
            except Exception as error:
                raise ValueError(
                    f"checkpoint file {path} is not a valid safetensors file ({error})"
                ) from None
        elif path.suffix in TORCH_FILE_SUFFIXES:
            try:
                load(path, map_location="cpu", weights_only=True)
            except Exception as error:  # UnpicklingError, RuntimeError, EOFError ...: all mean "not loadable"
                first_line = (
                    str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                )
                raise ValueError(
                    f"checkpoint file {path} cannot be loaded as plain tensors (weights_only=True): {first_line}; "
                    "refusing to unpickle it"
                ) from None
    return progress


def load_checkpoint(accelerator: Accelerator, path: str | Path) -> TrainingProgress:
    """Restore model, optimizer, scheduler and RNG states from ``path``; return the run's progress."""
    path = Path(path)
    progress = check_checkpoint_files(path)
    accelerator.load_state(str(path), load_kwargs={"weights_only": True})
    # accelerate leaves its counter at 0 after load_state; continue numbering after the loaded checkpoint.
    accelerator.project_configuration.iteration = progress.checkpoint_index + 1
    return progress
