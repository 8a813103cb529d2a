"""The expanded k-reciprocal sets of re-ranking, one item per loop iteration, with numba (the ``[fast]`` extra).

The torch form (``rerank_steps._expanded_sets``) compares every member of every candidate's half set with
every member of the item's own set as one (R, k1 + 1, k1/2 + 1, k1 + 1) tensor and sorts (R, (k1 + 1)(k1/2 + 2))
rows to remove repeats: a dozen passes over large temporaries per item. Here each item's set is built in a
small buffer and only the result is written. numba is imported only when this module is.
"""

from __future__ import annotations

import numba
import numpy as np
import torch


@numba.njit(parallel=True, cache=True, nogil=True)
def _expand(reciprocal, reciprocal_half, half_size, out):
    """out[i] = sorted members of R(i, k1) and of each accepted R(c, k1/2), -1 after them."""
    width, half_width = reciprocal.shape[1], reciprocal_half.shape[1]
    for i in numba.prange(reciprocal.shape[0]):
        own = reciprocal[i]
        buffer = np.empty(out.shape[1], dtype=np.int64)
        count = 0
        for a in range(width):
            if own[a] >= 0:
                buffer[count] = own[a]
                count += 1
        for a in range(width):
            candidate = own[a]
            if candidate < 0:
                continue
            shared = 0
            for b in range(half_width):
                member = reciprocal_half[candidate, b]
                if member >= 0:
                    for e in range(width):
                        if own[e] == member:
                            shared += 1
                            break
            if 3 * shared > 2 * half_size[candidate]:  # more than 2/3 shared, in integers
                for b in range(half_width):
                    if reciprocal_half[candidate, b] >= 0:
                        buffer[count] = reciprocal_half[candidate, b]
                        count += 1
        ordered = np.sort(buffer[:count])
        kept = 0
        for a in range(count):
            if a == 0 or ordered[a] != ordered[a - 1]:
                out[i, kept] = ordered[a]
                kept += 1


def expanded_sets(
    reciprocal: torch.Tensor, reciprocal_half: torch.Tensor, half_size: torch.Tensor
) -> torch.Tensor:
    """(N, (k1 + 1)(k1/2 + 2)) expanded sets of all items: sorted members, then -1 (CPU tensors)."""
    width = reciprocal.shape[1] * (reciprocal_half.shape[1] + 1)
    out = np.full((reciprocal.shape[0], width), -1, dtype=np.int64)
    _expand(
        reciprocal.contiguous().numpy(),
        reciprocal_half.contiguous().numpy(),
        half_size.to(torch.int64).contiguous().numpy(),
        out,
    )
    return torch.from_numpy(out)
