"""Per-query AP, INP and first-match rank of a block of distance rows, by the numba or the torch kernel.

The gallery is grouped by identity once (``GalleryIdentities``) so each query finds its positives without a row
scan; ``query_statistics`` picks the kernel (``resolve_backend``) and checks the distances are finite.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from .gallery_identities import GalleryIdentities
from .ranks_torch import positive_ranks

APMode = Literal["standard", "trapezoid"]
Backend = Literal["auto", "numba", "torch"]


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
