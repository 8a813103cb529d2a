"""The numbered steps of k-reciprocal re-ranking, one function each (the formulation is in ``rerank``).

Each step takes what the previous one returned, so a step's memory is freed when it returns.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import torch
from tqdm.auto import tqdm

from .candidate_neighbours import bf16_candidate_neighbours
from .neighbours import ItemFeatures, exact_neighbours, faiss_neighbours
from .sparse_rows import compressed_rows, row_segments, sparse_coo

ReRankedBlock = tuple[int, int, torch.Tensor]  # (first query row, stop row, (rows, G) distances)
JACCARD_COUNT_ROWS = 4096  # query rows whose Jaccard pair counts are summed at once
NUMBA_WEIGHT_ROWS = 8192  # rows of V built at once when the sets come from the numba kernel


class NearestNeighbours(NamedTuple):
    """Step 1's result: the neighbour lists and row maxima, and (exact search) longer lists with distances."""

    nearest: torch.Tensor  # (N, max(k1 + 1, k2))
    row_max: torch.Tensor  # (N,)
    known_index: torch.Tensor | None
    known_distance: torch.Tensor | None


class JaccardIndex(NamedTuple):
    """Step 4's inverted index (gallery rows per column of V) and the query rows of V, as CSR arrays."""

    column_start: torch.Tensor
    column_members: torch.Tensor
    column_values: torch.Tensor
    query_start: torch.Tensor
    query_cols: torch.Tensor
    query_values: torch.Tensor
    cumulative_pairs: torch.Tensor  # (Q,) on the CPU: Jaccard pairs of the query rows up to each one


def _reciprocal_neighbours(neighbours: torch.Tensor, k: int) -> torch.Tensor:
    """Members of R(i, k) (N, k + 1) in neighbour order, -1 where the relation is not reciprocal."""
    forward = neighbours[:, : k + 1]  # (N, k+1)
    backward = forward[forward]  # (N, k+1, k+1): neighbours of each neighbour
    own_index = torch.arange(neighbours.shape[0], device=neighbours.device)[:, None, None]
    reciprocal = (backward == own_index).any(-1)  # (N, k+1)
    return torch.where(reciprocal, forward, -1)


def _unique_rows(indices: torch.Tensor) -> torch.Tensor:
    """Sorts each row and replaces repeated entries with -1 (padding stays -1)."""
    ordered = torch.sort(indices, dim=1).values
    repeated = torch.zeros_like(ordered, dtype=torch.bool)
    repeated[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    return torch.where(repeated, -1, ordered)


def nearest_neighbours(
    items: ItemFeatures,
    k1: int,
    k2: int,
    neighbours: str,
    chunk_size: int,
    progress: bool,
    faiss_nlist: int | None,
    faiss_nprobe: int,
    candidate_precision: str = "float32",
) -> NearestNeighbours:
    """1. Nearest neighbours and row maxima of the squared distances over all N items. The exact
    search keeps longer lists (2 (k1 + 1)) with their distances, where step 2 finds most pairs;
    ``candidate_precision="bf16"`` finds those lists with a bfloat16 product, re-scored in float32."""
    num_neighbours = max(k1 + 1, k2)
    if neighbours == "exact":
        known = min(items.num_items, max(num_neighbours, 2 * (k1 + 1)))
        search = bf16_candidate_neighbours if candidate_precision == "bf16" else exact_neighbours
        known_index, known_distance, row_max = search(items, known, chunk_size, progress)
        nearest = known_index[:, :num_neighbours]
    else:
        known_index = known_distance = None
        nearest, row_max = faiss_neighbours(
            items, num_neighbours, max(chunk_size, 4096), progress, faiss_nlist, faiss_nprobe
        )
    row_max.clamp_min_(torch.finfo(items.dtype).tiny)
    return NearestNeighbours(nearest, row_max, known_index, known_distance)


def _expanded_sets(own: torch.Tensor, reciprocal_half: torch.Tensor, half_size: torch.Tensor) -> torch.Tensor:
    """R(i, k1) of a chunk of rows expanded with each R(c, k1/2) sharing more than 2/3 of its members (R, S)."""
    candidate = own.clamp(min=0)
    candidate_set = reciprocal_half[candidate]  # (R, k1+1, half+1)
    shared = (candidate_set[..., None] == own[:, None, None, :]) & (candidate_set[..., None] >= 0)
    shared_count = shared.any(-1).sum(-1)  # (R, k1+1)
    # more than 2/3 of the candidate's set is shared (exact integer form of the 2/3 test)
    accept = (own >= 0) & (3 * shared_count > 2 * half_size[candidate])
    expansion = torch.where(accept[..., None], candidate_set, -1).flatten(1)  # (R, (k1+1)(half+1))
    return _unique_rows(torch.cat([own, expansion], dim=1))


def reciprocal_weights(
    items: ItemFeatures, found: NearestNeighbours, k1: int, chunk_size: int, progress: bool
) -> torch.Tensor:
    """2. k-reciprocal sets and their expansion, then V as a sparse (N, N) matrix."""
    num_items, row_max = items.num_items, found.row_max
    half_k1 = round(k1 / 2)  # round half to even, like numpy.around in the released code
    reciprocal = _reciprocal_neighbours(found.nearest, k1)  # (N, k1+1)
    reciprocal_half = _reciprocal_neighbours(found.nearest, half_k1)  # (N, half+1)
    half_size = (reciprocal_half >= 0).sum(1)
    v_rows, v_cols, v_values = [], [], []
    expanded = None
    if items.use_numba:  # the sets at once; larger chunks: fewer switches between torch and numba threads
        from .reciprocal_sets_numba import expanded_sets  # optional dependency: numba

        expanded = expanded_sets(reciprocal, reciprocal_half, half_size)
        chunk_size = max(chunk_size, NUMBA_WEIGHT_ROWS)
    for start in tqdm(
        range(0, num_items, chunk_size), desc="re-rank: k-reciprocal sets", disable=not progress
    ):
        if expanded is not None:
            members = expanded[start : start + chunk_size]
        else:
            members = _expanded_sets(reciprocal[start : start + chunk_size], reciprocal_half, half_size)
        local_row, slot = (members >= 0).nonzero(as_tuple=True)  # present entries only
        member = members[local_row, slot]
        row = local_row + start
        # |f_i - f_j|^2 for the listed pairs only (most are in the neighbour lists)
        distance = items.pair_squared_distances(row, member, found.known_index, found.known_distance)
        weight = torch.exp(-distance / row_max[row])
        row_total = torch.zeros(members.shape[0], dtype=items.dtype, device=items.device)
        row_total.index_add_(0, local_row, weight)
        v_rows.append(row)
        v_cols.append(member)
        v_values.append(weight / row_total[local_row])
    return sparse_coo(torch.cat(v_rows), torch.cat(v_cols), torch.cat(v_values), (num_items, num_items))


def local_query_expansion(v_matrix: torch.Tensor, nearest: torch.Tensor, k2: int) -> torch.Tensor:
    """3. Local query expansion: V[i] <- mean of V over the k2 nearest items of i (a sparse product)."""
    if k2 <= 1:
        return v_matrix
    row_start, v_cols_all, v_values_all = compressed_rows(v_matrix)
    owner, position = row_segments(row_start, nearest[:, :k2].reshape(-1))
    return sparse_coo(owner // k2, v_cols_all[position], v_values_all[position] / k2, tuple(v_matrix.shape))


def jaccard_index(v_matrix: torch.Tensor, num_query: int, num_gallery: int) -> JaccardIndex:
    """4a. The inverted index of the Jaccard term: for each query entry V[i, k], the gallery rows j
    with V[j, k] != 0 receive min(V[i, k], V[j, k]); and how many such pairs each query row has."""
    num_items = v_matrix.shape[0]
    v_rows_all, v_cols_all = v_matrix.indices()
    keep = v_rows_all >= num_query
    inverted = sparse_coo(
        v_cols_all[keep], v_rows_all[keep] - num_query, v_matrix.values()[keep], (num_items, num_gallery)
    )  # (N, G): row k lists the gallery items j with V[j, k] != 0
    del v_rows_all, v_cols_all, keep
    column_start, column_members, column_values = compressed_rows(inverted)
    column_length = column_start[1:] - column_start[:-1]
    crow, query_entry_cols, query_entry_values = compressed_rows(v_matrix)
    pairs_per_query = torch.zeros(num_query, dtype=torch.long, device=v_matrix.device)
    for start in range(0, num_query, JACCARD_COUNT_ROWS):
        stop = min(start + JACCARD_COUNT_ROWS, num_query)
        entry_row = torch.arange(start, stop, device=v_matrix.device).repeat_interleave(
            crow[start + 1 : stop + 1] - crow[start:stop]
        )
        lengths = column_length[query_entry_cols[crow[start] : crow[stop]]]
        pairs_per_query.index_add_(0, entry_row, lengths)
    cumulative_pairs = torch.cumsum(pairs_per_query, 0).cpu()
    return JaccardIndex(
        column_start,
        column_members,
        column_values,
        crow,
        query_entry_cols,
        query_entry_values,
        cumulative_pairs,
    )


def _block_stop(index: JaccardIndex, start: int, num_query: int, num_gallery: int, pair_chunk: int) -> int:
    """The end of the query block from ``start``: at most ``pair_chunk`` Jaccard pairs and ``pair_chunk // G`` rows."""
    done = int(index.cumulative_pairs[start - 1]) if start > 0 else 0
    stop = int(torch.searchsorted(index.cumulative_pairs, done + pair_chunk, right=True))
    return min(max(stop, start + 1), num_query, start + max(1, pair_chunk // max(num_gallery, 1)))


def _intersections(
    index: JaccardIndex, start: int, stop: int, num_gallery: int, dtype: torch.dtype
) -> torch.Tensor:
    """sum_k min(V[i, k], V[j, k]) for query rows ``start:stop`` and every gallery item j (R, G)."""
    crow, device = index.query_start, index.query_start.device
    first, last = int(crow[start]), int(crow[stop])
    entry_row = torch.arange(stop - start, device=device).repeat_interleave(
        crow[start + 1 : stop + 1] - crow[start:stop]
    )
    entry_col = index.query_cols[first:last]
    entry_value = index.query_values[first:last]
    pair_entry, pair_position = row_segments(index.column_start, entry_col)  # (query entry, gallery entry)
    shared = torch.minimum(entry_value[pair_entry], index.column_values[pair_position])
    intersection = torch.zeros((stop - start) * num_gallery, dtype=dtype, device=device)
    intersection.index_add_(
        0, entry_row[pair_entry] * num_gallery + index.column_members[pair_position], shared
    )
    return intersection.view(stop - start, num_gallery)


def jaccard_blocks(
    items: ItemFeatures,
    index: JaccardIndex,
    row_max: torch.Tensor,
    lambda_value: float,
    pair_chunk: int,
    progress: bool,
) -> Iterator[ReRankedBlock]:
    """4b. The final distance (1 - lambda) * jaccard + lambda * O, block of query rows by block."""
    num_query, num_gallery = items.num_query, items.num_gallery
    start = 0
    progress_bar = tqdm(total=num_query, desc="re-rank: jaccard", disable=not progress)
    while start < num_query:
        stop = _block_stop(index, start, num_query, num_gallery, pair_chunk)
        intersection = _intersections(index, start, stop, num_gallery, items.dtype)
        # (1 - lambda) * jaccard + lambda * O, O recomputed for these rows
        block = items.squared_distances(start, stop, gallery_only=True)
        block.div_(row_max[start:stop, None]).mul_(lambda_value)
        jaccard = intersection.neg_().add_(2).reciprocal_().mul_(-2).add_(2)  # 1 - x/(2-x) = 2 - 2/(2-x)
        block.add_(jaccard, alpha=1 - lambda_value)
        del intersection, jaccard
        yield start, stop, block
        progress_bar.update(stop - start)
        start = stop
    progress_bar.close()
