"""The PCB head (Sun et al., ECCV 2018; paper Table XII): six horizontal stripes, each with its own classifier.

The last map is average-pooled into 6 horizontal stripes (adaptively, so 256x128 inputs work as PCB's own
384x128 do); each stripe goes through its own 1x1 conv 2048->256 + BN + ReLU and its own classifier. The
retrieval embedding is the concatenation of the six reduced stripe features (1,536-d); the identity loss is the
sum of the six stripes' cross-entropies (PCB's setting), to which PCB-IAU adds the IAU part loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ...losses import ReIDLoss, ReIDLossConfig, ReIDLossOutput

PCB_STRIPES = 6
PCB_STRIPE_FEATURES = 256


class PCBHead(nn.Module):
    """Feature map (B, D, h, w) or clip maps (B, T, D, h, w) -> concatenated reduced stripe features (B, S*d)."""

    def __init__(
        self,
        in_features: int = 2048,
        num_stripes: int = PCB_STRIPES,
        stripe_features: int = PCB_STRIPE_FEATURES,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        self.num_stripes = num_stripes
        self.stripe_features = stripe_features
        self.out_features = num_stripes * stripe_features
        self.reduce = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(in_features, stripe_features, kernel_size=1, bias=False, **dd),
                nn.BatchNorm2d(stripe_features, **dd),
                nn.ReLU(inplace=True),
            )
            for _ in range(num_stripes)
        )

    @staticmethod
    def embedding_size(num_stripes: int = PCB_STRIPES, stripe_features: int = PCB_STRIPE_FEATURES) -> int:
        return num_stripes * stripe_features

    def pool_stripes(self, feature_map: torch.Tensor) -> torch.Tensor:
        """(B, D, h, w) or (B, T, D, h, w) -> (B, D, S, 1): stripes averaged over their rows (and the clip).

        Written without branching on the rank, so torch.fx can trace it.
        """
        stripes = F.adaptive_avg_pool2d(feature_map.flatten(0, -4), (self.num_stripes, 1))  # (B*T, D, S, 1)
        return stripes.unflatten(0, (feature_map.shape[0], -1)).mean(dim=1)

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        stripes = self.pool_stripes(feature_map)
        reduced = [reduce(stripes[:, :, index : index + 1]) for index, reduce in enumerate(self.reduce)]
        return torch.cat(reduced, dim=1).flatten(1)  # (B, S*d), stripe-major


class StripeClassifier(nn.Module):
    """One linear classifier per stripe on its slice of the embedding: (B, S*d) -> stripe logits (B, S, K)."""

    def __init__(
        self,
        num_classes: int,
        num_stripes: int = PCB_STRIPES,
        stripe_features: int = PCB_STRIPE_FEATURES,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.num_stripes = num_stripes
        self.stripe_features = stripe_features
        self.out_features = num_classes
        self.stripes = nn.ModuleList(
            nn.Linear(stripe_features, num_classes, device=device, dtype=dtype) for _ in range(num_stripes)
        )
        for linear in self.stripes:
            linear.is_classifier = True  # the network's init gives classifiers std 0.001

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        parts = embedding.unflatten(1, (self.num_stripes, self.stripe_features))  # (B, S, d)
        return torch.stack([linear(parts[:, index]) for index, linear in enumerate(self.stripes)], dim=1)


def stripe_cross_entropy(
    stripe_logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.0
) -> torch.Tensor:
    """PCB's identity loss: the sum over stripes of each stripe's batch-mean cross-entropy (float32)."""
    num_stripes = stripe_logits.shape[1]
    logits = stripe_logits.float().flatten(0, 1)  # (B*S, K)
    per_sample = F.cross_entropy(
        logits, labels.repeat_interleave(num_stripes), label_smoothing=label_smoothing, reduction="none"
    )
    return per_sample.reshape(-1, num_stripes).mean(dim=0).sum()


def pcb_loss(
    stripe_logits: torch.Tensor,
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    config: ReIDLossConfig,
    part_logits: Sequence[torch.Tensor] = (),
    part_masks: torch.Tensor | None = None,
    mask_valid: torch.Tensor | None = None,
) -> ReIDLossOutput:
    """PCB(-IAU)'s loss: the stripes' summed cross-entropies, plus the triplet and part terms ``config`` weighs.

    PCB's own setting has no label smoothing and no triplet (the PCB recipes set both to 0); the IAU part loss is
    what PCB-IAU adds.
    """
    identity = stripe_cross_entropy(stripe_logits, labels, config.label_smoothing)
    return ReIDLoss(config).combine(identity, embeddings, labels, part_logits, part_masks, mask_valid)
