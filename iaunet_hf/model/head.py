"""What the network's head produces: the output record of a reID pass and the identity classifier rule.

Shared by the network and ``IAUnetForReID`` (which keeps its classifier outside the network so that its checkpoint
keys stay those of an image classifier), so the rule is written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .backbones import StripeClassifier
from .margin_classifiers import CosineClassifier


@dataclass
class IAUnetOutput:
    """Everything a reID forward pass produces; clips keep a T axis in ``feature_map`` and the part maps."""

    embedding: torch.Tensor  # (B, D) retrieval feature, after the BN neck
    global_feature: torch.Tensor  # (B, D) pooled feature before the BN neck (the triplet loss may use either)
    feature_map: torch.Tensor  # (B, D, h, w) or (B, T, D, h, w)
    logits: torch.Tensor | None = None  # (B, num_classes); PCB: the mean of the stripe logits
    stripe_logits: torch.Tensor | None = None  # PCB only: (B, 6, num_classes), one classifier per stripe
    part_attention: tuple[torch.Tensor, ...] = ()  # per IAU stage with STIAU: (B, N, h, w) or (B, T, N, h, w)
    part_logits: tuple[torch.Tensor, ...] = ()  # the same maps before the sigmoid (for a stable part loss)
    relations: tuple[dict[str, torch.Tensor], ...] = field(default_factory=tuple)  # per IAU stage, if asked
    hidden_states: tuple[torch.Tensor, ...] = ()  # stem and stage outputs (B*T, C, h, w), if asked


def make_identity_classifier(
    num_features: int,
    num_classes: int,
    head: str = "bnneck",
    device=None,
    dtype=None,
    *,
    kind: str = "linear",
    scale: float = 64.0,
    margin: float = 0.35,
) -> nn.Module:
    """The identity classifier on the embedding: one linear layer (or a cosine classifier with a margin, ``kind``),
    or one per PCB stripe; Identity for 0 classes."""
    if num_classes <= 0:
        return nn.Identity()
    if head == "pcb":
        return StripeClassifier(num_classes, device=device, dtype=dtype)
    if kind != "linear":
        return CosineClassifier(num_features, num_classes, kind, scale, margin, device=device, dtype=dtype)
    classifier = nn.Linear(num_features, num_classes, device=device, dtype=dtype)
    classifier.is_classifier = True
    return classifier


def make_embedding_reduction(in_features: int, embedding_dim: int, device=None, dtype=None) -> nn.Module:
    """The optional reduction of the pooled feature to ``embedding_dim`` before the BN neck (fast-reid's
    bottleneck): a bias-free linear layer, which on a pooled vector is the 1x1 convolution; Identity for 0."""
    if embedding_dim <= 0:
        return nn.Identity()
    return nn.Linear(in_features, embedding_dim, bias=False, device=device, dtype=dtype)
