"""Squared distances, nearest neighbours and row maxima over the items [query; gallery] of re-ranking.

The two feature sets are never concatenated (that copy alone is the size of the features): rows
and columns are read from whichever set holds them. ``metric="euclidean"`` is the squared
Euclidean distance of the features as given (the released re-ranking code); ``"cosine"`` is the
squared Euclidean distance of the L2-normalised features, ``2 - 2 cos``, computed from the norms
without a normalised copy.

Neighbours come from an exact chunked search (every distance row is computed once, only the top k
and the maximum are kept) or, optionally, from an approximate FAISS inverted-file search (cosine
only), which also approximates each row's maximum by a search for the farthest item.
"""

from __future__ import annotations

import math

import torch
from tqdm.auto import tqdm

PAIR_BLOCK = 1 << 14  # listed pairs whose feature rows are gathered at once


class ItemFeatures:
    """The ``Q + G`` items, query first, with their squared norms, in float32 (float64 for float64)."""

    def __init__(self, query: torch.Tensor, gallery: torch.Tensor, metric: str):
        if metric not in ("euclidean", "cosine"):
            raise ValueError(f"metric: expected 'euclidean' or 'cosine', found {metric!r}")
        self.dtype = torch.float64 if gallery.dtype == torch.float64 else torch.float32
        self.query, self.gallery = query.to(self.dtype), gallery.to(self.dtype)  # no copy when already so
        self.metric = metric
        self.num_query, self.num_gallery = query.shape[0], gallery.shape[0]
        self.num_items = self.num_query + self.num_gallery
        self.device = gallery.device
        self.squared_norm = torch.cat([self.query.pow(2).sum(1), self.gallery.pow(2).sum(1)])
        self.inverse_norm = self.squared_norm.sqrt().clamp_min(1e-12).reciprocal()

    def rows(self, start: int, stop: int) -> torch.Tensor:
        """Features of items ``start .. stop - 1`` (a view unless the range spans both sets)."""
        q = self.num_query
        if stop <= q:
            return self.query[start:stop]
        if start >= q:
            return self.gallery[start - q : stop - q]
        return torch.cat([self.query[start:], self.gallery[: stop - q]])

    def gather(self, index: torch.Tensor) -> torch.Tensor:
        """Features of the listed items, (n, D)."""
        out = torch.empty((index.numel(), self.gallery.shape[1]), dtype=self.dtype, device=self.device)
        in_query = index < self.num_query
        out[in_query] = self.query[index[in_query]]
        out[~in_query] = self.gallery[index[~in_query] - self.num_query]
        return out

    def _finish(self, dot: torch.Tensor, rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        """Squared distances from dot products, in place; ``rows``/``columns`` index the items."""
        if self.metric == "cosine":
            scale = self.inverse_norm[rows][:, None] * -2
            dot.mul_(scale).mul_(self.inverse_norm[columns][None, :]).add_(2)
        else:
            dot.mul_(-2).add_(self.squared_norm[rows][:, None]).add_(self.squared_norm[columns][None, :])
        return dot.clamp_min_(0)

    def squared_distances(self, start: int, stop: int, gallery_only: bool = False) -> torch.Tensor:
        """(R, N) squared distances of items ``start .. stop - 1`` to every item, or (R, G) to the gallery."""
        rows = self.rows(start, stop)
        row_index = torch.arange(start, stop, device=self.device)
        if gallery_only:
            columns = torch.arange(self.num_query, self.num_items, device=self.device)
            return self._finish(rows @ self.gallery.T, row_index, columns)
        dot = torch.empty((stop - start, self.num_items), dtype=self.dtype, device=self.device)
        dot[:, : self.num_query] = rows @ self.query.T
        dot[:, self.num_query :] = rows @ self.gallery.T
        return self._finish(dot, row_index, torch.arange(self.num_items, device=self.device))

    def pair_squared_distances(self, rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        """Squared distances of the listed (row, column) item pairs only, gathered in blocks."""
        out = torch.empty(rows.numel(), dtype=self.dtype, device=self.device)
        for start in range(0, rows.numel(), PAIR_BLOCK):
            r, c = rows[start : start + PAIR_BLOCK], columns[start : start + PAIR_BLOCK]
            dot = (self.gather(r) * self.gather(c)).sum(1)
            if self.metric == "cosine":
                value = 2 - 2 * dot * self.inverse_norm[r] * self.inverse_norm[c]
            else:
                value = self.squared_norm[r] - 2 * dot + self.squared_norm[c]
            out[start : start + PAIR_BLOCK] = value.clamp_min_(0)
        return out


def exact_neighbours(
    items: ItemFeatures, k: int, chunk_size: int, progress: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, k) nearest items (the item itself first) and (N,) row maxima, from chunked distance rows."""
    neighbours = torch.empty((items.num_items, k), dtype=torch.long, device=items.device)
    row_max = torch.empty(items.num_items, dtype=items.dtype, device=items.device)
    for start in tqdm(
        range(0, items.num_items, chunk_size), desc="re-rank: neighbours", disable=not progress
    ):
        stop = min(start + chunk_size, items.num_items)
        distance = items.squared_distances(start, stop)  # (R, N)
        row_max[start:stop] = distance.max(1).values
        neighbours[start:stop] = torch.topk(distance, k, dim=1, largest=False).indices
        del distance
    return neighbours, row_max


def faiss_neighbours(
    items: ItemFeatures, k: int, chunk_size: int, progress: bool, nlist: int | None, nprobe: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Approximate ``exact_neighbours`` with a FAISS inverted-file index on the unit vectors.

    The row maximum is approximated by the farthest item found (the best inner product with the
    negated vector); both searches probe ``nprobe`` of ``nlist`` cells (default ~4 sqrt(N)).
    """
    import faiss  # optional dependency (the [faiss] extra), imported only when asked for

    if items.metric != "cosine":
        raise ValueError("neighbours: 'faiss' needs metric='cosine' (unit vectors); found metric='euclidean'")
    n, dim = items.num_items, items.gallery.shape[1]
    nlist = nlist or max(1, min(int(4 * math.sqrt(n)), n // 39))  # FAISS wants >= 39 training points a cell

    def unit_rows(start: int, stop: int):
        rows = items.rows(start, stop) * items.inverse_norm[start:stop, None]
        return rows.float().cpu().contiguous().numpy()

    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    sample = torch.randperm(n, generator=torch.Generator().manual_seed(0))[: min(n, 64 * nlist)]
    index.train(
        items.gather(sample.to(items.device)).mul_(items.inverse_norm[sample, None]).float().cpu().numpy()
    )
    for start in range(0, n, chunk_size):
        index.add(unit_rows(start, min(start + chunk_size, n)))
    index.nprobe = min(nprobe, nlist)
    neighbours = torch.empty((n, k), dtype=torch.long)
    row_max = torch.empty(n, dtype=items.dtype)
    for start in tqdm(range(0, n, chunk_size), desc="re-rank: neighbours (faiss)", disable=not progress):
        stop = min(start + chunk_size, n)
        rows = unit_rows(start, stop)
        _, nearest = index.search(rows, k)
        farthest, _ = index.search(-rows, 1)  # max(-x . y) = -(lowest cosine)
        if (nearest < 0).any():
            raise ValueError(
                f"neighbours: FAISS found fewer than {k} neighbours; raise nprobe (now {nprobe})"
            )
        neighbours[start:stop] = torch.from_numpy(nearest)
        row_max[start:stop] = torch.from_numpy(2 + 2 * farthest[:, 0]).to(items.dtype)
    return neighbours.to(items.device), row_max.clamp_min_(0).to(items.device)
