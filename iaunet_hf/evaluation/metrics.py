"""Exact re-identification metrics (mAP, mINP, CMC) without sorting whole gallery rows.

The established evaluators argsort every query's distance row (O(G log G) per query). Only the
ranks of the positives matter, so this module counts, for each valid positive, how many valid
gallery entries precede it. The counting is done with a per-row histogram whose bin edges are
fixed by the positives' distance range: entries in lower bins precede, entries in higher bins
follow, and only the few entries that share a bin with a positive are compared exactly. All steps
are elementwise or scatter operations in torch (CPU or GPU), linear in the gallery size.

Protocol (standard Market-1501 / torchreid form): for each query, gallery entries with the same
pid *and* the same camid are removed; queries left with no positive are skipped and counted.

Ties: the gallery is ordered by ``(distance, gallery index)``, i.e. a stable sort. An entry with
the same distance as a positive but a smaller gallery index ranks before it. On tie-free inputs
this equals every argsort-based evaluator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor
APMode = Literal["standard", "trapezoid"]

# Elements of the (queries x gallery) block processed at once; bounds the temporary memory
# (about 20 bytes per element) independently of the gallery size.
DEFAULT_CHUNK_ELEMENTS = 1 << 23


def as_tensor(values: ArrayLike, name: str, device: torch.device | None = None) -> torch.Tensor:
    """Turns a numpy array, torch tensor or sequence into a tensor without copying when possible."""
    if isinstance(values, torch.Tensor):
        tensor = values
    elif isinstance(values, np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(values))
    else:
        try:
            tensor = torch.as_tensor(np.asarray(values))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name}: expected an array or tensor, found {type(values).__name__}") from error
    return tensor if device is None else tensor.to(device)


def as_labels(values: ArrayLike, name: str, length: int | None, device: torch.device) -> torch.Tensor:
    labels = as_tensor(values, name, device)
    if labels.dim() != 1:
        raise ValueError(f"{name}: expected a 1-D array, found shape {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"{name}: expected integer labels, found dtype {labels.dtype}")
    if length is not None and labels.numel() != length:
        raise ValueError(
            f"{name}: expected {length} entries to match the distance matrix, found {labels.numel()}"
        )
    return labels.long()


class GalleryIdentities:
    """Gallery pids/camids grouped by identity, so a query finds its positives without a row scan.

    ``members[u]`` lists (in increasing gallery index, padded with -1) the gallery entries whose pid
    is ``pids[u]``; built once with one stable sort of the gallery pids.
    """

    def __init__(self, g_pids: ArrayLike, g_camids: ArrayLike, device: torch.device | None = None):
        device = torch.device("cpu") if device is None else device
        self.g_pids = as_labels(g_pids, "g_pids", None, device)
        self.g_camids = as_labels(g_camids, "g_camids", self.g_pids.numel(), device)
        self.num_gallery = self.g_pids.numel()
        order = torch.sort(self.g_pids, stable=True).indices
        self.pids, counts = torch.unique_consecutive(self.g_pids[order], return_counts=True)
        self.counts = counts
        max_count = int(counts.max()) if counts.numel() else 0
        starts = torch.cumsum(counts, 0) - counts
        # members: (num_identities, max_count) gallery indices, -1 padded
        slot = torch.arange(max_count, device=device)
        position = starts[:, None] + slot[None, :]
        inside = slot[None, :] < counts[:, None]
        self.members = torch.where(inside, order[position.clamp(max=max(self.num_gallery - 1, 0))], -1)

    def candidates(self, q_pids: torch.Tensor) -> torch.Tensor:
        """Gallery indices sharing each query's pid, (Q, M) padded with -1 (M = largest group)."""
        if self.pids.numel() == 0:
            return torch.full((q_pids.numel(), 0), -1, dtype=torch.long, device=q_pids.device)
        group = torch.searchsorted(self.pids, q_pids).clamp(max=self.pids.numel() - 1)
        found = self.pids[group] == q_pids
        width = int(torch.where(found, self.counts[group], 0).max()) if q_pids.numel() else 0
        members = self.members[group, :width]
        return torch.where(found[:, None], members, -1)


@dataclass
class QueryStatistics:
    """Per-query results of one chunk; ``valid`` marks queries with at least one positive."""

    average_precision: torch.Tensor  # (Q,) float64
    inverse_negative_penalty: torch.Tensor  # (Q,) float64
    first_match_rank: torch.Tensor  # (Q,) int64, 0-based rank of the first positive
    valid: torch.Tensor  # (Q,) bool


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
    distances: torch.Tensor, q_pids: torch.Tensor, q_camids: torch.Tensor, gallery: GalleryIdentities
) -> SortedPositives:
    """Gathers the few same-pid entries of each row and sorts the valid positives."""
    candidate = gallery.candidates(q_pids)  # (Q, M) same-pid gallery indices, -1 padded
    is_member = candidate >= 0
    candidate = candidate.clamp(min=0)
    is_positive = is_member & (gallery.g_camids[candidate] != q_camids[:, None])
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
    distances: torch.Tensor, q_pids: torch.Tensor, q_camids: torch.Tensor, gallery: GalleryIdentities
) -> tuple[torch.Tensor, torch.Tensor]:
    """0-based ranks of each query's valid positives in its filtered, stably ordered gallery.

    Returns ``ranks`` (Q, P) int64, ascending per row, and ``num_positives`` (Q,); entries at or
    beyond ``num_positives`` are padding (undefined). rank = (positives before: the slot) +
    (negatives in lower bins) + (negatives earlier in the same bin).
    """
    positives = sorted_positives(distances, q_pids, q_camids, gallery)
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


def query_statistics(
    distances: torch.Tensor,
    q_pids: torch.Tensor,
    q_camids: torch.Tensor,
    gallery: GalleryIdentities,
    ap: APMode = "standard",
) -> QueryStatistics:
    """AP, INP and first-match rank of each query in a block of the distance matrix."""
    # a sum is one cheap reduction; the elementwise check runs only when it is not finite
    if not torch.isfinite(distances.sum()) and not torch.isfinite(distances).all():
        raise ValueError("distmat: expected finite distances, found NaN or infinite values")
    ranks, num_positives = positive_ranks(distances, q_pids, q_camids, gallery)
    valid = num_positives > 0
    width = ranks.shape[1]
    if width == 0:
        zeros = torch.zeros(distances.shape[0], dtype=torch.float64, device=distances.device)
        return QueryStatistics(zeros, zeros.clone(), torch.zeros_like(num_positives), valid)
    slot = torch.arange(width, device=distances.device)
    positive_valid = slot[None, :] < num_positives[:, None]
    found = (slot + 1).double()[None, :]  # positives retrieved up to and including this one
    position = ranks.double() + 1  # 1-based rank
    precision = found / position
    if ap == "standard":
        contribution = precision
    else:
        # Official Market-1501 code: average of the precision just before and at each positive.
        before = torch.where(ranks > 0, (found - 1) / ranks.clamp(min=1).double(), torch.ones_like(found))
        contribution = (before + precision) / 2
    count = num_positives.clamp(min=1).double()
    average_precision = torch.where(positive_valid, contribution, 0).sum(1) / count
    hardest = ranks.gather(1, (num_positives - 1).clamp(min=0)[:, None])[:, 0]
    inverse_negative_penalty = num_positives.double() / (hardest.double() + 1)
    return QueryStatistics(average_precision, inverse_negative_penalty, ranks[:, 0], valid)


def summarize(statistics: list[QueryStatistics], max_rank: int) -> dict:
    """Averages per-query statistics over the valid queries into the metric dict."""
    valid = torch.cat([s.valid for s in statistics]).cpu()
    num_valid = int(valid.sum())
    num_queries = valid.numel()
    if num_valid == 0:
        raise ValueError(
            f"no query has a valid positive in the gallery (0 of {num_queries} queries): "
            "expected at least one gallery entry with the query's pid seen from another camera"
        )
    ap = torch.cat([s.average_precision for s in statistics]).cpu()[valid]
    inp = torch.cat([s.inverse_negative_penalty for s in statistics]).cpu()[valid]
    first = torch.cat([s.first_match_rank for s in statistics]).cpu()[valid]
    hits = torch.bincount(first.clamp(max=max_rank), minlength=max_rank + 1)[:max_rank]
    cmc = torch.cumsum(hits, 0).double().numpy() / num_valid
    return {
        "mAP": float(ap.mean()),
        "mINP": float(inp.mean()),
        "cmc": cmc,
        "num_valid_queries": num_valid,
        "num_skipped_queries": num_queries - num_valid,
    }


def check_ap_mode(ap: str, max_rank: int) -> None:
    if ap not in ("standard", "trapezoid"):
        raise ValueError(f"ap: expected 'standard' or 'trapezoid', found {ap!r}")
    if not isinstance(max_rank, int) or max_rank < 1:
        raise ValueError(f"max_rank: expected a positive integer, found {max_rank!r}")


def evaluate_reid(
    distmat: ArrayLike,
    q_pids: ArrayLike,
    g_pids: ArrayLike,
    q_camids: ArrayLike,
    g_camids: ArrayLike,
    max_rank: int = 50,
    ap: APMode = "standard",
    chunk_size: int | None = None,
) -> dict:
    """mAP, mINP and CMC of a (num_query, num_gallery) distance matrix under the Market-1501 protocol.

    Accepts numpy arrays or torch tensors (CPU or GPU; the work runs where ``distmat`` lives).
    ``ap="standard"`` is the non-interpolated AP every toolbox reports; ``ap="trapezoid"`` is the
    official Market-1501 evaluation code's trapezoid-rule AP. Ties are ordered by gallery index.
    ``chunk_size`` is the number of query rows processed at once (default: about 8M elements).

    Returns ``{"mAP", "mINP", "cmc" (numpy, length max_rank), "num_valid_queries",
    "num_skipped_queries"}``; ``cmc[k]`` is the fraction of valid queries matched within the top k+1.
    """
    check_ap_mode(ap, max_rank)
    distances = as_tensor(distmat, "distmat")
    if distances.dim() != 2:
        raise ValueError(
            f"distmat: expected a 2-D (num_query, num_gallery) matrix, found {tuple(distances.shape)}"
        )
    if not distances.is_floating_point():
        distances = distances.double()
    elif distances.dtype in (torch.float16, torch.bfloat16):
        distances = distances.float()
    num_queries, num_gallery = distances.shape
    device = distances.device
    query_pids = as_labels(q_pids, "q_pids", num_queries, device)
    query_camids = as_labels(q_camids, "q_camids", num_queries, device)
    gallery_pids = as_labels(g_pids, "g_pids", num_gallery, device)
    gallery = GalleryIdentities(gallery_pids, g_camids, device)
    if chunk_size is None:
        chunk_size = max(1, DEFAULT_CHUNK_ELEMENTS // max(num_gallery, 1))
    statistics = []
    for start in range(0, num_queries, chunk_size):
        stop = start + chunk_size
        statistics.append(
            query_statistics(
                distances[start:stop], query_pids[start:stop], query_camids[start:stop], gallery, ap
            )
        )
    if not statistics:
        raise ValueError("distmat: expected at least one query row, found 0")
    return summarize(statistics, max_rank)
