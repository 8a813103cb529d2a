"""Query-chunked distances and metric evaluation straight from features, in bounded memory.

A full MSMT17 distance matrix (11,659 x 82,161) is 3.8 GB in float32; evaluating from features
computes one block of query rows at a time, ranks it and drops it. The gallery is never copied
(no normalised copy: its norms are kept as a vector). With ``rerank=True`` the blocks are
k-reciprocal re-ranked distances (``rerank.py``), which never exist as one (Q, G) matrix either.
"""

from __future__ import annotations

from typing import Literal

import torch
from tqdm.auto import tqdm

from .metrics import (
    DEFAULT_CHUNK_ELEMENTS,
    APMode,
    ArrayLike,
    Backend,
    as_tensor,
    block_statistics,
    check_ap_mode,
    labelled_sides,
    resolve_backend,
    summarize,
)
from .rerank import k_reciprocal_blocks

DistanceMetric = Literal["cosine", "euclidean"]
# Query-block size of the numba kernel, which needs no temporaries: large blocks keep the
# distance product compute-bound (a 16-row block re-reads the whole gallery for 16 queries).
NUMBA_BLOCK_ELEMENTS = 1 << 26  # 256 MiB of float32 distances


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
        # norms in slices: neither an upcast gallery nor its squares ever exist as a whole
        for start in range(0, gallery_features.shape[0], 4096):
            block = gallery_features[start : start + 4096].to(self.compute_dtype)
            squared_norm[start : start + 4096] = block.pow(2).sum(1)
        self.squared_norm = squared_norm

    def __call__(self, query_features: torch.Tensor) -> torch.Tensor:
        """(Q, D) queries -> (Q, G) distances: 1 - cosine similarity, or Euclidean distance."""
        query = query_features.to(device=self.gallery.device, dtype=self.compute_dtype)
        gallery = self.gallery if self.gallery.dtype == self.compute_dtype else None
        if gallery is None:
            similarity = torch.cat(
                [
                    query @ self.gallery[start : start + 8192].to(self.compute_dtype).T
                    for start in range(0, self.gallery.shape[0], 8192)
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
    camera_filter: bool = True,
    backend: Backend = "auto",
    rerank: bool = False,
    rerank_options: dict | None = None,
) -> dict:
    """``evaluate_reid`` from features, computing distances for ``chunk_size`` queries at a time.

    The full distance matrix is never held: peak memory beyond the features is a few bytes times
    ``chunk_size x num_gallery`` (default: 256 MiB of distances with the numba kernel, about 8M
    elements with torch). Runs on the device of ``gallery_features``. ``camera_filter`` and
    ``backend`` are those of ``evaluate_reid``. ``rerank=True`` evaluates k-reciprocal re-ranked
    distances (Zhong et al.) of the same ``metric``, block by block; ``rerank_options`` holds
    ``k_reciprocal_blocks`` keywords (``k1``, ``k2``, ``lambda_value``, ``neighbours``, ...).
    Returns the same dict as ``evaluate_reid``.
    """
    check_ap_mode(ap, max_rank)
    gallery = _as_features(gallery_features, "gallery_features")
    query = _as_features(query_features, "query_features")
    if query.shape[1] != gallery.shape[1]:
        raise ValueError(
            f"query_features: expected dimension {gallery.shape[1]} to match gallery_features, found {query.shape[1]}"
        )
    device = gallery.device
    backend = resolve_backend(backend, device)
    shape = (query.shape[0], gallery.shape[0])
    query_pids, query_camids, identities = labelled_sides(q_pids, q_camids, g_pids, g_camids, shape, device)
    if rerank:
        options = {"metric": metric, "progress": progress, **(rerank_options or {})}
        blocks = k_reciprocal_blocks(query, gallery, **options)
    else:
        blocks = _distance_blocks(query, gallery, metric, backend, chunk_size, progress)
    statistics = block_statistics(blocks, query_pids, query_camids, identities, ap, camera_filter, backend)
    if not statistics:
        raise ValueError("query_features: expected at least one query, found 0")
    return summarize(statistics, max_rank)


def _distance_blocks(query, gallery, metric, backend, chunk_size, progress):
    """(start, stop, (rows, G) distances) for consecutive blocks of query rows."""
    distance = GalleryDistance(gallery, metric)
    num_queries, num_gallery = query.shape[0], gallery.shape[0]
    if chunk_size is None:
        elements = NUMBA_BLOCK_ELEMENTS if backend == "numba" else DEFAULT_CHUNK_ELEMENTS
        chunk_size = max(1, elements // max(num_gallery, 1))
    starts = range(0, num_queries, chunk_size)
    for start in tqdm(starts, desc="evaluating query chunks", disable=not progress or len(starts) < 2):
        stop = min(start + chunk_size, num_queries)
        yield start, stop, distance(query[start:stop])
