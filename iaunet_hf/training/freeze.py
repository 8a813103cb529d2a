"""Backbone freeze (SBS, fast-reid's ``FREEZE_ITERS``): for the first N optimizer steps only the new layers train.

The new layers are the head (pooling, reduction, BN neck, classifier) and the IAU blocks; everything else is the
ImageNet backbone. While frozen, the backbone's gradients are dropped before the optimizer step (so neither its
weights nor its optimizer state move, weight decay included) and its BatchNorm layers run in eval mode (their
running statistics stay), as fast-reid does. Both follow from the step count alone, so a resume is exact.
"""

from __future__ import annotations

from torch import nn

from .optimization import NEW_MODULES, network_module


class BackboneFreeze:
    """Freezes the backbone of ``model`` for the first ``iterations`` optimizer steps (0: never)."""

    def __init__(self, model: nn.Module, iterations: int) -> None:
        self.iterations = iterations
        self.parameters = [
            p for name, p in model.named_parameters() if network_module(name) not in NEW_MODULES
        ]
        self.modules = [
            module
            for name, module in model.named_modules()
            if name and network_module(name) not in NEW_MODULES and not list(module.children())
        ]

    def frozen(self, step: int) -> bool:
        """Whether the optimizer step after ``step`` completed steps keeps the backbone fixed."""
        return step < self.iterations

    def before_forward(self, step: int, training: bool) -> None:
        """Backbone leaf modules to eval mode while frozen (BN statistics kept), back to ``training`` after."""
        if not self.iterations:
            return
        for module in self.modules:
            module.train(training and not self.frozen(step))

    def before_optimizer_step(self, step: int) -> None:
        """Drop the backbone's gradients while frozen."""
        if self.frozen(step):
            for parameter in self.parameters:
                parameter.grad = None
