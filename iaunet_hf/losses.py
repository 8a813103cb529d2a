"""IAUnet's training losses (spec §3): label-smoothed CE, batch-hard triplet, part-mask BCE, and their sum.

Each is usable on its own; ``ReIDLoss`` combines them with the weights of a ``ReIDLossConfig``, the one place
the paper's loss defaults are defined (the model config and the training recipes take theirs from it).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

TRIPLET_DISTANCES = ("cosine", "euclidean")


@dataclass
class ReIDLossConfig:
    """Settings of the reID loss L = CE_ls + triplet_weight * triplet + part_loss_weight * part BCE (spec §3)."""

    label_smoothing: float = 0.1
    triplet_margin: float = 0.3
    triplet_distance: str = "cosine"
    triplet_weight: float = 1.0
    part_loss_weight: float = 0.5

    def __post_init__(self) -> None:
        if self.triplet_distance not in TRIPLET_DISTANCES:
            raise ValueError(
                f"triplet_distance must be one of {TRIPLET_DISTANCES}, got {self.triplet_distance!r}"
            )
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        for name in ("triplet_margin", "triplet_weight", "part_loss_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    def to_dict(self) -> dict[str, float | str]:
        return asdict(self)


def label_smoothing_cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, epsilon: float = 0.1
) -> torch.Tensor:
    """Cross-entropy against (1 - eps) * one-hot + eps / K, which is torch's built-in label smoothing."""
    return F.cross_entropy(logits.float(), labels, label_smoothing=epsilon)


def batch_distance_matrix(embeddings: torch.Tensor, distance: str = "cosine") -> torch.Tensor:
    """(B, B) distances within one batch: 1 - cosine similarity, or euclidean (clamped before the sqrt for a finite gradient)."""
    if distance not in TRIPLET_DISTANCES:
        raise ValueError(f"distance must be one of {TRIPLET_DISTANCES}, got {distance!r}")
    embeddings = embeddings.float()
    if distance == "cosine":
        normalized = F.normalize(embeddings, dim=1)
        return 1.0 - normalized @ normalized.t()
    squared = embeddings.pow(2).sum(dim=1)
    dist2 = squared[:, None] + squared[None, :] - 2.0 * embeddings @ embeddings.t()
    return dist2.clamp(min=1e-12).sqrt()


def pairwise_distance(embeddings: torch.Tensor, distance: str = "cosine") -> torch.Tensor:
    """Deprecated alias of ``batch_distance_matrix`` (the query x gallery one is ``evaluation.pairwise_distance``)."""
    warnings.warn(
        "iaunet_hf.losses.pairwise_distance is deprecated; use iaunet_hf.losses.batch_distance_matrix",
        DeprecationWarning,
        stacklevel=2,
    )
    return batch_distance_matrix(embeddings, distance)


def batch_hard_triplet_loss(
    embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 0.3, distance: str = "cosine"
) -> torch.Tensor:
    """Batch-hard triplet loss (Hermans et al.): hardest positive and negative per anchor, hinge, batch mean.

    Anchors that have no positive or no negative in the batch are left out.
    """
    if embeddings.shape[0] != labels.shape[0]:
        raise ValueError(f"triplet loss got {embeddings.shape[0]} embeddings but {labels.shape[0]} labels")
    dist = batch_distance_matrix(embeddings, distance)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    positive_mask, negative_mask = same & ~eye, ~same
    hardest_positive = dist.masked_fill(~positive_mask, float("-inf")).amax(dim=1)
    hardest_negative = dist.masked_fill(~negative_mask, float("inf")).amin(dim=1)
    valid = positive_mask.any(dim=1) & negative_mask.any(dim=1)
    if not valid.any():
        return dist.sum() * 0.0
    losses = F.relu(hardest_positive - hardest_negative + margin)
    return losses[valid].mean()


def part_mask_loss(
    part_logits: Sequence[torch.Tensor],
    part_masks: torch.Tensor | None,
    mask_valid: torch.Tensor | None = None,
) -> torch.Tensor | None:
    """BCE between each stage's part attention and the part masks resized (bilinear) to that stage (spec §3).

    ``part_logits``: the part attention before its sigmoid, per stage (B, N, h, w) or (B, T, N, h, w) (the
    ``part_logits`` of the network's output); ``part_masks``: (B, N, H, W) or (B, T, N, H, W) in [0, 1];
    ``mask_valid``: (B,) bool, False for samples without masks, which contribute nothing. Returns the mean over
    stages of the mean over valid samples, parts and pixels, or None when there is nothing to supervise.

    ``binary_cross_entropy_with_logits`` is numerically stable and autocast-safe, and a non-finite logit gives a
    non-finite loss (for the trainer's guard to handle) instead of an error inside the BCE.
    """
    if part_masks is None or not part_logits:
        return None
    if mask_valid is None:
        mask_valid = torch.ones(part_masks.shape[0], dtype=torch.bool, device=part_masks.device)
    stage_losses = []
    for logits in part_logits:
        if logits.shape[:-2] != part_masks.shape[:-2]:
            raise ValueError(
                f"part_masks of shape {tuple(part_masks.shape)} do not match part attention of shape "
                f"{tuple(logits.shape)}: expected the same leading (B[, T], N) dimensions"
            )
        if not mask_valid.any():
            stage_losses.append(logits.sum() * 0.0)
            continue
        logits = logits[mask_valid].float().flatten(0, -4)  # (B'*T, N, h, w)
        masks = part_masks[mask_valid].float().flatten(0, -4)
        masks = F.interpolate(masks, size=logits.shape[-2:], mode="bilinear", align_corners=False)
        stage_losses.append(F.binary_cross_entropy_with_logits(logits, masks.clamp(0.0, 1.0)))
    return torch.stack(stage_losses).mean()


@dataclass
class ReIDLossOutput:
    """The total loss and its parts (detached parts are for logging)."""

    loss: torch.Tensor
    cross_entropy: torch.Tensor
    triplet: torch.Tensor
    part: torch.Tensor | None


class ReIDLoss(nn.Module):
    """L = CE_ls + w_t * triplet + w_p * part BCE, with the settings of a ``ReIDLossConfig`` (the spec's by default).

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
        triplet = (
            batch_hard_triplet_loss(embeddings, labels, self.triplet_margin, self.triplet_distance)
            if self.triplet_weight
            else cross_entropy.new_zeros(())
        )
        loss = cross_entropy + self.triplet_weight * triplet
        part = part_mask_loss(part_logits, part_masks, mask_valid) if self.part_loss_weight else None
        if part is not None:
            loss = loss + self.part_loss_weight * part
        return ReIDLossOutput(loss=loss, cross_entropy=cross_entropy, triplet=triplet, part=part)
