"""What ``--resume`` accepts: which config changes take effect on a resumed run and which are refused.

A resumed run restores the model, optimizer, scheduler and RNG states of its checkpoint. Changes that cannot
apply to that state (another architecture or model option, another optimizer type, another task, dataset,
input size or precision) are refused before anything is written, naming the field. Every other change (learning
rate, weight decay, schedule, epochs, evaluation and checkpoint intervals, logging, data folders, workers ...)
takes effect: the optimizer's hyper-parameters and the scheduler are set from the new config after loading.
"""

from __future__ import annotations

import bisect
from collections import Counter
from typing import Any

import torch

# Dotted prefixes of the fields a resume cannot change; a prefix ending in "." covers a whole section.
UNSAFE_ON_RESUME = (
    "task",
    "model.",
    "optimizer.name",
    "data.dataset",
    "data.height",
    "data.width",
    "data.options",
    "train.mixed_precision",
)
IGNORED_ON_RESUME = ("checkpoint.resume", "checkpoint.output_dir", "name", "card", "paper_row", "base")


def _flatten(raw: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in raw.items():
        if isinstance(value, dict) and key != "card":
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def config_changes(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{dotted field: (checkpoint's value, new value)}`` for every field that differs."""
    old, new = _flatten(previous), _flatten(current)
    return {
        key: (old.get(key), new.get(key))
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key) and not key.startswith(IGNORED_ON_RESUME)
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
    """Set lr, weight decay, momentum and the step schedule from ``config`` on a loaded optimizer/scheduler.

    ``load_state`` restores the checkpoint's hyper-parameters; a resume with ``--optimizer.lr`` must train with
    the new one. The lr becomes ``lr x gamma ** (milestones passed)`` at the scheduler's current epoch.
    """
    opt, schedule = config.optimizer, config.scheduler
    scheduler = getattr(scheduler, "scheduler", scheduler)  # accelerate's AcceleratedScheduler wraps it
    scheduler.milestones = Counter(schedule.milestones)
    scheduler.gamma = schedule.gamma
    scheduler.base_lrs = [opt.lr for _ in optimizer.param_groups]
    decays = bisect.bisect_right(sorted(schedule.milestones), scheduler.last_epoch)
    for group in optimizer.param_groups:
        group["initial_lr"] = opt.lr
        group["lr"] = opt.lr * schedule.gamma**decays
        group["weight_decay"] = opt.weight_decay
        if "momentum" in group:
            group["momentum"] = opt.momentum
    scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]
