"""The center loss in training: its centers, their own SGD step, and the term added to the model's loss.

As BoT (Luo et al., CVPRW 2019) trains Wen et al.'s center loss: the centers are updated by SGD at
``loss.center_lr`` with their gradient divided by ``loss.center_weight``, so the weight scales only the
network's gradient. The centers and their optimizer go through ``accelerator.prepare``, so checkpoints hold them
and a resume restores them; they are not part of the saved model (retrieval does not use them).
"""

from __future__ import annotations

from typing import Any

import torch
from accelerate import Accelerator

from ..losses import CenterLoss


class CenterLossStep:
    """Adds ``center_weight x center loss`` of the embeddings to a step's loss and steps the centers."""

    def __init__(
        self, accelerator: Accelerator, num_classes: int, num_features: int, weight: float, lr: float
    ):
        self.weight = weight
        # the centers' N(0, 1) init draws from its own generator: the run's RNG stream stays that of the recipe
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            module = CenterLoss(num_classes, num_features)
        optimizer = torch.optim.SGD(module.parameters(), lr=lr)
        self.module, self.optimizer = accelerator.prepare(module, optimizer)

    def add(self, outputs: Any, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(the total loss, the components) with the center term added."""
        center = self.module(outputs.embeddings.float(), labels)
        return outputs.loss + self.weight * center, {**(outputs.loss_components or {}), "center": center}

    def step(self) -> None:
        for parameter in self.module.parameters():
            if parameter.grad is not None:
                parameter.grad.mul_(1.0 / self.weight)
        self.optimizer.step()
        self.optimizer.zero_grad()
