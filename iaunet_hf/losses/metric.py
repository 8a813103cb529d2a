"""Metric losses on a batch of embeddings: batch-hard and AGW's weighted regularized triplet, and circle loss.

All take (B, D) embeddings and (B,) identity labels of a P x K batch and compute in float32 (float64 stays).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F

from .config import TRIPLET_DISTANCES


def batch_distance_matrix(embeddings: torch.Tensor, distance: str = "cosine") -> torch.Tensor:
    """(B, B) distances within one batch: 1 - cosine similarity, or euclidean (clamped before the sqrt for a finite gradient)."""
    if distance not in TRIPLET_DISTANCES:
        raise ValueError(f"distance must be one of {TRIPLET_DISTANCES}, got {distance!r}")
    if embeddings.dtype != torch.float64:
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


def _pair_masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(positive pairs without the anchor itself, negative pairs), both (B, B) bool."""
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def _check_sizes(embeddings: torch.Tensor, labels: torch.Tensor, name: str) -> None:
    if embeddings.shape[0] != labels.shape[0]:
        raise ValueError(f"{name} got {embeddings.shape[0]} embeddings but {labels.shape[0]} labels")


def _triplet_penalty(gap: torch.Tensor, margin: float, soft_margin: bool) -> torch.Tensor:
    """hinge ``relu(d_ap - d_an + m)`` or its soft form ``softplus(d_ap - d_an + m)`` (log(1 + e^x))."""
    return F.softplus(gap + margin) if soft_margin else F.relu(gap + margin)


def batch_hard_triplet_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    margin: float = 0.3,
    distance: str = "cosine",
    soft_margin: bool = False,
) -> torch.Tensor:
    """Batch-hard triplet loss (Hermans et al. 2017): hardest positive and negative per anchor, hinge (or its
    soft-margin form, Hermans et al.'s softplus), batch mean.

    Anchors that have no positive or no negative in the batch are left out (zero loss when none is left).
    """
    _check_sizes(embeddings, labels, "triplet loss")
    dist = batch_distance_matrix(embeddings, distance)
    positive_mask, negative_mask = _pair_masks(labels)
    hardest_positive = dist.masked_fill(~positive_mask, float("-inf")).amax(dim=1)
    hardest_negative = dist.masked_fill(~negative_mask, float("inf")).amin(dim=1)
    valid = positive_mask.any(dim=1) & negative_mask.any(dim=1)
    if not valid.any():
        return dist.sum() * 0.0
    losses = _triplet_penalty(hardest_positive - hardest_negative, margin, soft_margin)
    return losses[valid].mean()


def _masked_softmax_weights(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """softmax of ``values`` over the True entries of each row, zero elsewhere (a row without any: all zero)."""
    masked = values.masked_fill(~mask, float("-inf"))
    maximum = masked.amax(dim=1, keepdim=True).detach()  # the shift cancels out of the softmax
    maximum = torch.where(torch.isfinite(maximum), maximum, torch.zeros_like(maximum))
    exp = (masked - maximum).exp()
    return exp / exp.sum(dim=1, keepdim=True).clamp(min=1e-12)


def weighted_regularized_triplet_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    distance: str = "euclidean",
    margin: float = 0.0,
    soft_margin: bool = True,
) -> torch.Tensor:
    """AGW's weighted regularized triplet (Ye et al., "Deep Learning for Person Re-identification: A Survey and
    Outlook", TPAMI 2021, eq. 6): per anchor, the positives' distances weighted by softmax(d) and the negatives'
    by softmax(-d), then ``softplus(d_p - d_n)`` (the published soft margin; ``soft_margin=False`` gives the hinge).

    As the authors' code, an anchor's positive set includes the anchor itself (distance 0), so an identity with a
    single image still contributes. Anchors without a negative (a batch of one identity) are left out.
    """
    _check_sizes(embeddings, labels, "weighted regularized triplet loss")
    dist = batch_distance_matrix(embeddings, distance)
    same = labels[:, None] == labels[None, :]
    positive_weights = _masked_softmax_weights(dist, same)
    negative_weights = _masked_softmax_weights(-dist, ~same)
    furthest_positive = (dist * positive_weights).sum(dim=1)
    closest_negative = (dist * negative_weights).sum(dim=1)
    valid = (~same).any(dim=1)
    if not valid.any():
        return dist.sum() * 0.0
    losses = _triplet_penalty(furthest_positive - closest_negative, margin, soft_margin)
    return losses[valid].mean()


def pairwise_circle_loss(
    embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 0.25, scale: float = 128.0
) -> torch.Tensor:
    """Circle loss on pairs (Sun et al., "Circle Loss: A Unified Perspective of Pair Similarity Optimization",
    CVPR 2020, eq. 6), per anchor over its positives s_p and negatives s_n (cosine similarities):
    ``softplus(logsumexp_n(g a_n (s_n - m)) + logsumexp_p(-g a_p (s_p - 1 + m)))`` with
    ``a_p = relu(1 + m - s_p)``, ``a_n = relu(s_n + m)`` not differentiated; the mean over anchors that have a
    positive and a negative (zero loss when none has).
    """
    _check_sizes(embeddings, labels, "circle loss")
    if embeddings.dtype != torch.float64:
        embeddings = embeddings.float()
    normalized = F.normalize(embeddings, dim=1)
    similarity = normalized @ normalized.t()
    positive_mask, negative_mask = _pair_masks(labels)
    alpha_p = F.relu(1.0 + margin - similarity.detach())
    alpha_n = F.relu(similarity.detach() + margin)
    logit_p = (-scale * alpha_p * (similarity - (1.0 - margin))).masked_fill(~positive_mask, float("-inf"))
    logit_n = (scale * alpha_n * (similarity - margin)).masked_fill(~negative_mask, float("-inf"))
    valid = positive_mask.any(dim=1) & negative_mask.any(dim=1)
    if not valid.any():
        return similarity.sum() * 0.0
    losses = F.softplus(torch.logsumexp(logit_n[valid], dim=1) + torch.logsumexp(logit_p[valid], dim=1))
    return losses.mean()
