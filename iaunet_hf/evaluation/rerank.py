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
search, and results differ where those do. ``candidate_precision="bf16"`` keeps the exact search
but finds its candidate lists with a bfloat16 product; every distance used is then recomputed in
float32, and results differ only where a true neighbour was not among the bfloat16 candidates.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from .candidate_neighbours import check_candidate_precision
from .metrics import ArrayLike, as_tensor
from .neighbours import ItemFeatures
from .rerank_steps import (
    ReRankedBlock,
    jaccard_blocks,
    jaccard_index,
    local_query_expansion,
    nearest_neighbours,
    reciprocal_weights,
)

__all__ = ["ReRankedBlock", "k_reciprocal_blocks", "k_reciprocal_rerank"]


def _check_rerank_arguments(
    query: torch.Tensor, gallery: torch.Tensor, k1: int, k2: int, lambda_value: float, neighbours: str
) -> None:
    """Shapes, dtypes and settings, checked before any work."""
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
    candidate_precision: str = "float32",
) -> Iterator[ReRankedBlock]:
    """Re-ranked distances of Zhong et al. as ``(start, stop, block)`` for consecutive query rows.

    Validates and builds the sparse ``V`` at once, then yields blocks of at most
    ``pair_chunk // G`` rows (and ``pair_chunk`` Jaccard pairs). Runs on the device of
    ``gallery_features`` in float32 (float64 for float64 features). ``chunk_size`` rows of
    distances to all Q + G items exist at once while the neighbours are searched.
    ``neighbours="faiss"`` (``metric="cosine"`` only) searches them approximately;
    ``candidate_precision="bf16"`` finds the exact search's candidates with a bfloat16 product and
    re-scores them in float32 (``candidate_neighbours.py``; faster where bfloat16 is, and it then
    holds a bfloat16 copy of the features).
    """
    gallery = as_tensor(gallery_features, "gallery_features")
    query = as_tensor(query_features, "query_features", gallery.device)
    _check_rerank_arguments(query, gallery, k1, k2, lambda_value, neighbours)
    check_candidate_precision(candidate_precision, neighbours)
    items = ItemFeatures(query, gallery, metric)
    if k1 + 1 > items.num_items or k2 > items.num_items:
        raise ValueError(
            f"k1, k2: expected k1 + 1 <= {items.num_items} and k2 <= {items.num_items} items, found k1={k1}, k2={k2}"
        )
    found = nearest_neighbours(
        items, k1, k2, neighbours, chunk_size, progress, faiss_nlist, faiss_nprobe, candidate_precision
    )
    v_matrix = reciprocal_weights(items, found, k1, chunk_size, progress)
    nearest, row_max = found.nearest, found.row_max
    del found  # the longer exact lists and their distances
    v_matrix = local_query_expansion(v_matrix, nearest, k2)
    index = jaccard_index(v_matrix, items.num_query, items.num_gallery)
    del v_matrix
    return jaccard_blocks(items, index, row_max, lambda_value, pair_chunk, progress)


def k_reciprocal_rerank(
    query_features: ArrayLike,
    gallery_features: ArrayLike,
    k1: int = 20,
    k2: int = 6,
    lambda_value: float = 0.3,
    chunk_size: int = 256,
    progress: bool = True,
    pair_chunk: int = 1 << 22,
    **options,
) -> torch.Tensor:
    """The dense re-ranked (Q, G) distance matrix of Zhong et al. (k1=20, k2=6, lambda=0.3 by default).

    Assembled from ``k_reciprocal_blocks`` (which takes the same arguments and ``options``:
    ``metric``, ``neighbours``, ``faiss_nlist``, ``faiss_nprobe``, ``candidate_precision``); for evaluation prefer
    ``evaluate_reid_features(..., rerank=True)``, which never holds this matrix. Its blocks are 4x smaller
    than the streamed evaluation's (``pair_chunk`` 2^22, not 2^24): beside the matrix they are the working
    memory, about 0.5 GiB at MSMT17 scale with 2^24.
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
