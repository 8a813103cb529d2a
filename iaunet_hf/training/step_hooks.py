"""The ``Trainer`` hooks of the BoT/AGW/SBS training components around each optimizer step: the learning-rate
schedule (per epoch or per iteration), the backbone freeze and the center loss. Kept out of ``trainer.py`` so
the loop reads the same whatever the recipe; each hook is a no-op for the paper's recipe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from .center_step import CenterLossStep
from .freeze import BackboneFreeze
from .schedules import WarmupDecayLR, build_scheduler

if TYPE_CHECKING:
    from accelerate import Accelerator

    from .config import TrainingConfig


class StepHooks:
    """Mixin of ``Trainer``; reads ``config``, ``accelerator``, ``scheduler``, ``progress`` and the hooks it built."""

    config: TrainingConfig
    accelerator: Accelerator
    scheduler: Any
    freeze: BackboneFreeze
    center: CenterLossStep | None
    progress: Any

    def iterations_per_epoch(self, num_batches: int) -> int:
        """Optimizer steps of one epoch of ``num_batches`` batches (all processes together)."""
        per_process = num_batches // self.accelerator.num_processes
        return max(1, per_process // self.config.train.gradient_accumulation_steps)

    def build_step_hooks(
        self, model: torch.nn.Module, optimizer: Any, num_batches: int, num_classes: int
    ) -> Any:
        """The schedule (returned, for ``accelerator.prepare``), the backbone freeze and the center loss; refuses a
        freeze as long as the run, which would never train the backbone."""
        config, steps = self.config, self.iterations_per_epoch(num_batches)
        freeze_iterations, total = config.train.freeze_backbone_iterations, steps * config.train.epochs
        if freeze_iterations >= total:
            raise ValueError(
                f"training config: train.freeze_backbone_iterations is {freeze_iterations}; expected fewer than the "
                f"run's {total} optimizer steps ({config.train.epochs} epochs x {steps}), or the backbone never trains"
            )
        self.freeze = BackboneFreeze(model, freeze_iterations)
        loss = config.loss
        self.center = None
        if loss.center_weight > 0:
            num_features = model.config.hidden_size if hasattr(model, "config") else model.num_features
            self.center = CenterLossStep(
                self.accelerator, num_classes, num_features, loss.center_weight, loss.center_lr
            )
        return build_scheduler(optimizer, config, steps)

    def step_loss(self, outputs: Any, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The loss to train on and its components: the model's, plus the center loss when the recipe has it."""
        if self.center is None:
            return outputs.loss, dict(outputs.loss_components or {})
        return self.center.add(outputs, labels)

    def before_optimizer_step(self) -> None:
        """After backward, before clipping: the backbone's gradients go while it is frozen."""
        if self.accelerator.sync_gradients:
            self.freeze.before_optimizer_step(self.progress.global_step)

    def after_optimizer_step(self) -> None:
        """The centers' own step, once per (accumulated) optimizer step."""
        if self.center is not None and self.accelerator.sync_gradients:
            self.center.step()

    def advance_schedule(self, end_of_epoch: bool) -> None:
        """Step the paper's schedule at the end of an epoch, ``WarmupDecayLR`` after every optimizer step."""
        per_iteration = isinstance(getattr(self.scheduler, "scheduler", self.scheduler), WarmupDecayLR)
        if per_iteration != end_of_epoch:
            self.scheduler.step()
