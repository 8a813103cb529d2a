"""Query-chunked distances and metric evaluation straight from features, in bounded memory.

A full MSMT17 distance matrix (11,659 x 82,161) is 3.8 GB in float32; evaluating from features
computes one block of query rows at a time, ranks it and drops it. The gallery is never copied
(no normalised copy: its norms are kept as a vector).
"""

from __future__ import annotations

from typing import Literal

import torch
from tqdm.auto import tqdm

from .metrics import (
    DEFAULT_CHUNK_ELEMENTS,
    APMode,
    ArrayLike,
    GalleryIdentities,
    as_labels,
    as_tensor,
    check_ap_mode,
    query_statistics,
    summarize,
)

DistanceMetric = Literal["cosine", "euclidean"]


def _as_features(values: ArrayLike, name: str, device: torch.device | None = None) -> torch.Tensor:
    features = as_tensor(values, name, device)
    if features.dim() != 2:
        raise ValueError(
            f"{name}: expected a 2-D (num_items, dim) array, found shape {tuple(features.shape)}"
        )
    if not features.is_floating_point():
        raise ValueError(f"{name}: expected floating point features, found dtype {features.dtype}")
    return features


class GalleryDistance:
    """Distances from query blocks to a fixed gallery, with the gallery's norms precomputed once."""

    def __init__(self, gallery_features: torch.Tensor, metric: DistanceMetric = "cosine"):
        if metric not in ("cosine", "euclidean"):
            raise ValueError(f"metric: expected 'cosine' or 'euclidean', found {metric!r}")
        self.metric = metric
        self.gallery = gallery_features
        self.compute_dtype = torch.float64 if gallery_features.dtype == torch.float64 else torch.float32
        squared_norm = torch.zeros(
            gallery_features.shape[0], dtype=self.compute_dtype, device=gallery_features.device
        )
        # norms in slices so that a half-precision gallery is never upcast as a whole
        for start in range(0, gallery_features.shape[0], 65536):
            block = gallery_features[start : start + 65536].to(self.compute_dtype)
            squared_norm[start : start + 65536] = block.pow(2).sum(1)
        self.squared_norm = squared_norm

    def __call__(self, query_features: torch.Tensor) -> torch.Tensor:
        """(Q, D) queries -> (Q, G) distances: 1 - cosine similarity, or Euclidean distance."""
        query = query_features.to(device=self.gallery.device, dtype=self.compute_dtype)
        gallery = self.gallery if self.gallery.dtype == self.compute_dtype else None
        if gallery is None:
            similarity = torch.cat(
                [
                    query @ self.gallery[start : start + 65536].to(self.compute_dtype).T
                    for start in range(0, self.gallery.shape[0], 65536)
                ],
                dim=1,
            )
        else:
            similarity = query @ gallery.T  # (Q, G)
        if self.metric == "cosine":
            query_norm = query.norm(dim=1).clamp_min(1e-12)
            gallery_norm = self.squared_norm.sqrt().clamp_min(1e-12)
            similarity.div_(query_norm[:, None]).div_(gallery_norm[None, :])
            return similarity.neg_().add_(1)
        # |q|^2 + |g|^2 - 2 q.g, clamped at 0 against rounding, then the square root
        squared = similarity.mul_(-2).add_(query.pow(2).sum(1)[:, None]).add_(self.squared_norm[None, :])
        return squared.clamp_min_(0).sqrt_()


def pairwise_distance(
    query_features: ArrayLike, gallery_features: ArrayLike, metric: DistanceMetric = "cosine"
) -> torch.Tensor:
    """The full (Q, G) distance matrix; use ``evaluate_reid_features`` when it would not fit in memory."""
    gallery = _as_features(gallery_features, "gallery_features")
    query = _as_features(query_features, "query_features", gallery.device)
    if query.shape[1] != gallery.shape[1]:
        raise ValueError(
            f"query_features: expected dimension {gallery.shape[1]} to match gallery_features, found {query.shape[1]}"
        )
    return GalleryDistance(gallery, metric)(query)


def evaluate_reid_features(
    query_features: ArrayLike,
    gallery_features: ArrayLike,
    q_pids: ArrayLike,
    g_pids: ArrayLike,
    q_camids: ArrayLike,
    g_camids: ArrayLike,
    metric: DistanceMetric = "cosine",
    max_rank: int = 50,
    ap: APMode = "standard",
    chunk_size: int | None = None,
    progress: bool = True,
) -> dict:
    """``evaluate_reid`` from features, computing distances for ``chunk_size`` queries at a time.

    The full distance matrix is never held: peak memory beyond the features is a few bytes times
    ``chunk_size x num_gallery`` (default: about 8M elements, i.e. a few hundred MB). Runs on the
    device of ``gallery_features``. Returns the same dict as ``evaluate_reid``.
    """
    check_ap_mode(ap, max_rank)
    gallery = _as_features(gallery_features, "gallery_features")
    query = _as_features(query_features, "query_features")
    if query.shape[1] != gallery.shape[1]:
        raise ValueError(
            f"query_features: expected dimension {gallery.shape[1]} to match gallery_features, found {query.shape[1]}"
        )
    device = gallery.device
    num_queries, num_gallery = query.shape[0], gallery.shape[0]
    query_pids = as_labels(q_pids, "q_pids", num_queries, device)
    query_camids = as_labels(q_camids, "q_camids", num_queries, device)
    gallery_pids = as_labels(g_pids, "g_pids", num_gallery, device)
    identities = GalleryIdentities(gallery_pids, g_camids, device)
    distance = GalleryDistance(gallery, metric)
    if chunk_size is None:
        chunk_size = max(1, DEFAULT_CHUNK_ELEMENTS // max(num_gallery, 1))
    statistics = []
    starts = range(0, num_queries, chunk_size)
    for start in tqdm(starts, desc="evaluating query chunks", disable=not progress or len(starts) < 2):
        stop = start + chunk_size
        block = distance(query[start:stop])  # (chunk, G)
        statistics.append(
            query_statistics(block, query_pids[start:stop], query_camids[start:stop], identities, ap)
        )
        del block
    if not statistics:
        raise ValueError("query_features: expected at least one query, found 0")
    return summarize(statistics, max_rank)
