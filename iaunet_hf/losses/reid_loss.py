"""``ReIDLoss``: the configured reID losses on one forward pass, combined with the weights of ``ReIDLossConfig``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import ReIDLossConfig
from .metric import batch_hard_triplet_loss, pairwise_circle_loss, weighted_regularized_triplet_loss
from .part import part_mask_loss


def label_smoothing_cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, epsilon: float = 0.1
) -> torch.Tensor:
    """Cross-entropy against (1 - eps) * one-hot + eps / K, which is torch's built-in label smoothing."""
    return F.cross_entropy(logits.float(), labels, label_smoothing=epsilon)


@dataclass
class ReIDLossOutput:
    """The total loss and its parts (detached parts are for logging); ``circle`` is None when it does not train."""

    loss: torch.Tensor
    cross_entropy: torch.Tensor
    triplet: torch.Tensor
    part: torch.Tensor | None
    circle: torch.Tensor | None = None


class ReIDLoss(nn.Module):
    """L = w_ce CE_ls + w_t triplet + w_p part BCE + w_c circle, with the settings of a ``ReIDLossConfig`` (the
    spec's by default). The center loss, which holds weights, is added by the trainer (``CenterLoss``).

    ``ReIDLoss(config)``, or ``ReIDLoss(triplet_weight=0.0)`` to override single fields of the defaults.
    """

    def __init__(self, config: ReIDLossConfig | None = None, **overrides: float | str) -> None:
        super().__init__()
        config = config or ReIDLossConfig()
        if overrides:
            config = ReIDLossConfig(**{**config.to_dict(), **overrides})
        self.config = config
        self.label_smoothing = config.label_smoothing
        self.triplet_margin = config.triplet_margin
        self.triplet_distance = config.triplet_distance
        self.triplet_weight = config.triplet_weight
        self.part_loss_weight = config.part_loss_weight

    def forward(
        self,
        logits: torch.Tensor,
        embeddings: torch.Tensor,
        labels: torch.Tensor,
        part_logits: Sequence[torch.Tensor] = (),
        part_masks: torch.Tensor | None = None,
        mask_valid: torch.Tensor | None = None,
    ) -> ReIDLossOutput:
        """``part_logits``: per IAU stage, the part attention before its sigmoid (see ``part_mask_loss``)."""
        cross_entropy = label_smoothing_cross_entropy(logits, labels, self.label_smoothing)
        return self.combine(cross_entropy, embeddings, labels, part_logits, part_masks, mask_valid)

    def triplet(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The configured triplet loss: batch-hard or AGW's weighted, hinge or soft margin."""
        config = self.config
        if config.triplet_mining == "weighted":
            return weighted_regularized_triplet_loss(
                embeddings, labels, config.triplet_distance, config.triplet_margin, config.triplet_soft_margin
            )
        return batch_hard_triplet_loss(
            embeddings, labels, config.triplet_margin, config.triplet_distance, config.triplet_soft_margin
        )

    def combine(
        self,
        cross_entropy: torch.Tensor,
        embeddings: torch.Tensor,
        labels: torch.Tensor,
        part_logits: Sequence[torch.Tensor] = (),
        part_masks: torch.Tensor | None = None,
        mask_valid: torch.Tensor | None = None,
    ) -> ReIDLossOutput:
        """The total from an identity loss already computed, so a head with its own (PCB's stripes) shares the rest."""
        config = self.config
        triplet = self.triplet(embeddings, labels) if self.triplet_weight else cross_entropy.new_zeros(())
        identity = (
            cross_entropy
            if config.cross_entropy_weight == 1.0
            else config.cross_entropy_weight * cross_entropy
        )
        loss = identity + self.triplet_weight * triplet
        part = part_mask_loss(part_logits, part_masks, mask_valid) if self.part_loss_weight else None
        if part is not None:
            loss = loss + self.part_loss_weight * part
        circle = None
        if config.circle_weight:
            circle = pairwise_circle_loss(embeddings, labels, config.circle_margin, config.circle_scale)
            loss = loss + config.circle_weight * circle
        return ReIDLossOutput(
            loss=loss, cross_entropy=cross_entropy, triplet=triplet, part=part, circle=circle
        )
