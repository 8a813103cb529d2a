"""Divergence: what counts as a broken run, so that broken weights are never saved as a checkpoint.

A loss that is NaN/inf stops the run (or skips the step, by option) before the optimizer sees it. A loss that
stays finite but explodes (``divergence_factor`` x the run's first logged loss, e.g. lr 1e6 giving ~1e15) warns.
Before every checkpoint and the final model the loss of the current weights is probed on the last batch: weights
that are non-finite or whose loss has exploded are never saved, so the "last good checkpoint" a stop message
names is good. The stop names what to do next in the run's state: resume the last good checkpoint, or, when none
was saved yet, start the run again (its output folder can be reused); ``iaunet-train`` prints the exact command.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import torch


def recovery_hint(last_good_checkpoint: Path | None) -> str:
    """What to do after a stop, in the run's state (the CLI adds the exact command, see ``advice``)."""
    if last_good_checkpoint is None:
        return (
            "no checkpoint was saved yet, so there is nothing to resume: start the run again with a lower "
            "optimizer.lr (the same output folder can be reused)"
        )
    return f"the last good checkpoint is {last_good_checkpoint}: resume it with a lower optimizer.lr"


class NonFiniteLossError(RuntimeError):
    """The loss (or the weights) became non-finite or exploded; the run stops so the last good checkpoint is not
    overwritten. ``last_good_checkpoint`` is the checkpoint to resume, None when none was saved yet."""

    def __init__(self, reason: str, last_good_checkpoint: Path | None = None) -> None:
        self.reason = reason
        self.last_good_checkpoint = last_good_checkpoint
        super().__init__(f"{reason}; {recovery_hint(last_good_checkpoint)}")

    def __reduce__(self):  # pickled (e.g. between processes) with its fields, not its rendered message
        return type(self), (self.reason, self.last_good_checkpoint)


def weights_are_finite(model: torch.nn.Module) -> bool:
    """True when every parameter and buffer is finite (one device-to-host copy)."""
    tensors = [t for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()]
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all()) if tensors else True


class DivergenceMonitor:
    """Compares each logged mean loss with the run's first one; ``diverged`` is set while it is exploded."""

    def __init__(self, factor: float, reference_loss: float | None = None) -> None:
        self.factor = factor
        self.reference_loss = reference_loss
        self.diverged = False
        self.last_loss: float | None = None

    def observe(self, loss: float, where: str) -> None:
        self.last_loss = loss
        if not math.isfinite(loss):
            self.diverged = True
            return
        if self.reference_loss is None:
            self.reference_loss = max(loss, 1e-6)
            return
        exploded = loss > self.factor * self.reference_loss
        if exploded and not self.diverged:
            warnings.warn(
                f"the loss is diverging: {loss:.4g} at {where}, more than train.divergence_factor "
                f"{self.factor:g} x the run's first logged loss {self.reference_loss:.4g}; no checkpoint is saved "
                "until it comes back down. If it does not, the run ends without a final model and says how to go "
                "on with a lower --optimizer.lr",
                RuntimeWarning,
                stacklevel=2,
            )
        self.diverged = exploded

    def unhealthy_reason(self, model: torch.nn.Module, current_loss: float | None) -> str | None:
        """Why the current weights must not be saved, or None when they may. ``current_loss`` is the loss of
        the current weights (the logged losses were computed before each step's update, so they lag behind)."""
        if not weights_are_finite(model):
            return "the weights are not finite"
        if current_loss is not None and not math.isfinite(current_loss):
            return f"the loss of the current weights is {current_loss}"
        reference = self.reference_loss
        if current_loss is not None and reference is not None and current_loss > self.factor * reference:
            return f"the loss diverged ({current_loss:.4g} against a first logged loss of {reference:.4g})"
        return None


@torch.no_grad()
def probe_loss(model: torch.nn.Module, inputs: dict[str, torch.Tensor], autocast) -> float:
    """The loss of ``model``'s current weights on one batch in training mode, leaving its buffers (BN
    statistics) as they were, so probing changes nothing the run would otherwise compute."""
    buffers = [(buffer, buffer.clone()) for buffer in model.buffers()]
    try:
        with autocast():
            return float(model(**inputs).loss)
    finally:
        for buffer, saved in buffers:
            buffer.copy_(saved)
