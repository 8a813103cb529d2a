"""Center loss (Wen et al., "A Discriminative Feature Learning Approach for Deep Face Recognition", ECCV 2016).

One learned center per identity; the loss pulls each embedding to its identity's center. The centers are trained
weights updated by their own optimizer, as published: BoT (Luo et al., CVPRW 2019) uses SGD at lr 0.5 on the
centers, with their gradient divided by the loss weight so that the weight scales only the network's gradient.
The trainer owns that step (``iaunet_hf.training.center_step``).
"""

from __future__ import annotations

import torch
from torch import nn


class CenterLoss(nn.Module):
    """``mean_i ||x_i - c_{y_i}||^2`` over the batch (BoT's form of Wen et al.'s 1/2 sum: the same gradient
    direction, twice the scale, with no 1/2), centers (num_classes, D) initialised N(0, 1) as BoT does."""

    def __init__(self, num_classes: int, num_features: int) -> None:
        super().__init__()
        if num_classes < 1 or num_features < 1:
            raise ValueError(f"CenterLoss needs >= 1 class and feature, got {num_classes} and {num_features}")
        self.centers = nn.Parameter(torch.randn(num_classes, num_features))

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if embeddings.shape[0] != labels.shape[0]:
            raise ValueError(f"center loss got {embeddings.shape[0]} embeddings but {labels.shape[0]} labels")
        centers = self.centers[labels].to(embeddings.dtype)
        return (embeddings - centers).pow(2).sum(dim=1).clamp(min=1e-12, max=1e12).mean()
