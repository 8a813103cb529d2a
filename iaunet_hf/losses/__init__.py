"""IAUnet's training losses (spec §3) and the BoT/AGW/SBS ones, each defined once with its source:

- identity: label-smoothed cross-entropy (on a margin classifier's logits when the model has one);
- metric: batch-hard triplet (hinge or soft margin), AGW's weighted regularized triplet, pairwise circle loss;
- the center loss (weights of its own, trained by the trainer's extra step);
- the part loss (BCE on STIAU's part attention).

``ReIDLoss`` combines them with the weights of a ``ReIDLossConfig``, the one place the loss settings and their
defaults (the paper's) are defined; the model config and the training recipes take theirs from it.
"""

from .center import CenterLoss
from .config import CIRCLE_MARGIN_RANGE, TRIPLET_DISTANCES, TRIPLET_MININGS, ReIDLossConfig
from .metric import (
    batch_distance_matrix,
    batch_hard_triplet_loss,
    pairwise_circle_loss,
    pairwise_distance,
    weighted_regularized_triplet_loss,
)
from .part import part_mask_loss
from .reid_loss import ReIDLoss, ReIDLossOutput, label_smoothing_cross_entropy

__all__ = [
    "CIRCLE_MARGIN_RANGE",
    "TRIPLET_DISTANCES",
    "TRIPLET_MININGS",
    "CenterLoss",
    "ReIDLoss",
    "ReIDLossConfig",
    "ReIDLossOutput",
    "batch_distance_matrix",
    "batch_hard_triplet_loss",
    "label_smoothing_cross_entropy",
    "pairwise_circle_loss",
    "pairwise_distance",
    "part_mask_loss",
    "weighted_regularized_triplet_loss",
]
