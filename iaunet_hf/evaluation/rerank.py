"""k-reciprocal re-ranking (Zhong et al., CVPR 2017) from features, with top-k neighbour lists.

Formulation reproduced (the one of the paper's released evaluation code, not torchreid's):

* The original distance is the **squared Euclidean** distance between the given features, over
  all ``N = Q + G`` items ([query; gallery]), each row divided by its maximum over all N items:
  ``O[i, j] = |f_i - f_j|^2 / max_k |f_i - f_k|^2``. (torchreid's ``re_ranking(q_g, q_q, g_g)``
  instead squares whatever distance it is passed, e.g. the square of a cosine distance.)
  ``metric="cosine"`` uses the L2-normalised features, i.e. the cosine distance divided by its row
  maximum (computed from the norms, without a normalised copy).
* ``R(i, k)`` = the k-reciprocal neighbours among the ``k + 1`` nearest (the item itself
  included); ``R(i, k1)`` is expanded with every ``R(c, round(k1 / 2))``, ``c`` in ``R(i, k1)``,
  that shares more than 2/3 of its members with ``R(i, k1)``.
* ``V[i, j] = exp(-O[i, j])`` over the expanded set, normalised to sum 1; local query expansion
  replaces ``V[i]`` by the mean of ``V`` over the ``k2`` nearest items of ``i``.
* Jaccard distance ``1 - sum_k min(V_i, V_j) / (2 - sum_k min(V_i, V_j))``; the final distance is
  ``(1 - lambda) * jaccard + lambda * O`` restricted to query rows and gallery columns.

The released code stores ``V`` and the Jaccard distance in float16; here they are float32 (or
float64 for float64 features), so results agree with it up to float16 rounding (~1e-3).

Memory: no N x N matrix and no [query; gallery] copy is held. Distances are computed in row
chunks that keep only the top ``k1 + 1`` neighbours (``neighbours.py``; optionally found by an
approximate FAISS search); ``V`` is sparse (a few hundred entries per row); the Jaccard term is
accumulated through an inverted index, and ``k_reciprocal_blocks`` yields the re-ranked rows block
by block (the original distances of a block are recomputed then), so that
``evaluate_reid_features(..., rerank=True)`` never holds the (Q, G) result. ``k_reciprocal_rerank``
assembles the dense matrix for those who ask for it.

Exactness: with ``neighbours="exact"`` every step is the formulation above up to floating point
rounding; with ``"faiss"`` the top-k lists and the row maxima of ``O`` come from an approximate
search, and results differ where those do.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from tqdm.auto import tqdm

from .metrics import ArrayLike, as_tensor
from .neighbours import ItemFeatures, exact_neighbours, faiss_neighbours

ReRankedBlock = tuple[int, int, torch.Tensor]  # (first query row, stop row, (rows, G) distances)


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


def _sparse(
    rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor, shape: tuple[int, int]
) -> torch.Tensor:
    """COO triplets -> a coalesced sparse COO matrix (duplicates summed, entries in row order)."""
    indices = torch.stack([rows, cols])
    return torch.sparse_coo_tensor(indices, values, shape, check_invariants=False).coalesce()


def _compressed_rows(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Row pointers, column indices and values of a coalesced COO matrix (CSR arrays).

    Built by hand from the coalesced COO form, whose entries are already in row order; torch's
    CSR layout is still flagged beta and warns on every conversion.
    """
    rows, cols = matrix.indices()
    counts = torch.bincount(rows, minlength=matrix.shape[0])
    row_start = torch.zeros(matrix.shape[0] + 1, dtype=torch.long, device=rows.device)
    row_start[1:] = torch.cumsum(counts, 0)
    return row_start, cols, matrix.values()


def _row_segments(row_start: torch.Tensor, selected: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Entries of the selected CSR rows: (owner, position), owner indexing ``selected``."""
    lengths = row_start[selected + 1] - row_start[selected]
    owner = torch.arange(selected.numel(), device=selected.device).repeat_interleave(lengths)
    first_of_owner = torch.cumsum(lengths, 0) - lengths
    position = (
        row_start[selected][owner]
        + torch.arange(owner.numel(), device=selected.device)
        - first_of_owner[owner]
    )
    return owner, position


def k_reciprocal_blocks(
    query_features: ArrayLike,
    gallery_features: ArrayLike,
    k1: int = 20,
    k2: int = 6,
    lambda_value: float = 0.3,
    metric: str = "euclidean",
    neighbours: str = "exact",
    chunk_size: int = 256,
    progress: bool = True,
    pair_chunk: int = 1 << 24,
    faiss_nlist: int | None = None,
    faiss_nprobe: int = 32,
) -> Iterator[ReRankedBlock]:
    """Re-ranked distances of Zhong et al. as ``(start, stop, block)`` for consecutive query rows.

    Validates and builds the sparse ``V`` at once, then yields blocks of at most
    ``pair_chunk // G`` rows (and ``pair_chunk`` Jaccard pairs). Runs on the device of
    ``gallery_features`` in float32 (float64 for float64 features). ``chunk_size`` rows of
    distances to all Q + G items exist at once while the neighbours are searched.
    ``neighbours="faiss"`` (``metric="cosine"`` only) searches them approximately.
    """
    gallery = as_tensor(gallery_features, "gallery_features")
    query = as_tensor(query_features, "query_features", gallery.device)
    for name, tensor in (("query_features", query), ("gallery_features", gallery)):
        if tensor.dim() != 2 or not tensor.is_floating_point():
            raise ValueError(
                f"{name}: expected a 2-D float (num_items, dim) array, found {tuple(tensor.shape)}"
            )
    if query.shape[1] != gallery.shape[1]:
        raise ValueError(
            f"query_features: expected dimension {gallery.shape[1]} to match gallery_features, found {query.shape[1]}"
        )
    if k1 < 1 or k2 < 1 or not 0.0 <= lambda_value <= 1.0:
        raise ValueError(
            f"k1, k2, lambda_value: expected k1 >= 1, k2 >= 1, 0 <= lambda <= 1, found {k1}, {k2}, {lambda_value}"
        )
    if neighbours not in ("exact", "faiss"):
        raise ValueError(f"neighbours: expected 'exact' or 'faiss', found {neighbours!r}")
    items = ItemFeatures(query, gallery, metric)
    num_query, num_items, num_gallery = items.num_query, items.num_items, items.num_gallery
    if k1 + 1 > num_items or k2 > num_items:
        raise ValueError(
            f"k1, k2: expected k1 + 1 <= {num_items} and k2 <= {num_items} items, found k1={k1}, k2={k2}"
        )
    dtype, device = items.dtype, items.device
    num_neighbours = max(k1 + 1, k2)
    half_k1 = round(k1 / 2)  # round half to even, like numpy.around in the released code

    # 1. Nearest neighbours and row maxima of the squared distances over all N items. The exact
    #    search keeps longer lists (2 (k1 + 1)) with their distances, where step 2 finds most pairs.
    if neighbours == "exact":
        known = min(num_items, max(num_neighbours, 2 * (k1 + 1)))
        known_index, known_distance, row_max = exact_neighbours(items, known, chunk_size, progress)
        nearest = known_index[:, :num_neighbours]
    else:
        known_index = known_distance = None
        nearest, row_max = faiss_neighbours(
            items, num_neighbours, max(chunk_size, 4096), progress, faiss_nlist, faiss_nprobe
        )
    row_max.clamp_min_(torch.finfo(dtype).tiny)

    # 2. k-reciprocal sets and their expansion, then V as a sparse matrix.
    reciprocal = _reciprocal_neighbours(nearest, k1)  # (N, k1+1)
    reciprocal_half = _reciprocal_neighbours(nearest, half_k1)  # (N, half+1)
    half_size = (reciprocal_half >= 0).sum(1)
    v_rows, v_cols, v_values = [], [], []
    for start in tqdm(
        range(0, num_items, chunk_size), desc="re-rank: k-reciprocal sets", disable=not progress
    ):
        own = reciprocal[start : start + chunk_size]  # (R, k1+1)
        candidate = own.clamp(min=0)
        candidate_set = reciprocal_half[candidate]  # (R, k1+1, half+1)
        shared = (candidate_set[..., None] == own[:, None, None, :]) & (candidate_set[..., None] >= 0)
        shared_count = shared.any(-1).sum(-1)  # (R, k1+1)
        # more than 2/3 of the candidate's set is shared (exact integer form of the 2/3 test)
        accept = (own >= 0) & (3 * shared_count > 2 * half_size[candidate])
        expansion = torch.where(accept[..., None], candidate_set, -1).flatten(1)  # (R, (k1+1)(half+1))
        members = _unique_rows(torch.cat([own, expansion], dim=1))  # (R, S)
        local_row, slot = (members >= 0).nonzero(as_tuple=True)  # present entries only
        member = members[local_row, slot]
        row = local_row + start
        # |f_i - f_j|^2 for the listed pairs only (most are in the neighbour lists)
        distance = items.pair_squared_distances(row, member, known_index, known_distance)
        weight = torch.exp(-distance / row_max[row])
        row_total = torch.zeros(members.shape[0], dtype=dtype, device=device).index_add_(0, local_row, weight)
        v_rows.append(row)
        v_cols.append(member)
        v_values.append(weight / row_total[local_row])
    v_matrix = _sparse(torch.cat(v_rows), torch.cat(v_cols), torch.cat(v_values), (num_items, num_items))
    del v_rows, v_cols, v_values, known_index, known_distance

    # 3. Local query expansion: V[i] <- mean of V over the k2 nearest items of i (a sparse product).
    if k2 > 1:
        row_start, v_cols_all, v_values_all = _compressed_rows(v_matrix)
        owner, position = _row_segments(row_start, nearest[:, :k2].reshape(-1))
        v_matrix = _sparse(
            owner // k2, v_cols_all[position], v_values_all[position] / k2, (num_items, num_items)
        )
        del row_start, v_cols_all, v_values_all, owner, position

    # 4. Jaccard term through an inverted index: for each query entry V[i, k], the gallery rows j
    #    with V[j, k] != 0 receive min(V[i, k], V[j, k]).
    v_rows_all, v_cols_all = v_matrix.indices()
    keep = v_rows_all >= num_query
    inverted = _sparse(
        v_cols_all[keep], v_rows_all[keep] - num_query, v_matrix.values()[keep], (num_items, num_gallery)
    )  # (N, G): row k lists the gallery items j with V[j, k] != 0
    del v_rows_all, v_cols_all, keep
    column_start, column_members, column_values = _compressed_rows(inverted)
    column_length = column_start[1:] - column_start[:-1]
    crow, query_entry_cols, query_entry_values = _compressed_rows(v_matrix)
    pairs_per_query = torch.zeros(num_query, dtype=torch.long, device=device)
    for start in range(0, num_query, 4096):
        stop = min(start + 4096, num_query)
        entry_row = torch.arange(start, stop, device=device).repeat_interleave(
            crow[start + 1 : stop + 1] - crow[start:stop]
        )
        lengths = column_length[query_entry_cols[crow[start] : crow[stop]]]
        pairs_per_query.index_add_(0, entry_row, lengths)
    cumulative_pairs = torch.cumsum(pairs_per_query, 0).cpu()

    def blocks() -> Iterator[ReRankedBlock]:
        start = 0
        progress_bar = tqdm(total=num_query, desc="re-rank: jaccard", disable=not progress)
        while start < num_query:
            done = int(cumulative_pairs[start - 1]) if start > 0 else 0
            stop = int(torch.searchsorted(cumulative_pairs, done + pair_chunk, right=True))
            stop = min(max(stop, start + 1), num_query, start + max(1, pair_chunk // max(num_gallery, 1)))
            first, last = int(crow[start]), int(crow[stop])
            entry_row = torch.arange(stop - start, device=device).repeat_interleave(
                crow[start + 1 : stop + 1] - crow[start:stop]
            )
            entry_col = query_entry_cols[first:last]
            entry_value = query_entry_values[first:last]
            pair_entry, pair_position = _row_segments(column_start, entry_col)  # (query entry, gallery entry)
            shared = torch.minimum(entry_value[pair_entry], column_values[pair_position])
            intersection = torch.zeros((stop - start) * num_gallery, dtype=dtype, device=device)
            intersection.index_add_(
                0, entry_row[pair_entry] * num_gallery + column_members[pair_position], shared
            )
            del pair_entry, pair_position, shared
            intersection = intersection.view(stop - start, num_gallery)  # (R, G)
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

    return blocks()


def k_reciprocal_rerank(
    query_features: ArrayLike,
    gallery_features: ArrayLike,
    k1: int = 20,
    k2: int = 6,
    lambda_value: float = 0.3,
    chunk_size: int = 256,
    progress: bool = True,
    pair_chunk: int = 1 << 24,
    **options,
) -> torch.Tensor:
    """The dense re-ranked (Q, G) distance matrix of Zhong et al. (k1=20, k2=6, lambda=0.3 by default).

    Assembled from ``k_reciprocal_blocks`` (which takes the same arguments and ``options``:
    ``metric``, ``neighbours``, ``faiss_nlist``, ``faiss_nprobe``); for evaluation prefer
    ``evaluate_reid_features(..., rerank=True)``, which never holds this matrix.
    """
    blocks = k_reciprocal_blocks(
        query_features,
        gallery_features,
        k1,
        k2,
        lambda_value,
        chunk_size=chunk_size,
        progress=progress,
        pair_chunk=pair_chunk,
        **options,
    )
    result = None
    for start, stop, block in blocks:
        if result is None:
            num_query = as_tensor(query_features, "query_features").shape[0]
            result = torch.empty((num_query, block.shape[1]), dtype=block.dtype, device=block.device)
        result[start:stop] = block
    if result is None:  # no query rows
        gallery = as_tensor(gallery_features, "gallery_features")
        return torch.empty((0, gallery.shape[0]), dtype=torch.float32, device=gallery.device)
    return result
