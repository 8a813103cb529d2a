"""The gallery grouped by identity once, so each query finds its positives without scanning the gallery."""

from __future__ import annotations

import torch

from .arrays import ArrayLike, as_labels


class GalleryIdentities:
    """Gallery pids/camids grouped by identity, so a query finds its positives without a row scan.

    Compressed rows: ``member_order[group_start[u]:group_start[u + 1]]`` lists, in increasing
    gallery index, the entries whose pid is ``pids[u]``. Built once with one stable sort of the
    gallery pids; its size is the gallery's, whatever the largest identity.
    """

    def __init__(self, g_pids: ArrayLike, g_camids: ArrayLike, device: torch.device | None = None):
        device = torch.device("cpu") if device is None else device
        self.g_pids = as_labels(g_pids, "g_pids", None, device)
        self.g_camids = as_labels(g_camids, "g_camids", self.g_pids.numel(), device)
        self.num_gallery = self.g_pids.numel()
        self.member_order = torch.sort(self.g_pids, stable=True).indices
        self.pids, self.counts = torch.unique_consecutive(self.g_pids[self.member_order], return_counts=True)
        self.group_start = torch.zeros(self.pids.numel() + 1, dtype=torch.long, device=device)
        self.group_start[1:] = torch.cumsum(self.counts, 0)

    def groups(self, q_pids: torch.Tensor) -> torch.Tensor:
        """(Q,) index into ``pids`` of each query's identity, -1 where the gallery lacks it."""
        if self.pids.numel() == 0:
            return torch.full_like(q_pids, -1)
        group = torch.searchsorted(self.pids, q_pids).clamp(max=self.pids.numel() - 1)
        return torch.where(self.pids[group] == q_pids, group, -1)

    def candidates(self, q_pids: torch.Tensor) -> torch.Tensor:
        """Gallery indices sharing each query's pid, (Q, M) padded with -1 (M = the queries' largest group)."""
        group = self.groups(q_pids)
        found = group >= 0
        group = group.clamp(min=0)
        count = torch.where(found, self.counts[group], 0) if self.pids.numel() else torch.zeros_like(group)
        width = int(count.max()) if q_pids.numel() else 0
        slot = torch.arange(width, device=q_pids.device)
        inside = slot[None, :] < count[:, None]
        position = (self.group_start[group][:, None] + slot[None, :]).clamp(max=max(self.num_gallery - 1, 0))
        return torch.where(inside, self.member_order[position], -1)
