"""Rank counting in plain torch (CPU or GPU): the fallback where the numba kernel is unavailable.

Only the ranks of the positives matter, so for each valid positive this counts how many valid
gallery entries precede it. The counting uses a per-row histogram whose bin edges are fixed by the
positives' distance range: entries in lower bins precede, entries in higher bins follow, and only
the few entries that share a bin with a positive are compared exactly. All steps are elementwise or
scatter operations, linear in the gallery size, with about 20 bytes of temporaries per element.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .gallery_identities import GalleryIdentities


@dataclass
class SortedPositives:
    """Each query's valid positives sorted by (distance, gallery index), padded to width P."""

    candidate: torch.Tensor  # (Q, M) same-pid gallery indices, 0 where padded
    is_member: torch.Tensor  # (Q, M) real same-pid entries (positives and same-camera junk)
    candidate_distance: torch.Tensor  # (Q, M)
    distance: torch.Tensor  # (Q, P) ascending, +inf padded
    index: torch.Tensor  # (Q, P) gallery index of each positive
    valid: torch.Tensor  # (Q, P) slot < number of positives
    count: torch.Tensor  # (Q,)


def sorted_positives(
    distances: torch.Tensor,
    q_pids: torch.Tensor,
    q_camids: torch.Tensor,
    gallery: GalleryIdentities,
    camera_filter: bool,
) -> SortedPositives:
    """Gathers the few same-pid entries of each row and sorts the valid positives."""
    candidate = gallery.candidates(q_pids)  # (Q, M) same-pid gallery indices, -1 padded
    is_member = candidate >= 0
    candidate = candidate.clamp(min=0)
    is_positive = is_member
    if camera_filter:  # same pid seen by the same (known) camera is junk, not a positive
        same_camera = (gallery.g_camids[candidate] == q_camids[:, None]) & (q_camids[:, None] != -1)
        is_positive = is_member & ~same_camera
    count = is_positive.sum(1)
    width = int(count.max()) if count.numel() else 0
    # candidates are in increasing index order, so a stable sort on distance breaks ties by index
    inf = torch.tensor(float("inf"), dtype=distances.dtype, device=distances.device)
    candidate_distance = distances.gather(1, candidate)  # (Q, M)
    distance, order = torch.sort(torch.where(is_positive, candidate_distance, inf), dim=1, stable=True)
    slot = torch.arange(width, device=distances.device)
    return SortedPositives(
        candidate=candidate,
        is_member=is_member,
        candidate_distance=candidate_distance,
        distance=distance[:, :width],
        index=candidate.gather(1, order[:, :width]),
        valid=slot[None, :] < count[:, None],
        count=count,
    )


class MonotoneBinning:
    """Per-row bins spanning the row's positive range: bin(d) = trunc(clamp(d * scale + offset, 0, B + 3)).

    With offset = 1.5 - lowest * scale the positives fall in bins 1 .. B + 1 (half a bin from the
    edges whatever the rounding); bin 0 holds entries well below the lowest positive and bin B + 3
    entries well above the highest. Correctly rounded multiply-add, clamp and truncation are
    monotone, so d < d' implies bin(d) <= bin(d'): an entry in a lower bin than a positive precedes
    it and one in a higher bin follows it. The same function bins every value, which is all the
    argument needs; only entries sharing a positive's bin need an exact comparison.
    """

    def __init__(self, positives: SortedPositives, num_bins: int):
        self.num_bins = num_bins
        self.width = num_bins + 5  # bins 0 .. B + 3, then a trash column for padding
        self.trash = self.width - 1
        last = (positives.count - 1).clamp(min=0)
        has_positive = positives.count > 0
        lowest = torch.where(has_positive, positives.distance[:, 0], 0)
        highest = torch.where(has_positive, positives.distance.gather(1, last[:, None])[:, 0], 0)
        # a floor on the spread keeps scale and offset finite when all of a row's positives tie
        spread = torch.maximum(highest - lowest, lowest.abs().clamp_min(1.0) * 1e-6)
        scale = num_bins / spread
        self.scale = scale[:, None]
        self.offset = (1.5 - lowest * scale)[:, None]

    def __call__(self, values: torch.Tensor) -> torch.Tensor:
        # values (Q, K) -> bins (Q, K) int64: one fused pass, a clamp, a conversion
        return torch.addcmul(self.offset, values, self.scale).clamp_(0, self.num_bins + 3).to(torch.int64)


def negatives_in_lower_bins(
    entry_bin: torch.Tensor, positives: SortedPositives, positive_bin: torch.Tensor, binning: MonotoneBinning
) -> torch.Tensor:
    """(Q, P) number of negatives whose bin is below each positive's, from a per-row histogram."""
    num_queries, device = entry_bin.shape[0], entry_bin.device
    histogram = torch.zeros((num_queries, binning.width), dtype=torch.int32, device=device)
    ones = torch.ones((1, 1), dtype=torch.int32, device=device).expand_as(entry_bin)
    histogram.scatter_add_(1, entry_bin, ones)
    # remove the same-pid entries (positives and same-camera junk): the histogram keeps negatives
    member_bin = torch.where(positives.is_member, binning(positives.candidate_distance), binning.trash)
    histogram.scatter_add_(1, member_bin, torch.full_like(member_bin, -1, dtype=torch.int32))
    below = torch.cumsum(histogram, 1, dtype=torch.int32) - histogram  # exclusive prefix sum (Q, W)
    return below.gather(1, positive_bin).long()


def negatives_earlier_in_same_bin(
    distances: torch.Tensor,
    q_pids: torch.Tensor,
    gallery: GalleryIdentities,
    entry_bin: torch.Tensor,
    positives: SortedPositives,
    positive_bin: torch.Tensor,
    binning: MonotoneBinning,
) -> torch.Tensor:
    """(Q, P) number of negatives in each positive's own bin that precede it in (distance, index) order.

    The negatives found in positive bins and the positives are sorted together by (row, bin,
    distance, gallery index) with three stable sorts (least significant key first); a positive's
    count is the number of negatives before it within its (row, bin) group.
    """
    device = distances.device
    shares_bin = torch.zeros((distances.shape[0], binning.width), dtype=torch.bool, device=device)
    shares_bin.scatter_(1, positive_bin, True)
    shares_bin[:, binning.trash] = False
    negative_row, negative_col = shares_bin.gather(1, entry_bin).nonzero(as_tuple=True)
    is_negative = gallery.g_pids[negative_col] != q_pids[negative_row]
    negative_row, negative_col = negative_row[is_negative], negative_col[is_negative]
    positive_row, positive_slot = positives.valid.nonzero(as_tuple=True)
    num_negatives = negative_row.numel()
    group = torch.cat(
        [
            negative_row * binning.width + entry_bin[negative_row, negative_col],
            positive_row * binning.width + positive_bin[positive_row, positive_slot],
        ]
    )
    value = torch.cat(
        [distances[negative_row, negative_col], positives.distance[positive_row, positive_slot]]
    )
    index = torch.cat([negative_col, positives.index[positive_row, positive_slot]])
    negative_flag = torch.cat([torch.ones_like(negative_row), torch.zeros_like(positive_row)])
    order = torch.sort(index, stable=True).indices
    order = order[torch.sort(value[order], stable=True).indices]
    order = order[torch.sort(group[order], stable=True).indices]
    group, negative_flag = group[order], negative_flag[order]
    negatives_before = torch.cumsum(negative_flag, 0) - negative_flag
    position = torch.arange(group.numel(), device=device)
    starts_group = torch.ones_like(group, dtype=torch.bool)
    starts_group[1:] = group[1:] != group[:-1]
    group_start = torch.cummax(torch.where(starts_group, position, 0), 0).values
    within_bin = negatives_before - negatives_before[group_start]
    is_positive_entry = order >= num_negatives
    source = order[is_positive_entry] - num_negatives  # position in the positive list
    counts = torch.zeros_like(positive_bin)
    counts[positive_row[source], positive_slot[source]] = within_bin[is_positive_entry]
    return counts


def positive_ranks(
    distances: torch.Tensor,
    q_pids: torch.Tensor,
    q_camids: torch.Tensor,
    gallery: GalleryIdentities,
    camera_filter: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """0-based ranks of each query's valid positives in its filtered, stably ordered gallery.

    Returns ``ranks`` (Q, P) int64, ascending per row, and ``num_positives`` (Q,); entries at or
    beyond ``num_positives`` are padding (undefined). rank = (positives before: the slot) +
    (negatives in lower bins) + (negatives earlier in the same bin).
    """
    positives = sorted_positives(distances, q_pids, q_camids, gallery, camera_filter)
    width = positives.distance.shape[1]
    if width == 0:
        return torch.zeros(
            (distances.shape[0], 0), dtype=torch.long, device=distances.device
        ), positives.count
    binning = MonotoneBinning(positives, num_bins=max(16, distances.shape[1] // 8))
    entry_bin = binning(distances)  # (Q, G)
    positive_bin = torch.where(positives.valid, binning(positives.distance), binning.trash)  # (Q, P)
    preceding = negatives_in_lower_bins(entry_bin, positives, positive_bin, binning)
    preceding += negatives_earlier_in_same_bin(
        distances, q_pids, gallery, entry_bin, positives, positive_bin, binning
    )
    slot = torch.arange(width, device=distances.device)
    return slot[None, :] + preceding, positives.count
