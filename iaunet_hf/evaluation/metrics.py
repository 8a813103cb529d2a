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

import importlib.util
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from .ranks_torch import positive_ranks

ArrayLike = np.ndarray | torch.Tensor
APMode = Literal["standard", "trapezoid"]
Backend = Literal["auto", "numba", "torch"]

# Elements of the (queries x gallery) block processed at once by the torch kernel; bounds its
# temporary memory (about 20 bytes per element) independently of the gallery size. The numba
# kernel needs no temporaries and takes whole blocks.
DEFAULT_CHUNK_ELEMENTS = 1 << 23


def as_tensor(values: ArrayLike, name: str, device: torch.device | None = None) -> torch.Tensor:
    """Turns a numpy array, torch tensor or sequence into a tensor without copying when possible."""
    if isinstance(values, torch.Tensor):
        tensor = values
    elif isinstance(values, np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(values))
    else:
        try:
            tensor = torch.as_tensor(np.asarray(values))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name}: expected an array or tensor, found {type(values).__name__}") from error
    return tensor if device is None else tensor.to(device)


def as_labels(values: ArrayLike, name: str, length: int | None, device: torch.device) -> torch.Tensor:
    labels = as_tensor(values, name, device)
    if labels.dim() != 1:
        raise ValueError(f"{name}: expected a 1-D array, found shape {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"{name}: expected integer labels, found dtype {labels.dtype}")
    if length is not None and labels.numel() != length:
        raise ValueError(
            f"{name}: expected {length} entries to match the distance matrix, found {labels.numel()}"
        )
    return labels.long()


def numba_available() -> bool:
    """Whether the numba rank kernel (the optional ``[fast]`` extra) can be used."""
    return importlib.util.find_spec("numba") is not None


def resolve_backend(backend: str, device: torch.device) -> str:
    """``"auto"`` -> ``"numba"`` on the CPU when numba is installed, else ``"torch"``."""
    if backend not in ("auto", "numba", "torch"):
        raise ValueError(f"backend: expected 'auto', 'numba' or 'torch', found {backend!r}")
    if backend == "numba" and (device.type != "cpu" or not numba_available()):
        raise ValueError(
            "backend: 'numba' needs CPU tensors and the numba package (pip install iaunet-hf[fast]), "
            f"found device {device.type}, numba {'installed' if numba_available() else 'missing'}"
        )
    if backend == "auto":
        return "numba" if device.type == "cpu" and numba_available() else "torch"
    return backend


class GalleryIdentities:
    """Gallery pids/camids grouped by identity, so a query finds its positives without a row scan.

    Compressed rows: ``member_order[group_start[u]:group_start[u + 1]]`` lists, in increasing
    gallery index, the entries whose pid is ``pids[u]``. Built once with one stable sort of the
    gallery pids; its size is the gallery's, whatever the largest identity.
    """

    def __init__(self, g_pids: ArrayLike, g_camids: ArrayLike, device: torch.device | None = None):
        device = torch.device("cpu") if device is None else device
        self.g_pids = as_labels(g_pids, "g_pids", None, device)
        self.g_camids = as_labels(g_camids, "g_camids", self.g_pids.numel(), device)
        self.num_gallery = self.g_pids.numel()
        self.member_order = torch.sort(self.g_pids, stable=True).indices
        self.pids, self.counts = torch.unique_consecutive(self.g_pids[self.member_order], return_counts=True)
        self.group_start = torch.zeros(self.pids.numel() + 1, dtype=torch.long, device=device)
        self.group_start[1:] = torch.cumsum(self.counts, 0)

    def groups(self, q_pids: torch.Tensor) -> torch.Tensor:
        """(Q,) index into ``pids`` of each query's identity, -1 where the gallery lacks it."""
        if self.pids.numel() == 0:
            return torch.full_like(q_pids, -1)
        group = torch.searchsorted(self.pids, q_pids).clamp(max=self.pids.numel() - 1)
        return torch.where(self.pids[group] == q_pids, group, -1)

    def candidates(self, q_pids: torch.Tensor) -> torch.Tensor:
        """Gallery indices sharing each query's pid, (Q, M) padded with -1 (M = the queries' largest group)."""
        group = self.groups(q_pids)
        found = group >= 0
        group = group.clamp(min=0)
        count = torch.where(found, self.counts[group], 0) if self.pids.numel() else torch.zeros_like(group)
        width = int(count.max()) if q_pids.numel() else 0
        slot = torch.arange(width, device=q_pids.device)
        inside = slot[None, :] < count[:, None]
        position = (self.group_start[group][:, None] + slot[None, :]).clamp(max=max(self.num_gallery - 1, 0))
        return torch.where(inside, self.member_order[position], -1)


@dataclass
class QueryStatistics:
    """Per-query results of one chunk; ``valid`` marks queries with at least one positive."""

    average_precision: torch.Tensor  # (Q,) float64
    inverse_negative_penalty: torch.Tensor  # (Q,) float64
    first_match_rank: torch.Tensor  # (Q,) int64, 0-based rank of the first positive
    valid: torch.Tensor  # (Q,) bool


def non_finite_error(distances: torch.Tensor) -> ValueError:
    bad = (~torch.isfinite(distances)).nonzero()
    return ValueError(
        f"distmat: expected finite distances, found {bad.shape[0]} NaN or infinite values "
        f"(first at row {int(bad[0, 0])}, column {int(bad[0, 1])} of the block)"
    )


def numba_query_statistics(
    distances: torch.Tensor,
    q_pids: torch.Tensor,
    q_camids: torch.Tensor,
    gallery: GalleryIdentities,
    ap: APMode,
    camera_filter: bool,
) -> QueryStatistics:
    """``query_statistics`` through the fused numba kernel (CPU tensors, no temporaries)."""
    import numba

    from .ranks_numba import query_statistics_kernel

    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))
    rows = np.ascontiguousarray(distances.detach().numpy())
    num_queries = rows.shape[0]
    average_precision = np.empty(num_queries, np.float64)
    inverse_negative_penalty = np.empty(num_queries, np.float64)
    first_match_rank = np.empty(num_queries, np.int64)
    num_positives = np.empty(num_queries, np.int64)
    finite = np.empty(num_queries, np.bool_)
    integer = np.int32 if rows.dtype == np.float32 else np.int64
    exponent = integer(0x7F800000) if rows.dtype == np.float32 else integer(0x7FF0000000000000)
    query_statistics_kernel(
        rows,
        rows.view(integer),
        exponent,
        gallery.groups(q_pids).numpy(),
        q_camids.numpy(),
        gallery.group_start.numpy(),
        gallery.member_order.numpy(),
        gallery.g_camids.numpy(),
        camera_filter,
        ap == "trapezoid",
        np.array([np.inf], dtype=rows.dtype),
        average_precision,
        inverse_negative_penalty,
        first_match_rank,
        num_positives,
        finite,
    )
    if not finite.all():
        raise non_finite_error(distances)
    return QueryStatistics(
        torch.from_numpy(average_precision),
        torch.from_numpy(inverse_negative_penalty),
        torch.from_numpy(first_match_rank),
        torch.from_numpy(num_positives > 0),
    )


def query_statistics(
    distances: torch.Tensor,
    q_pids: torch.Tensor,
    q_camids: torch.Tensor,
    gallery: GalleryIdentities,
    ap: APMode = "standard",
    camera_filter: bool = True,
    backend: Backend = "auto",
) -> QueryStatistics:
    """AP, INP and first-match rank of each query in a block of the distance matrix."""
    if resolve_backend(backend, distances.device) == "numba":  # it checks finiteness in its pass
        return numba_query_statistics(distances, q_pids, q_camids, gallery, ap, camera_filter)
    # a sum is one cheap reduction; the elementwise check runs only when it is not finite
    if not torch.isfinite(distances.sum()) and not torch.isfinite(distances).all():
        raise non_finite_error(distances)
    ranks, num_positives = positive_ranks(distances, q_pids, q_camids, gallery, camera_filter)
    valid = num_positives > 0
    width = ranks.shape[1]
    if width == 0:
        zeros = torch.zeros(distances.shape[0], dtype=torch.float64, device=distances.device)
        return QueryStatistics(zeros, zeros.clone(), torch.zeros_like(num_positives), valid)
    slot = torch.arange(width, device=distances.device)
    positive_valid = slot[None, :] < num_positives[:, None]
    found = (slot + 1).double()[None, :]  # positives retrieved up to and including this one
    position = ranks.double() + 1  # 1-based rank
    precision = found / position
    if ap == "standard":
        contribution = precision
    else:
        # Official Market-1501 code: average of the precision just before and at each positive.
        before = torch.where(ranks > 0, (found - 1) / ranks.clamp(min=1).double(), torch.ones_like(found))
        contribution = (before + precision) / 2
    count = num_positives.clamp(min=1).double()
    average_precision = torch.where(positive_valid, contribution, 0).sum(1) / count
    hardest = ranks.gather(1, (num_positives - 1).clamp(min=0)[:, None])[:, 0]
    inverse_negative_penalty = num_positives.double() / (hardest.double() + 1)
    return QueryStatistics(average_precision, inverse_negative_penalty, ranks[:, 0], valid)


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
    distances = as_tensor(distmat, "distmat")
    if distances.dim() != 2:
        raise ValueError(
            f"distmat: expected a 2-D (num_query, num_gallery) matrix, found {tuple(distances.shape)}"
        )
    if not distances.is_floating_point():
        distances = distances.double()
    elif distances.dtype in (torch.float16, torch.bfloat16):
        distances = distances.float()
    num_queries, num_gallery = distances.shape
    device = distances.device
    backend = resolve_backend(backend, device)
    query_pids = as_labels(q_pids, "q_pids", num_queries, device)
    query_camids = as_labels(q_camids, "q_camids", num_queries, device)
    gallery_pids = as_labels(g_pids, "g_pids", num_gallery, device)
    gallery = GalleryIdentities(gallery_pids, g_camids, device)
    if chunk_size is None:
        chunk_size = default_chunk_size(backend, num_queries, num_gallery)
    statistics = []
    for start in range(0, num_queries, chunk_size):
        stop = start + chunk_size
        statistics.append(
            query_statistics(
                distances[start:stop],
                query_pids[start:stop],
                query_camids[start:stop],
                gallery,
                ap,
                camera_filter,
                backend,
            )
        )
    if not statistics:
        raise ValueError("distmat: expected at least one query row, found 0")
    return summarize(statistics, max_rank)
