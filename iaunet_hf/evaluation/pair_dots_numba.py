"""Dot products of listed item pairs on the CPU with numba (the optional ``[fast]`` extra).

Re-ranking needs the distances of a few dozen listed pairs per item. Gathering the feature rows
of each pair into a new tensor first (the torch way) writes and re-reads every gathered row and
costs several times the arithmetic; this kernel reads both rows where they lie and keeps only
the sum. numba is imported only when this module is.
"""

from __future__ import annotations

import numba
import numpy as np
import torch


@numba.njit(parallel=True, fastmath=True, cache=True, nogil=True)
def _pair_dots(query, gallery, rows, columns, out):
    """out[p] = item(rows[p]) . item(columns[p]), items numbered query first, then gallery."""
    num_query = query.shape[0]
    for p in numba.prange(rows.shape[0]):
        i, j = rows[p], columns[p]
        left = query[i] if i < num_query else gallery[i - num_query]
        right = query[j] if j < num_query else gallery[j - num_query]
        total = left.dtype.type(0)
        for d in range(left.shape[0]):
            total += left[d] * right[d]
        out[p] = total


def pair_dots(
    query: torch.Tensor, gallery: torch.Tensor, rows: torch.Tensor, columns: torch.Tensor
) -> torch.Tensor:
    """Dot products of the listed pairs of [query; gallery] items (contiguous CPU float tensors)."""
    out = np.empty(rows.numel(), dtype=query.numpy().dtype)
    _pair_dots(query.numpy(), gallery.numpy(), rows.numpy(), columns.numpy(), out)
    return torch.from_numpy(out)


@numba.njit(parallel=True, cache=True, nogil=True)
def _known_lookup(rows, columns, known_index, known_distance, out):
    """out[p] = the listed distance of (rows[p], columns[p]) in the row's neighbour list, or NaN."""
    for p in numba.prange(rows.shape[0]):
        i, j = rows[p], columns[p]
        out[p] = np.nan
        for slot in range(known_index.shape[1]):
            if known_index[i, slot] == j:
                out[p] = known_distance[i, slot]
                break


def known_lookup(
    rows: torch.Tensor, columns: torch.Tensor, known_index: torch.Tensor, known_distance: torch.Tensor
) -> torch.Tensor:
    """Distances of the listed pairs found in the rows' neighbour lists, NaN for the others (CPU tensors)."""
    out = np.empty(rows.numel(), dtype=known_distance.numpy().dtype)
    _known_lookup(
        rows.contiguous().numpy(),
        columns.contiguous().numpy(),
        known_index.contiguous().numpy(),
        known_distance.contiguous().numpy(),
        out,
    )
    return torch.from_numpy(out)
