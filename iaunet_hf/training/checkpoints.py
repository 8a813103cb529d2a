"""Atomic, rotated training-state checkpoints on top of ``accelerator.save_state``, and the run's progress counter.

``save_state`` writes many files one after another, so a kill in the middle would leave a half-written folder
that looks like a checkpoint. Every checkpoint is therefore written into a hidden temporary folder next to its
final place and renamed only once complete; a failed or interrupted save leaves the previous checkpoints
untouched. accelerate's own ``total_limit`` rotation only works with its automatic naming, which would put the
unfinished folder in place directly, hence the small rotation here.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from accelerate import Accelerator

CHECKPOINT_PREFIX = "checkpoint_"
TEMPORARY_PREFIX = ".tmp-"
_CHECKPOINT_PATTERN = re.compile(rf"^{CHECKPOINT_PREFIX}(\d+)$")


@dataclass
class TrainingProgress:
    """Where a run stands; registered with ``accelerator.register_for_checkpointing`` so it resumes too.

    accelerate does not restore its own checkpoint counter on ``load_state``, so ``checkpoint_index`` is kept
    here and written back to ``accelerator.project_configuration.iteration`` after loading.
    """

    epochs_done: int = 0
    global_step: int = 0
    checkpoint_index: int = 0
    best_metric: float = -1.0  # mAP (reID) or top-1 accuracy (classification) of the best model so far
    best_epoch: int = -1

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)


def list_checkpoints(checkpoints_dir: str | Path) -> list[Path]:
    """Complete checkpoints under ``checkpoints_dir``, oldest first (temporary folders are not checkpoints)."""
    folder = Path(checkpoints_dir)
    if not folder.is_dir():
        return []
    found = [
        (int(m.group(1)), path) for path in folder.iterdir() if (m := _CHECKPOINT_PATTERN.match(path.name))
    ]
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
                "checkpoints there (same --output-dir), or pass a checkpoint folder"
            )
        return path
    path = Path(resume)
    if not path.is_dir() or not any(path.iterdir()):
        raise FileNotFoundError(
            f"--resume {resume}: not a checkpoint folder; expected a {CHECKPOINT_PREFIX}N folder"
        )
    return path


def replace_directory(source: Path, target: Path) -> None:
    """Move the complete folder ``source`` to ``target``, replacing any previous ``target`` last.

    ``os.replace`` cannot replace a non-empty folder, so the old one is first renamed aside, then removed.
    """
    aside = target.with_name(f"{TEMPORARY_PREFIX}old-{target.name}")
    if aside.exists():
        shutil.rmtree(aside)
    if target.exists():
        os.replace(target, aside)
    os.replace(source, target)
    if aside.exists():
        shutil.rmtree(aside)


def save_checkpoint(accelerator: Accelerator, checkpoints_dir: str | Path, index: int, keep: int) -> Path:
    """``accelerator.save_state`` into ``checkpoint_<index>`` atomically, then keep only the newest ``keep``.

    Every process must call it (each writes its own RNG state). If saving raises, the temporary folder is
    removed and the error propagates; the existing checkpoints are left as they were.
    """
    checkpoints_dir = Path(checkpoints_dir)
    final = checkpoints_dir / f"{CHECKPOINT_PREFIX}{index}"
    temporary = checkpoints_dir / f"{TEMPORARY_PREFIX}{final.name}"
    if accelerator.is_main_process:
        checkpoints_dir.mkdir(parents=True, exist_ok=True)
        if temporary.exists():  # left by a run killed while saving
            shutil.rmtree(temporary)
        temporary.mkdir()
    accelerator.wait_for_everyone()
    try:
        accelerator.save_state(str(temporary))
    except BaseException:
        if accelerator.is_main_process:
            shutil.rmtree(temporary, ignore_errors=True)
        raise
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        replace_directory(temporary, final)
        for old in list_checkpoints(checkpoints_dir)[:-keep]:
            shutil.rmtree(old)
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(accelerator: Accelerator, path: str | Path, progress: TrainingProgress) -> None:
    """Restore model, optimizer, scheduler, RNG and ``progress`` (registered for checkpointing) from ``path``."""
    accelerator.load_state(str(path))
    # accelerate leaves its counter at 0 after load_state; continue numbering after the loaded checkpoint.
    accelerator.project_configuration.iteration = progress.checkpoint_index + 1
