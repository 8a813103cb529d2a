"""Exact re-identification metrics (mAP, mINP, CMC) without sorting whole gallery rows.

The established evaluators argsort every query's distance row (O(G log G) per query). Only the
ranks of the positives matter, so this module counts, for each valid positive, how many valid
gallery entries precede it, in one streaming pass over the row: ``ranks_numba.py`` (CPU, with the
optional numba) or the histogram kernel of ``ranks_torch.py`` (CPU or GPU, the fallback).

Protocol (standard Market-1501 / torchreid form): for each query, gallery entries with the same
pid *and* the same camid are removed (``camera_filter=False`` keeps them; a camid of -1 means
"camera unknown" and never matches); queries left with no positive are skipped and counted.

Ties: the gallery is ordered by ``(distance, gallery index)``, i.e. a stable sort. An entry with
the same distance as a positive but a smaller gallery index ranks before it. On tie-free inputs
this equals every argsort-based evaluator.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from .arrays import ArrayLike, as_labels, as_tensor
from .query_statistics import (
    APMode,
    Backend,
    GalleryIdentities,
    QueryStatistics,
    non_finite_error,
    numba_available,
    numba_query_statistics,
    query_statistics,
    resolve_backend,
)

__all__ = [
    "DEFAULT_CHUNK_ELEMENTS",
    "APMode",
    "ArrayLike",
    "Backend",
    "GalleryIdentities",
    "QueryStatistics",
    "as_labels",
    "as_tensor",
    "block_statistics",
    "check_ap_mode",
    "default_chunk_size",
    "evaluate_reid",
    "labelled_sides",
    "non_finite_error",
    "numba_available",
    "numba_query_statistics",
    "query_statistics",
    "resolve_backend",
    "summarize",
]

# Elements of the (queries x gallery) block processed at once by the torch kernel; bounds its
# temporary memory (about 20 bytes per element) independently of the gallery size. The numba
# kernel needs no temporaries and takes whole blocks.
DEFAULT_CHUNK_ELEMENTS = 1 << 23


def summarize(statistics: list[QueryStatistics], max_rank: int) -> dict:
    """Averages per-query statistics over the valid queries into the metric dict."""
    valid = torch.cat([s.valid for s in statistics]).cpu()
    num_valid = int(valid.sum())
    num_queries = valid.numel()
    if num_valid == 0:
        raise ValueError(
            f"no query has a valid positive in the gallery (0 of {num_queries} queries): "
            "expected at least one gallery entry with the query's pid seen from another camera"
        )
    ap = torch.cat([s.average_precision for s in statistics]).cpu()[valid]
    inp = torch.cat([s.inverse_negative_penalty for s in statistics]).cpu()[valid]
    first = torch.cat([s.first_match_rank for s in statistics]).cpu()[valid]
    hits = torch.bincount(first.clamp(max=max_rank), minlength=max_rank + 1)[:max_rank]
    cmc = torch.cumsum(hits, 0).double().numpy() / num_valid
    return {
        "mAP": float(ap.mean()),
        "mINP": float(inp.mean()),
        "cmc": cmc,
        "num_valid_queries": num_valid,
        "num_skipped_queries": num_queries - num_valid,
    }


def check_ap_mode(ap: str, max_rank: int) -> None:
    if ap not in ("standard", "trapezoid"):
        raise ValueError(f"ap: expected 'standard' or 'trapezoid', found {ap!r}")
    if not isinstance(max_rank, int) or max_rank < 1:
        raise ValueError(f"max_rank: expected a positive integer, found {max_rank!r}")


def default_chunk_size(backend: str, num_queries: int, num_gallery: int) -> int:
    """Query rows per block: all of them for the numba kernel, about 8M elements for torch."""
    if backend == "numba":
        return max(1, num_queries)
    return max(1, DEFAULT_CHUNK_ELEMENTS // max(num_gallery, 1))


def evaluate_reid(
    distmat: ArrayLike,
    q_pids: ArrayLike,
    g_pids: ArrayLike,
    q_camids: ArrayLike,
    g_camids: ArrayLike,
    max_rank: int = 50,
    ap: APMode = "standard",
    chunk_size: int | None = None,
    camera_filter: bool = True,
    backend: Backend = "auto",
) -> dict:
    """mAP, mINP and CMC of a (num_query, num_gallery) distance matrix under the Market-1501 protocol.

    Accepts numpy arrays or torch tensors (CPU or GPU; the work runs where ``distmat`` lives).
    ``ap="standard"`` is the non-interpolated AP every toolbox reports; ``ap="trapezoid"`` is the
    official Market-1501 evaluation code's trapezoid-rule AP. Ties are ordered by gallery index.
    ``camera_filter=False`` keeps the gallery entries that share the query's pid and camera (for
    sets without camera labels); with ``True`` a camid of -1 (unknown) never counts as the same
    camera. ``backend``: ``"numba"`` (CPU, fused single pass), ``"torch"`` (CPU or GPU) or
    ``"auto"`` (numba where it applies). ``chunk_size`` is the number of query rows processed at
    once (default: all rows with numba, about 8M elements with torch).

    Returns ``{"mAP", "mINP", "cmc" (numpy, length max_rank), "num_valid_queries",
    "num_skipped_queries"}``; ``cmc[k]`` is the fraction of valid queries matched within the top k+1.
    """
    check_ap_mode(ap, max_rank)
    distances = _distance_matrix(distmat)
    num_queries, num_gallery = distances.shape
    device = distances.device
    backend = resolve_backend(backend, device)
    query_pids, query_camids, gallery = labelled_sides(
        q_pids, q_camids, g_pids, g_camids, distances.shape, device
    )
    if chunk_size is None:
        chunk_size = default_chunk_size(backend, num_queries, num_gallery)
    blocks = (
        (start, start + chunk_size, distances[start : start + chunk_size])
        for start in range(0, num_queries, chunk_size)
    )
    statistics = block_statistics(blocks, query_pids, query_camids, gallery, ap, camera_filter, backend)
    if not statistics:
        raise ValueError("distmat: expected at least one query row, found 0")
    return summarize(statistics, max_rank)


def _distance_matrix(distmat: ArrayLike) -> torch.Tensor:
    """The (Q, G) matrix as a float tensor: integers to float64, half precision to float32."""
    distances = as_tensor(distmat, "distmat")
    if distances.dim() != 2:
        raise ValueError(
            f"distmat: expected a 2-D (num_query, num_gallery) matrix, found {tuple(distances.shape)}"
        )
    if not distances.is_floating_point():
        return distances.double()
    if distances.dtype in (torch.float16, torch.bfloat16):
        return distances.float()
    return distances


def labelled_sides(
    q_pids: ArrayLike,
    q_camids: ArrayLike,
    g_pids: ArrayLike,
    g_camids: ArrayLike,
    shape: tuple[int, int],
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor, GalleryIdentities]:
    """Query pids and camids as checked tensors, and the gallery grouped by identity, for ``shape`` (Q, G)."""
    num_queries, num_gallery = shape
    query_pids = as_labels(q_pids, "q_pids", num_queries, device)
    query_camids = as_labels(q_camids, "q_camids", num_queries, device)
    gallery_pids = as_labels(g_pids, "g_pids", num_gallery, device)
    return query_pids, query_camids, GalleryIdentities(gallery_pids, g_camids, device)


def block_statistics(
    blocks: Iterable[tuple[int, int, torch.Tensor]],
    query_pids: torch.Tensor,
    query_camids: torch.Tensor,
    gallery: GalleryIdentities,
    ap: APMode,
    camera_filter: bool,
    backend: Backend,
) -> list[QueryStatistics]:
    """``query_statistics`` of each ``(start, stop, distances)`` block of query rows, each block dropped after."""
    statistics = []
    for start, stop, block in blocks:
        statistics.append(
            query_statistics(
                block, query_pids[start:stop], query_camids[start:stop], gallery, ap, camera_filter, backend
            )
        )
        del block
    return statistics
