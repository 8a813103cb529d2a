"""Cosine identity classifiers with an additive margin on the target class: CosFace, ArcFace, circle-softmax.

The classifier computes ``scale * cos(embedding, W_k)`` for every identity k: what it returns at inference and
what the timm face's ``forward`` gives. The margin exists only in training and only for the loss:
``margin_logits(logits, labels)`` rewrites the logits the identity loss sees. The retrieval embedding (the BN
neck's output) is the same whatever classifier trains it.

- ``cosface``: CosFace / AM-softmax (Wang et al., CVPR 2018; Wang et al., SPL 2018): target ``s * (cos - m)``.
- ``arcface``: ArcFace (Deng et al., CVPR 2019): target ``s * cos(theta + m)``; where ``theta + m`` would pass
  pi it uses ``s * (cos - m sin m)`` as the authors' code does, so the target logit keeps decreasing with theta.
- ``circle``: circle-softmax (Sun et al., CVPR 2020, eq. 7, as fast-reid's ``CircleSoftmax``): target
  ``s * a_p * (cos - (1 - m))`` with ``a_p = relu(1 + m - cos)``, others ``s * a_n * (cos - m)`` with
  ``a_n = relu(cos + m)`` (the weights a are not differentiated, as in the paper).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MARGIN_CLASSIFIERS = ("cosface", "arcface", "circle")
CLASSIFIERS = ("linear", *MARGIN_CLASSIFIERS)
# [low, high) of each margin: beyond them the target logit no longer separates (ArcFace: theta + m > pi/2 for
# every sample; circle: the positive optimum 1 - m would fall below the negative one m).
MARGIN_RANGES = {"cosface": (0.0, 1.0), "arcface": (0.0, math.pi / 2), "circle": (0.0, 0.5)}


def check_classifier(kind: str, scale: float, margin: float) -> None:
    """Raise a ValueError naming the setting when a classifier kind, scale or margin cannot train."""
    if kind not in CLASSIFIERS:
        raise ValueError(f"classifier must be one of {CLASSIFIERS}, got {kind!r}")
    if kind == "linear":
        return
    if not scale > 0:
        raise ValueError(f"classifier_scale must be > 0 for the {kind} classifier, got {scale}")
    low, high = MARGIN_RANGES[kind]
    if not low <= margin < high:
        raise ValueError(
            f"classifier_margin of the {kind} classifier must be in [{low}, {high:.4g}), got {margin}"
        )


def cosface_logits(cosine: torch.Tensor, labels: torch.Tensor, scale: float, margin: float) -> torch.Tensor:
    """``s * (cos - m * onehot)``."""
    onehot = F.one_hot(labels, cosine.shape[1]).to(cosine.dtype)
    return scale * (cosine - margin * onehot)


def arcface_logits(cosine: torch.Tensor, labels: torch.Tensor, scale: float, margin: float) -> torch.Tensor:
    """``s * cos(theta + m)`` on the target where ``theta + m <= pi``, else ``s * (cos - m sin m)``."""
    cosine = cosine.clamp(-1.0 + 1e-7, 1.0 - 1e-7)  # a finite gradient of the sine at |cos| = 1
    onehot = F.one_hot(labels, cosine.shape[1]).bool()
    sine = (1.0 - cosine.pow(2)).sqrt()
    shifted = cosine * math.cos(margin) - sine * math.sin(margin)
    shifted = torch.where(cosine > math.cos(math.pi - margin), shifted, cosine - margin * math.sin(margin))
    return scale * torch.where(onehot, shifted, cosine)


def circle_logits(cosine: torch.Tensor, labels: torch.Tensor, scale: float, margin: float) -> torch.Tensor:
    """Circle-softmax: self-paced weights ``a_p``, ``a_n`` (detached) and optima ``1 - m``, ``m``."""
    onehot = F.one_hot(labels, cosine.shape[1]).bool()
    alpha_p = F.relu(1.0 + margin - cosine.detach())
    alpha_n = F.relu(cosine.detach() + margin)
    positive = alpha_p * (cosine - (1.0 - margin))
    negative = alpha_n * (cosine - margin)
    return scale * torch.where(onehot, positive, negative)


_MARGIN_FUNCTIONS = {"cosface": cosface_logits, "arcface": arcface_logits, "circle": circle_logits}


class CosineClassifier(nn.Module):
    """``scale * cos(x, W)`` over the identities, with the margin of ``kind`` for the loss (``margin_logits``)."""

    def __init__(
        self,
        num_features: int,
        num_classes: int,
        kind: str,
        scale: float,
        margin: float,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        check_classifier(kind, scale, margin)
        if kind == "linear":
            raise ValueError("CosineClassifier is for the margin classifiers; 'linear' is nn.Linear")
        self.kind, self.scale, self.margin = kind, float(scale), float(margin)
        self.weight = nn.Parameter(torch.empty(num_classes, num_features, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self, init=nn.init) -> None:
        init.normal_(self.weight, std=0.01)  # only the direction matters: the weights are normalised

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.scale * F.linear(F.normalize(features, dim=1), F.normalize(self.weight, dim=1))

    def margin_logits(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The training logits of the loss from ``forward``'s logits: the margin applied to the target class."""
        cosine = (logits if logits.dtype == torch.float64 else logits.float()) / self.scale
        return _MARGIN_FUNCTIONS[self.kind](cosine, labels, self.scale, self.margin)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[1]} -> {self.weight.shape[0]}, {self.kind}, scale={self.scale}, margin={self.margin}"
