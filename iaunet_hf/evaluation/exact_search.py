"""Exact inner-product top-k over rows that grow by doubling: the search of ``GalleryIndex`` and of the in-memory
gallery (``iaunet_hf.retrieval``), and the finite-rows check both apply to what they store."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def check_finite(array: np.ndarray | torch.Tensor, name: str) -> None:
    """Refuses NaN/infinite rows: one such gallery row would otherwise be every query's top-1."""
    finite = torch.isfinite(array).all(1) if isinstance(array, torch.Tensor) else np.isfinite(array).all(1)
    bad_rows = np.flatnonzero(~np.asarray(finite))
    if bad_rows.size:
        shown = ", ".join(str(int(i)) for i in bad_rows[:10]) + (", ..." if bad_rows.size > 10 else "")
        raise ValueError(
            f"{name}: expected finite values, found {bad_rows.size} of {array.shape[0]} rows "
            f"with NaN or infinite values (rows {shown})"
        )


class GrowableRows:
    """A (capacity, dim) array and per-row columns grown by doubling: appends are amortised O(1)."""

    def __init__(self, dim: int, column_types: dict[str, Any]):
        self.size = 0
        self.vectors = np.empty((16, dim), dtype=np.float32)
        self.columns = {name: np.empty(16, dtype=dtype) for name, dtype in column_types.items()}

    def append(self, vectors: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        end = self.size + len(vectors)
        if end > len(self.vectors):
            capacity = max(end, 2 * len(self.vectors))
            self.vectors = _grown(self.vectors, capacity, self.size)
            self.columns = {
                name: _grown(values, capacity, self.size) for name, values in self.columns.items()
            }
        self.vectors[self.size : end] = vectors
        for name, values in columns.items():
            self.columns[name][self.size : end] = values
        self.size = end

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the rows where ``mask`` (over the current rows) is true."""
        self.vectors = self.vectors[: self.size][mask].copy()
        self.columns = {name: values[: self.size][mask].copy() for name, values in self.columns.items()}
        self.size = len(self.vectors)


def _grown(array: np.ndarray, capacity: int, used: int) -> np.ndarray:
    grown = np.empty((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[:used] = array[:used]
    return grown


def exact_top_k(
    queries: np.ndarray, vectors: np.ndarray, k: int, mask: np.ndarray | None = None, chunk_size: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """(similarities, positions), each (Q, min(k, kept rows)), of the most similar rows by inner product."""
    gallery = torch.from_numpy(vectors)
    allowed = None if mask is None else torch.from_numpy(mask)
    count = min(k, len(vectors) if mask is None else int(mask.sum()))
    similarities, positions = [], []
    for start in range(0, len(queries), chunk_size):
        scores = torch.from_numpy(queries[start : start + chunk_size]) @ gallery.T
        if allowed is not None:
            scores[:, ~allowed] = -torch.inf
        best = torch.topk(scores, count, dim=1)
        similarities.append(best.values.numpy())
        positions.append(best.indices.numpy())
    return np.concatenate(similarities), np.concatenate(positions)
