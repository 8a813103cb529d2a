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

from .query_statistics import numba_available

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
        # in slices of 4096 rows, so that the squares never exist as a whole
        self.squared_norm = torch.cat(
            [
                part[s : s + 4096].pow(2).sum(1)
                for part in (self.query, self.gallery)
                for s in range(0, len(part), 4096)
            ]
        )
        self.inverse_norm = self.squared_norm.sqrt().clamp_min(1e-12).reciprocal()
        self.use_numba = (
            self.device.type == "cpu"
            and numba_available()
            and self.query.is_contiguous()
            and self.gallery.is_contiguous()
        )

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

    def block_squared_distances(self, start: int, stop: int, column: int, column_stop: int) -> torch.Tensor:
        """(R, C) squared distances of items ``start .. stop - 1`` to items ``column .. column_stop - 1``."""
        dot = self.rows(start, stop) @ self.rows(column, column_stop).T
        rows = torch.arange(start, stop, device=self.device)
        return self._finish(dot, rows, torch.arange(column, column_stop, device=self.device))

    def _pair_dots(self, rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        """Dot products of the listed pairs: with numba on the CPU (no gathered copies), else gathered."""
        if self.use_numba:
            from .pair_dots_numba import pair_dots  # optional dependency: numba

            return pair_dots(self.query, self.gallery, rows.contiguous(), columns.contiguous())
        return (self.gather(rows) * self.gather(columns)).sum(1)

    def pair_squared_distances(
        self,
        rows: torch.Tensor,
        columns: torch.Tensor,
        known_index: torch.Tensor | None = None,
        known_distance: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Squared distances of the listed (row, column) item pairs only.

        Pairs found in the rows' neighbour lists (``known_index``/``known_distance``, (N, K)) are
        looked up; the others are computed from their gathered feature rows, in blocks.
        """
        if known_index is not None and self.use_numba:
            from .pair_dots_numba import known_lookup  # optional dependency: numba

            looked_up = known_lookup(rows, columns, known_index, known_distance)
            missing = looked_up.isnan().nonzero()[:, 0]
            looked_up[missing] = self.pair_squared_distances(rows[missing], columns[missing])
            return looked_up
        if known_index is not None:
            match = known_index[rows] == columns[:, None]  # (P, K)
            found = match.any(1)
            looked_up = known_distance[rows, match.to(torch.int8).argmax(1)]
            missing = (~found).nonzero()[:, 0]
            looked_up[missing] = self.pair_squared_distances(rows[missing], columns[missing])
            return looked_up
        out = torch.empty(rows.numel(), dtype=self.dtype, device=self.device)
        for start in range(0, rows.numel(), PAIR_BLOCK):
            r, c = rows[start : start + PAIR_BLOCK], columns[start : start + PAIR_BLOCK]
            dot = self._pair_dots(r, c)
            if self.metric == "cosine":
                value = 2 - 2 * dot * self.inverse_norm[r] * self.inverse_norm[c]
            else:
                value = self.squared_norm[r] - 2 * dot + self.squared_norm[c]
            out[start : start + PAIR_BLOCK] = value.clamp_min_(0)
        return out


def exact_neighbours(
    items: ItemFeatures, k: int, chunk_size: int, progress: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(N, k) nearest items (the item itself first), their squared distances and (N,) row maxima, exactly.

    The squared distances are symmetric, so only the blocks on and above the diagonal are computed
    (half the N x N product); each block updates the running top k and maxima of its rows and,
    transposed, of its columns. Blocks are ``8 * chunk_size`` items wide.
    """
    n, width = items.num_items, max(8 * chunk_size, k)
    best_distance = torch.full((n, k), float("inf"), dtype=items.dtype, device=items.device)
    best_index = torch.zeros((n, k), dtype=torch.long, device=items.device)
    row_max = torch.zeros(n, dtype=items.dtype, device=items.device)

    def update(rows: slice, distance: torch.Tensor, column_start: int) -> None:
        row_max[rows] = torch.maximum(row_max[rows], distance.max(1).values)
        values, index = torch.topk(distance, min(k, distance.shape[1]), dim=1, largest=False)
        values = torch.cat([best_distance[rows], values], dim=1)
        index = torch.cat([best_index[rows], index + column_start], dim=1)
        keep = torch.topk(values, k, dim=1, largest=False).indices
        best_distance[rows] = values.gather(1, keep)
        best_index[rows] = index.gather(1, keep)

    starts = range(0, n, width)
    for first in tqdm(starts, desc="re-rank: neighbours", disable=not progress):
        stop = min(first + width, n)
        for column in range(first, n, width):
            column_stop = min(column + width, n)
            distance = items.block_squared_distances(first, stop, column, column_stop)
            update(slice(first, stop), distance, column)
            if column != first:  # a contiguous transpose: topk along strided rows is twice as slow
                update(slice(column, column_stop), distance.T.contiguous(), first)
            del distance
    # the final lists in ascending distance
    best_distance, order = torch.sort(best_distance, dim=1, stable=True)
    return best_index.gather(1, order), best_distance, row_max


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
