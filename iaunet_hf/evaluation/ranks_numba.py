"""Fused single-pass rank counting on the CPU with numba (the optional ``[fast]`` extra).

For each query the rank of a valid positive ``p`` (distance ``d_p``, gallery index ``p``) in the
stably ordered, filtered gallery is

    #{j : (d_j, j) < (d_p, p)}  -  #{same-camera junk entries j with (d_j, j) < (d_p, p)}

The first term is counted by one streaming pass over the row per group of four positives: in the
row segment before ``p`` the test is ``d_j <= d_p`` (written ``d_j < nextafter(d_p, inf)``), after it
``d_j < d_p``, so ties are broken by gallery index with one comparison per entry and threshold.
Comparisons are exact in the row's own dtype; the counts are summed as int32 inside blocks of
2**16 entries and as int64 across blocks. Queries with very many positives use a
per-entry binary search over the sorted positives instead (O(G log P) rather than O(G P / 4)).
No temporary scales with the gallery: the row is only read.

numba is imported only when this module is, so the package works without it (the torch kernel of
``metrics.py`` is the fallback).
"""

from __future__ import annotations

import numba
import numpy as np

# Entries counted in 32-bit lanes before the partial counts are added up in 64 bits.
BLOCK = 1 << 16
# Above this many positives a binary search per entry beats P / 4 passes over the row.
MANY_POSITIVES = 256


@numba.njit(cache=True, nogil=True)
def _count_non_finite(bits, exponent):
    """Entries whose exponent bits are all set (NaN or infinity), from the row viewed as integers."""
    total = 0
    for block in range(0, bits.shape[0], BLOCK):
        partial = np.int32(0)
        for j in range(block, min(block + BLOCK, bits.shape[0])):
            partial = np.int32(partial + ((bits[j] & exponent) == exponent))
        total += partial
    return total


@numba.njit(cache=True, nogil=True)
def _count_below(row, start, stop, e0, e1, e2, e3):
    """Numbers of entries of row[start:stop] strictly below each of four thresholds."""
    c0 = c1 = c2 = c3 = 0
    for block in range(start, stop, BLOCK):
        end = min(block + BLOCK, stop)
        f0 = f1 = f2 = f3 = np.int32(0)
        for j in range(block, end):
            v = row[j]
            # int32 sums of the comparisons (the casts keep the vector lanes 32-bit wide)
            f0 = np.int32(f0 + (v < e0))
            f1 = np.int32(f1 + (v < e1))
            f2 = np.int32(f2 + (v < e2))
            f3 = np.int32(f3 + (v < e3))
        c0 += int(f0)
        c1 += int(f1)
        c2 += int(f2)
        c3 += int(f3)
    return c0, c1, c2, c3


@numba.njit(cache=True, nogil=True)
def _entries_before_by_passes(row, distance, index, inf):
    """For positives sorted by (distance, index): #entries j of the row with (d_j, j) < (d_p, p)."""
    count = distance.shape[0]
    num_gallery = row.shape[0]
    before = np.zeros(count, np.int64)
    d = np.empty(4, row.dtype)
    up = np.empty(4, row.dtype)
    p = np.empty(4, np.int64)
    thresholds = np.empty(4, row.dtype)
    totals = np.zeros(4, np.int64)
    for k0 in range(0, count, 4):
        for t in range(4):
            k = min(k0 + t, count - 1)  # the last group is padded by repeating a positive
            d[t] = distance[k]
            up[t] = np.nextafter(distance[k], inf)
            p[t] = index[k]
            totals[t] = 0
        cuts = np.sort(p) + 1
        start = 0
        for s in range(5):
            stop = cuts[s] if s < 4 else num_gallery
            if stop > start:
                for t in range(4):
                    # positive in or after this segment: its earlier entries count on ties
                    thresholds[t] = up[t] if p[t] >= start else d[t]
                c0, c1, c2, c3 = _count_below(
                    row, start, stop, thresholds[0], thresholds[1], thresholds[2], thresholds[3]
                )
                totals[0] += c0
                totals[1] += c1
                totals[2] += c2
                totals[3] += c3
                start = stop
        for t in range(4):
            if k0 + t < count:
                before[k0 + t] = totals[t] - 1  # the positive counted itself (d_p <= d_p)
    return before


@numba.njit(cache=True, nogil=True)
def _entries_before_by_search(row, distance, index):
    """The same counts by a binary search of each entry among the sorted positives."""
    count = distance.shape[0]
    starts_before = np.zeros(count + 1, np.int64)  # entries preceding positives k.. onwards
    for j in range(row.shape[0]):
        v = row[j]
        k = np.searchsorted(distance, v)  # positives with d_p < v are not preceded by j
        while k < count and distance[k] == v and index[k] <= j:
            k += 1
        starts_before[k] += 1
    return np.cumsum(starts_before)[:count]


@numba.njit(parallel=True, cache=True, nogil=True)
def query_statistics_kernel(
    distances,
    bits,
    exponent,
    query_group,
    query_camids,
    group_start,
    member_order,
    gallery_camids,
    camera_filter,
    trapezoid,
    inf,
    average_precision,
    inverse_negative_penalty,
    first_match_rank,
    num_positives,
    finite,
):
    """Per-query AP, INP, first-match rank, positive count and finiteness of a block of rows."""
    for i in numba.prange(distances.shape[0]):
        average_precision[i] = 0.0
        inverse_negative_penalty[i] = 0.0
        first_match_rank[i] = 0
        num_positives[i] = 0
        row = distances[i]
        finite[i] = _count_non_finite(bits[i], exponent) == 0
        group = query_group[i]
        if group < 0 or not finite[i]:
            continue
        size = group_start[group + 1] - group_start[group]
        positive_index = np.empty(size, np.int64)
        junk_index = np.empty(size, np.int64)
        count = 0
        junk = 0
        camid = query_camids[i]
        for slot in range(group_start[group], group_start[group + 1]):
            j = member_order[slot]
            if camera_filter and camid != -1 and gallery_camids[j] == camid:
                junk_index[junk] = j
                junk += 1
            else:
                positive_index[count] = j
                count += 1
        if count == 0:
            continue
        positive_index = positive_index[:count]
        positive_distance = np.empty(count, distances.dtype)
        for k in range(count):
            positive_distance[k] = row[positive_index[k]]
        order = np.argsort(positive_distance, kind="mergesort")  # stable: index order breaks ties
        positive_distance = positive_distance[order]
        positive_index = positive_index[order]
        if count > MANY_POSITIVES:
            before = _entries_before_by_search(row, positive_distance, positive_index)
        else:
            before = _entries_before_by_passes(row, positive_distance, positive_index, inf[0])
        total = 0.0
        for k in range(count):
            rank = before[k]
            for t in range(junk):  # same-camera junk is not part of the filtered gallery
                value = row[junk_index[t]]
                if value < positive_distance[k] or (
                    value == positive_distance[k] and junk_index[t] < positive_index[k]
                ):
                    rank -= 1
            before[k] = rank
            precision = (k + 1) / (rank + 1)
            if trapezoid:
                earlier = k / rank if rank > 0 else 1.0
                total += (earlier + precision) / 2
            else:
                total += precision
        average_precision[i] = total / count
        inverse_negative_penalty[i] = count / (before[count - 1] + 1)
        first_match_rank[i] = before[0]
        num_positives[i] = count
