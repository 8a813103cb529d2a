"""Sparse COO/CSR helpers of the re-ranking: torch's CSR layout is beta and warns, so rows are walked by hand."""

from __future__ import annotations

import torch


def sparse_coo(
    rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor, shape: tuple[int, int]
) -> torch.Tensor:
    """COO triplets -> a coalesced sparse COO matrix (duplicates summed, entries in row order)."""
    indices = torch.stack([rows, cols])
    return torch.sparse_coo_tensor(indices, values, shape, check_invariants=False).coalesce()


def compressed_rows(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Row pointers, column indices and values of a coalesced COO matrix (CSR arrays).

    Built by hand from the coalesced COO form, whose entries are already in row order; torch's
    CSR layout is still flagged beta and warns on every conversion.
    """
    rows, cols = matrix.indices()
    counts = torch.bincount(rows, minlength=matrix.shape[0])
    row_start = torch.zeros(matrix.shape[0] + 1, dtype=torch.long, device=rows.device)
    row_start[1:] = torch.cumsum(counts, 0)
    return row_start, cols, matrix.values()


def row_segments(row_start: torch.Tensor, selected: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
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
