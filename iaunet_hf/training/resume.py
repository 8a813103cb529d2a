"""What ``--resume`` accepts: which config changes take effect on a resumed run and which are refused.

A resume starts from the run's own saved configuration (``run_config.json`` of the checkpoint), not from the
recipe: only the options given on the command line are compared with it, then applied or refused. A resumed run
restores the model, optimizer, scheduler and RNG states of its checkpoint. Changes that cannot
apply to that state (another architecture or model option, another optimizer type, another task, dataset,
input size or precision) are refused before anything is written, naming the field. Every other change (learning
rate, weight decay, schedule, epochs, evaluation and checkpoint intervals, logging, data folders, workers ...)
takes effect: the optimizer's hyper-parameters and the scheduler are set from the new config after loading.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .checkpoints import CHECKPOINTS_DIR, read_run_config, resolve_resume
from .config import CheckpointConfig, TrainingConfig
from .optimization import apply_weight_decay
from .recipes import apply_overrides, config_from_dict, fit_workers_to_machine, read_recipe, resolve_key
from .schedules import apply_schedule_settings

# Dotted prefixes of the fields a resume cannot change; a prefix ending in "." covers a whole section.
UNSAFE_ON_RESUME = (
    "task",
    "model.",
    "optimizer.name",
    "data.dataset",
    "data.height",
    "data.width",
    "data.options",
    "data.mask_dir",  # the part masks define the part loss the run trains with
    "train.mixed_precision",
    # the optimizer's parameter groups, the scheduler's kind and the center loss's prepared centers are state
    "optimizer.bias_lr_factor",
    "optimizer.head_lr_factor",
    "optimizer.weight_decay_norm",
    "optimizer.weight_decay_bias",
    "scheduler.name",
    "scheduler.warmup_iterations",
    "scheduler.per_iteration",
    "loss.center_weight",
)
# Path fields compared as the folders they name (absolute, symlinks resolved), not as typed.
PATH_FIELDS = ("data.data_dir", "data.cache_dir", "data.mask_dir")
IGNORED_ON_RESUME = ("checkpoint.resume", "checkpoint.output_dir", "name", "card", "paper_row", "base")


def _flatten(raw: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in raw.items():
        if isinstance(value, dict) and key != "card":
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _same_folder(key: str, old: Any, new: Any) -> bool:
    def resolved(value: Any) -> Any:
        if isinstance(value, list):
            return [resolved(item) for item in value]
        return os.path.realpath(value) if isinstance(value, str) else value

    return key in PATH_FIELDS and resolved(old) == resolved(new)


def config_changes(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{dotted field: (checkpoint's value, new value)}`` for every field that differs (a path field differs
    when it names another folder)."""
    old, new = _flatten(previous), _flatten(current)
    for flat in (old, new):  # a run saved with accelerate's "no" trained in what is now spelt "fp32"
        if flat.get("train.mixed_precision") == "no":
            flat["train.mixed_precision"] = "fp32"
    return {
        key: (old.get(key), new.get(key))
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
        and not key.startswith(IGNORED_ON_RESUME)
        and not _same_folder(key, old.get(key), new.get(key))
    }


def _unsafe(key: str) -> bool:
    return any(
        key == prefix or (prefix.endswith(".") and key.startswith(prefix)) for prefix in UNSAFE_ON_RESUME
    )


def check_resume_changes(changes: dict[str, tuple[Any, Any]], checkpoint: Any) -> None:
    """Raise ``ValueError`` naming the first change a resume cannot apply."""
    refused = [key for key in changes if _unsafe(key) or key.startswith("data.options")]
    if refused:
        key = refused[0]
        old, new = changes[key]
        raise ValueError(
            f"--resume {checkpoint}: {key} was {old!r} in that run and is {new!r} now; a resumed run cannot "
            f"change it (it would not match the saved model/optimizer state). Resume with the same {key}, or "
            "start a new run in another --output-dir"
        )


def apply_optimizer_settings(optimizer: torch.optim.Optimizer, scheduler: Any, config: Any) -> None:
    """Set lr, weight decay, momentum and the schedule from ``config`` on a loaded optimizer/scheduler.

    ``load_state`` restores the checkpoint's hyper-parameters; a resume with ``--optimizer.lr`` must train with
    the new one. Each group's lr becomes ``lr x its lr_factor x the schedule's factor`` at the scheduler's current
    step (``schedules.apply_schedule_settings``), its weight decay that of its kind (``optimization``).
    """
    apply_schedule_settings(optimizer, scheduler, config)
    apply_weight_decay(optimizer, config.optimizer)


# --- the configuration of a resumed run --------------------------------------------------------------------
def _gives(overrides: dict[str, Any], section: str | None, name: str) -> bool:

    return any(resolve_key(key) == (section, name) for key in overrides)


def _check_recipe(recipe: str | None, saved: dict[str, Any], checkpoint: Path) -> None:
    """A ``--recipe`` given with ``--resume`` must be the run's own: it cannot swap every field at once."""

    if recipe is None:
        return
    name, trained = read_recipe(recipe).get("name", TrainingConfig.name), saved.get("name")
    if name != trained:
        raise ValueError(
            f"--resume {checkpoint}: that run was trained with the recipe {trained!r}, not {recipe!r}; a resume "
            f"continues the run's own saved configuration. Leave out --recipe (or pass --recipe {trained}), "
            "or start a new run in another --output-dir"
        )


def resumed_config(recipe: str | None, overrides: dict[str, Any], default_recipe: str) -> Any:
    """The ``TrainingConfig`` of ``iaunet-train --resume``: the checkpoint's saved run config with only the
    command line's ``overrides`` over it (``overrides`` holds ``checkpoint.resume``). The checkpoint is found in
    ``--output-dir`` (or the recipe's default folder) for ``latest``; a resume from a checkpoint path keeps the
    run's own output folder unless ``--output-dir`` is given. Raises ``ValueError``/``FileNotFoundError``."""

    resume = str(overrides.get("checkpoint.resume", "latest"))
    given = apply_overrides(read_recipe(recipe or default_recipe), overrides)
    output_dir = (given.get("checkpoint") or {}).get("output_dir", CheckpointConfig.output_dir)
    checkpoint = resolve_resume(resume, Path(output_dir) / CHECKPOINTS_DIR)
    saved = read_run_config(checkpoint)
    _check_recipe(recipe, saved, checkpoint)
    raw = apply_overrides(saved, overrides)
    if resume == "latest" or _gives(overrides, "checkpoint", "output_dir"):
        raw["checkpoint"] = {**raw["checkpoint"], "output_dir": output_dir}
    raw = fit_workers_to_machine(raw, overrides)
    return config_from_dict(raw, source=f"the saved run config of {checkpoint}")
