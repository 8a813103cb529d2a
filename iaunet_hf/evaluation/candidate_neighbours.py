"""Nearest neighbours of re-ranking from a bfloat16 candidate search, re-scored in float32.

The exact search (``neighbours.exact_neighbours``) is bound by its float32 N x N product. Here
the product runs in bfloat16 (AVX512-BF16/AMX on recent x86 CPUs, tensor cores on GPUs, several
times the float32 rate), keeps ``k`` candidates per row and then recomputes their distances, and
the distance to each row's farthest candidate, in float32. The neighbour lists are therefore exact
float32 distances of the candidates; they differ from the exact lists only where a true neighbour
fell out of the bfloat16 top ``k`` (benchmark_eval.py reports how often).

Precision: the features are centred on their mean first (the squared distances do not change)
so that the bfloat16 inputs and the bfloat16 product carry the differences between items rather
than a shared offset. The ranking key of item j for row i is ``|c_j|^2 - 2 c_i . c_j`` (the squared
distance less the row's own constant ``|c_i|^2``), summed in float32.

Memory: a bfloat16 copy of the (centred) features, half the size of float32 features, and
``chunk_size`` rows of float32 keys to all N items.
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from .neighbours import ItemFeatures

CANDIDATE_PRECISIONS = ("float32", "bf16")


def check_candidate_precision(candidate_precision: str, neighbours: str) -> None:
    """The value, and that it goes with the exact search (FAISS has its own approximation)."""
    if candidate_precision not in CANDIDATE_PRECISIONS:
        raise ValueError(
            f"candidate_precision: expected one of {CANDIDATE_PRECISIONS}, found {candidate_precision!r}"
        )
    if candidate_precision != "float32" and neighbours != "exact":
        raise ValueError(
            f"candidate_precision: {candidate_precision!r} needs neighbours='exact', found {neighbours!r}"
        )


def _unit_rows(items: ItemFeatures, start: int, stop: int) -> torch.Tensor:
    """Float32 rows as the metric sees them: the features, or the L2-normalised features (cosine)."""
    rows = items.rows(start, stop)
    return rows * items.inverse_norm[start:stop, None] if items.metric == "cosine" else rows


def _centred_bf16(items: ItemFeatures, block: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The centred features in bfloat16 (N, D) and their float32 squared norms (N,), built in blocks."""
    n, dim = items.num_items, items.gallery.shape[1]
    mean = torch.zeros(dim, dtype=items.dtype, device=items.device)
    for start in range(0, n, block):
        mean += _unit_rows(items, start, min(start + block, n)).sum(0)
    mean /= n
    low = torch.empty((n, dim), dtype=torch.bfloat16, device=items.device)
    squared_norm = torch.empty(n, dtype=torch.float32, device=items.device)
    for start in range(0, n, block):
        centred = _unit_rows(items, start, min(start + block, n)) - mean
        low[start : start + len(centred)] = centred
        squared_norm[start : start + len(centred)] = centred.pow(2).sum(1)
    return low, squared_norm


def _rescored(items: ItemFeatures, start: int, stop: int, candidates: torch.Tensor) -> torch.Tensor:
    """Float32 squared distances of rows ``start .. stop - 1`` to their (R, K) candidate items."""
    rows = torch.arange(start, stop, device=items.device)[:, None].expand_as(candidates)
    return items.pair_squared_distances(rows.reshape(-1), candidates.reshape(-1)).view_as(candidates)


def bf16_candidate_neighbours(
    items: ItemFeatures, k: int, chunk_size: int, progress: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``exact_neighbours``' result from a bfloat16 search of ``k`` candidates, re-scored in float32.

    Returns the (N, k) candidates in ascending float32 distance, those distances, and (N,) row
    maxima: the float32 distance to the item that is farthest in bfloat16.
    """
    n = items.num_items
    low, squared_norm = _centred_bf16(items, 4096)
    candidates = torch.empty((n, k + 1), dtype=torch.long, device=items.device)
    for start in tqdm(range(0, n, chunk_size), desc="re-rank: neighbours (bf16)", disable=not progress):
        stop = min(start + chunk_size, n)
        # |c_j|^2 - 2 c_i . c_j in float32 from a bfloat16 product (one pass: the sum promotes)
        key = torch.add(squared_norm[None, :], low[start:stop] @ low.T, alpha=-2)
        candidates[start:stop, :k] = torch.topk(key, k, dim=1, largest=False, sorted=False).indices
        candidates[start:stop, k] = key.argmax(1)  # the farthest item
        del key
    del low
    # re-scored all at once: one switch between the product's threads and the pair kernel's
    distance = _rescored(items, 0, n, candidates)
    row_max = distance[:, k].clone()
    distance, order = torch.sort(distance[:, :k], dim=1, stable=True)
    return candidates[:, :k].gather(1, order), distance, row_max
