"""The standard reID protocol through a gallery: each query searches with a filter that removes its junk (same
pid seen by the same camera), and mAP/CMC/mINP come from the exact-refined top-k; the same features evaluated
exactly (all pairs, ``evaluate_reid_features``) give what the ANN costs.

From a top-k list, AP counts positives beyond rank k as missed and INP places the hardest positive at the end
of the gallery when it is not in the top-k: from an exact top-k both are lower bounds of the full-ranking values,
equal to them once every positive is retrieved, and CMC is exact up to rank k. An ANN top-k can also miss hard
negatives, which moves the positives up: then the metrics can read above the exact ones (3.3 mAP above on the
benchmark's Market-shaped set with HNSW at ef 600), so the exact evaluation is printed beside them.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from ..evaluation.distances import evaluate_reid_features
from ..evaluation.extraction import extract_features
from ..evaluation.metrics import summarize
from ..evaluation.query_statistics import QueryStatistics
from .gallery import Gallery
from .uri import open_gallery

NOT_FOUND = 1 << 30  # first-match rank of a query whose positives are all beyond the top-k


def gallery_labels(gallery: Gallery, with_vectors: bool) -> dict[str, np.ndarray]:
    """The gallery's pid and camid columns (and vectors when asked), in one scan."""
    names = ["pid", "camid", *(["vector"] if with_vectors else [])]
    batches = list(gallery.batches(100_000))
    return {name: np.concatenate([batch[name] for batch in batches]) for name in names}


def top_k_statistics(matches: np.ndarray, positives: np.ndarray, candidates: np.ndarray) -> QueryStatistics:
    """Per-query AP, INP and first-match rank of (Q, k) match flags, knowing each query's positive count."""
    ranks = np.arange(1, matches.shape[1] + 1)
    found = np.cumsum(matches, axis=1)
    safe = np.maximum(positives, 1)
    average_precision = (matches * found / ranks).sum(1) / safe
    all_found = found[:, -1] == positives
    last = np.where(matches.any(1), matches.shape[1] - np.argmax(matches[:, ::-1], axis=1), 0)
    hardest = np.where(all_found, last, np.maximum(candidates, 1))
    first = np.where(matches.any(1), np.argmax(matches, axis=1), NOT_FOUND)
    return QueryStatistics(
        average_precision=torch.from_numpy(average_precision.astype(np.float64)),
        inverse_negative_penalty=torch.from_numpy((positives / np.maximum(hardest, 1)).astype(np.float64)),
        first_match_rank=torch.from_numpy(first.astype(np.int64)),
        valid=torch.from_numpy(positives > 0),
    )


def evaluate_through_gallery(
    gallery: Gallery,
    query_features: torch.Tensor,
    q_pids: np.ndarray,
    q_camids: np.ndarray,
    k: int = 100,
    max_rank: int = 50,
    camera_filter: bool = True,
    compare_exact: bool = True,
    **search_params: Any,
) -> dict[str, Any]:
    """``evaluate_reid``'s dict from the gallery's top-k, plus ``exact`` (the all-pairs metrics on the same
    features, when ``compare_exact``) and the seconds each took."""
    if k < max_rank:
        raise ValueError(f"k: expected at least max_rank ({max_rank}) neighbours per query, found {k}")
    q_pids, q_camids = np.asarray(q_pids, np.int64), np.asarray(q_camids, np.int64)
    labels = gallery_labels(gallery, compare_exact)
    junk = (labels["pid"][None, :] == q_pids[:, None]) & (labels["camid"][None, :] == q_camids[:, None])
    if not camera_filter:
        junk[:] = False
    positives = ((labels["pid"][None, :] == q_pids[:, None]) & ~junk).sum(1)
    filters = (
        [f"NOT (pid = {p} AND camid = {c})" for p, c in zip(q_pids, q_camids)] if camera_filter else None
    )
    start = time.perf_counter()
    hits = gallery.search(query_features, k=k, where=filters, **search_params)
    search_seconds = time.perf_counter() - start
    hit_pids = np.array([[row["pid"] for row in found] + [-2] * (k - len(found)) for found in hits.metadata])
    matches = hit_pids == q_pids[:, None]
    statistics = top_k_statistics(matches, positives, len(labels["pid"]) - junk.sum(1))
    results = {
        **summarize([statistics], max_rank),
        "camera_filter": camera_filter,
        "search_seconds": search_seconds,
    }
    if compare_exact:
        start = time.perf_counter()
        exact = evaluate_reid_features(
            query_features,
            torch.from_numpy(labels["vector"]),
            q_pids,
            labels["pid"],
            q_camids,
            labels["camid"],
            max_rank=max_rank,
            progress=False,
            camera_filter=camera_filter,
        )
        results["exact"] = {
            "mAP": exact["mAP"],
            "mINP": exact["mINP"],
            "rank-1": float(exact["cmc"][0]),
            "seconds": time.perf_counter() - start,
        }
    return results


def evaluate_model_through_gallery(
    model: torch.nn.Module,
    dataset_dict: Any,
    uri: str,
    k: int = 100,
    search_params: dict[str, Any] | None = None,
    **extraction_options: Any,
) -> dict[str, Any]:
    """Embed ``dataset_dict['query']`` and evaluate it against the gallery at ``uri`` (which holds the gallery
    split, embedded by ``iaunet-embed``, and any distractors); ``search_params`` tune its ANN index."""
    query = dataset_dict["query"]
    features = extract_features(model, query, **extraction_options)
    q_pids = np.asarray(query.with_format(None)["pid"])
    q_camids = np.asarray(query.with_format(None)["camid"])
    with open_gallery(uri) as gallery:
        g_camids = gallery_labels(gallery, False)["camid"]
        camera_filter = not ((q_camids == -1).all() and (g_camids == -1).all())
        return evaluate_through_gallery(
            gallery, features, q_pids, q_camids, k=k, camera_filter=camera_filter, **(search_params or {})
        )
