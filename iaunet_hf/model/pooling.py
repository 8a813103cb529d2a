"""Global pooling of the last feature map: average (the paper's), max, GeM and average + max.

Every pooling reduces the spatial axes of (B, D, h, w) images or (B, T, D, h, w) clips, then a clip's frames are
averaged (the temporal mean the network always applied), giving (B, D). Written without branching on the rank, so
torch.fx traces it.

- ``avg``: global average pooling (the paper, BoT).
- ``max``: global max pooling.
- ``gem``: generalized mean (Radenović, Tolias and Chum, "Fine-tuning CNN Image Retrieval with No Human
  Annotation", TPAMI 2018): ``(mean(clamp(x, eps) ** p)) ** (1 / p)``; p = 1 is the average, p -> inf the max.
  fast-reid's default p is 3; ``gem_learnable_p`` makes p a trained parameter (its ``GeneralizedMeanPoolingP``).
- ``avgmax``: the sum of the average and the max (fast-reid's ``GlobalAvgMaxPool``), one D-dimensional vector.
"""

from __future__ import annotations

import torch
from torch import nn

POOLINGS = ("avg", "max", "gem", "avgmax")
GEM_EPS = 1e-6


def temporal_mean(pooled: torch.Tensor) -> torch.Tensor:
    """(B, D) stays, (B, T, D) -> (B, D): the mean over frames, without branching on the rank (torch.fx)."""
    return pooled.unsqueeze(-2).flatten(1, -2).mean(dim=1)


def generalized_mean(
    feature_map: torch.Tensor, p: torch.Tensor | float, eps: float = GEM_EPS
) -> torch.Tensor:
    """GeM over the two last (spatial) axes; activations are clamped at ``eps`` so a fractional power is defined."""
    return feature_map.clamp(min=eps).pow(p).mean(dim=(-2, -1)).pow(1.0 / p)


class GlobalPool(nn.Module):
    """Spatial pooling of one kind, then the temporal mean: (B, D, h, w) or (B, T, D, h, w) -> (B, D).

    ``gem_p`` is GeM's exponent (>= 1); with ``learnable_p`` it is a parameter named ``p`` (so a GeM model with a
    trained p has one more checkpoint key, ``pooling.p``), otherwise a constant.
    """

    def __init__(
        self, kind: str = "avg", gem_p: float = 3.0, learnable_p: bool = False, device=None, dtype=None
    ) -> None:
        super().__init__()
        if kind not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {kind!r}")
        self.kind, self.gem_p, self.learnable_p = kind, float(gem_p), bool(learnable_p)
        if kind == "gem" and learnable_p:
            self.p = nn.Parameter(torch.full((1,), float(gem_p), device=device, dtype=dtype))

    def spatial(self, feature_map: torch.Tensor) -> torch.Tensor:
        """The spatial pooling alone: (..., D, h, w) -> (..., D)."""
        if self.kind == "avg":
            return feature_map.mean(dim=(-2, -1))
        if self.kind == "max":
            return feature_map.amax(dim=(-2, -1))
        if self.kind == "avgmax":
            return feature_map.mean(dim=(-2, -1)) + feature_map.amax(dim=(-2, -1))
        return generalized_mean(feature_map, self.p if self.learnable_p else self.gem_p)

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        return temporal_mean(self.spatial(feature_map))

    def extra_repr(self) -> str:
        if self.kind != "gem":
            return self.kind
        return f"gem, p={self.gem_p}{' (learnable)' if self.learnable_p else ''}"
