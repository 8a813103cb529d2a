"""Learning-rate schedules: the paper's per-epoch step decay, and warm-up then multistep or cosine decay.

The paper's recipe steps ``torch.optim.lr_scheduler.MultiStepLR`` once per epoch (kept as it is, so its runs and
checkpoints stay the same). Any other schedule (a warm-up, cosine decay, or a decay evaluated per iteration) is
``WarmupDecayLR``, stepped after every optimizer step: a closed form of the iteration count, so a resumed run
continues it exactly (fast-reid's ``WarmupLR`` x ``MultiStepLR``/``DelayedCosineAnnealingLR``).
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from typing import Any

import torch

SCHEDULES = ("multistep", "cosine")


def uses_iteration_schedule(scheduler: Any) -> bool:
    """Whether a ``SchedulerConfig`` needs ``WarmupDecayLR`` (anything but the paper's per-epoch step decay)."""
    return scheduler.name != "multistep" or scheduler.warmup_iterations > 0 or scheduler.per_iteration


class WarmupDecayLR(torch.optim.lr_scheduler.LRScheduler):
    """lr = group base lr x warm-up(iteration) x decay(epoch position), stepped once per optimizer step.

    Warm-up: linear from ``warmup_factor`` to 1 over ``warmup_iterations`` (Goyal et al. 2017, fast-reid's
    ``WarmupLR``). Decay at epoch position e = iteration / iterations_per_epoch (whole epochs unless
    ``per_iteration``): ``gamma ** (milestones <= e)`` ("multistep"), or after ``delay_epochs`` a cosine from 1 to
    ``min_lr / lr`` at the last epoch ("cosine", Loshchilov and Hutter 2017, fast-reid's delayed cosine).
    ``iterations_per_epoch`` is the first epoch's count (P x K epochs vary by a batch or two), as fast-reid.
    Every setting is a plain number or list, so the state loads with ``torch.load(weights_only=True)``.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, config: Any, iterations_per_epoch: int) -> None:
        self.iterations_per_epoch = max(1, int(iterations_per_epoch))
        self.configure(config)
        super().__init__(optimizer)

    def configure(self, config: Any) -> None:
        """Take the schedule settings of a ``TrainingConfig`` (also on resume, where they may have changed)."""
        schedule = config.scheduler
        self.name = schedule.name
        self.warmup_iterations, self.warmup_factor = (
            int(schedule.warmup_iterations),
            float(schedule.warmup_factor),
        )
        self.milestones, self.gamma = sorted(int(m) for m in schedule.milestones), float(schedule.gamma)
        self.per_iteration, self.delay_epochs = bool(schedule.per_iteration), int(schedule.delay_epochs)
        self.epochs, self.min_lr_ratio = (
            int(config.train.epochs),
            float(schedule.min_lr) / float(config.optimizer.lr),
        )

    def factor(self, iteration: int) -> float:
        """The multiplier of the base learning rate after ``iteration`` optimizer steps."""
        warmup = 1.0
        if iteration < self.warmup_iterations:
            alpha = iteration / self.warmup_iterations
            warmup = self.warmup_factor * (1.0 - alpha) + alpha
        position = iteration / self.iterations_per_epoch
        epoch = position if self.per_iteration else float(math.floor(position))
        if self.name == "multistep":
            return warmup * self.gamma ** bisect.bisect_right(self.milestones, epoch)
        if epoch < self.delay_epochs:
            return warmup
        progress = min(1.0, (epoch - self.delay_epochs) / max(1, self.epochs - self.delay_epochs))
        ratio = self.min_lr_ratio
        return warmup * (ratio + (1.0 - ratio) * 0.5 * (1.0 + math.cos(math.pi * progress)))

    def get_lr(self) -> list[float]:
        return [base * self.factor(self.last_epoch) for base in self.base_lrs]

    _get_closed_form_lr = get_lr


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: Any, iterations_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """The recipe's schedule: per-epoch ``MultiStepLR`` (the paper's) or the per-iteration ``WarmupDecayLR``."""
    if uses_iteration_schedule(config.scheduler):
        return WarmupDecayLR(optimizer, config, iterations_per_epoch)
    schedule = config.scheduler
    return torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=schedule.milestones, gamma=schedule.gamma
    )


def apply_schedule_settings(optimizer: torch.optim.Optimizer, scheduler: Any, config: Any) -> None:
    """Set the base learning rates (x each group's ``lr_factor``) and the schedule from ``config`` on a loaded
    optimizer and scheduler (a resume with another ``--optimizer.lr`` or schedule trains with the new one)."""
    opt, schedule = config.optimizer, config.scheduler
    scheduler = getattr(scheduler, "scheduler", scheduler)  # accelerate's AcceleratedScheduler wraps it
    scheduler.base_lrs = [opt.lr * group.get("lr_factor", 1.0) for group in optimizer.param_groups]
    if isinstance(scheduler, WarmupDecayLR):
        scheduler.configure(config)
        factor = scheduler.factor(scheduler.last_epoch)
    else:
        scheduler.milestones = Counter(schedule.milestones)
        scheduler.gamma = schedule.gamma
        factor = schedule.gamma ** bisect.bisect_right(sorted(schedule.milestones), scheduler.last_epoch)
    for group, base in zip(optimizer.param_groups, scheduler.base_lrs, strict=True):
        group["initial_lr"] = base
        group["lr"] = base * factor
    scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]
