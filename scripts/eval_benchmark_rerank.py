"""Part 4 of ``benchmark_eval.py``: k-reciprocal re-ranking, exact and with bf16 candidates (and FAISS),
against a bare float32 N x N product timed in the same run, with the steps timed one by one."""

from __future__ import annotations

import importlib.util
import multiprocessing
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from eval_benchmark_tools import (
    RERANK_NOISE,
    RERANK_SCALES,
    PeakMemory,
    clustered_features,
    market_like_labels,
    resident_bytes,
    status_bytes,
)

from iaunet_hf.evaluation import evaluate_reid_features, k_reciprocal_rerank, rerank_steps
from iaunet_hf.evaluation.neighbours import ItemFeatures
from iaunet_hf.hardware import describe_hardware

GIB = 1 << 30


def bare_product_seconds(query: torch.Tensor, gallery: torch.Tensor, block: int = 2048) -> float:
    """Time of the float32 N x N product of [query; gallery] with itself, in row blocks (not held)."""
    items = torch.cat([query, gallery])
    start = time.perf_counter()
    for first in range(0, len(items), block):
        items[first : first + block] @ items.T
    if items.device.type == "cuda":
        torch.cuda.synchronize(items.device)
    return time.perf_counter() - start


def rerank_problem(scale: str, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, tuple]:
    """Features and labels of ``RERANK_SCALES[scale]``, noisy enough that the mAP before re-ranking is
    between 0.6 and 0.9 (``RERANK_NOISE``)."""
    generator = torch.Generator().manual_seed(2)
    rng = np.random.default_rng(2)
    labels = market_like_labels(rng, *RERANK_SCALES[scale])
    features = clustered_features(generator, labels[:2], 2048, noise=RERANK_NOISE[scale])
    return features[0].to(device), features[1].to(device), labels


def _timed(device: torch.device, function, *args):
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    result = function(*args)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return result, time.perf_counter() - start


def rerank_step_profile(query: torch.Tensor, gallery: torch.Tensor) -> tuple[dict, dict]:
    """Seconds of each re-ranking step (cosine, k1=20, k2=6) with the float32 and the bf16 neighbour search,
    and how many top-21 neighbour lists the bf16 search gets wrong (as sets, and in order)."""
    device, profile, nearest = gallery.device, {}, {}
    for precision in ("float32", "bf16"):
        items = ItemFeatures(query, gallery, "cosine")
        seconds = {}
        found, seconds["neighbours"] = _timed(
            device, rerank_steps.nearest_neighbours, items, 20, 6, "exact", 256, False, None, 32, precision
        )
        v_matrix, seconds["k-reciprocal sets"] = _timed(
            device, rerank_steps.reciprocal_weights, items, found, 20, 256, False
        )
        v_matrix, seconds["query expansion"] = _timed(
            device, rerank_steps.local_query_expansion, v_matrix, found.nearest, 6
        )
        index, seconds["jaccard index"] = _timed(
            device, rerank_steps.jaccard_index, v_matrix, items.num_query, items.num_gallery
        )
        blocks = rerank_steps.jaccard_blocks(items, index, found.row_max, 0.3, 1 << 24, False)
        _, seconds["jaccard + final distances"] = _timed(device, lambda b=blocks: sum(1 for _ in b))
        profile[precision], nearest[precision] = seconds, found.nearest[:, :21].cpu()
    exact, candidates = nearest["float32"], nearest["bf16"]
    lists = {
        "lists": len(exact),
        "order_differs": int((exact != candidates).any(1).sum()),
        "set_differs": int((exact.sort(1).values != candidates.sort(1).values).any(1).sum()),
    }
    return profile, lists


def benchmark_rerank(
    device: torch.device, scale: str, faiss_nprobe: int, dense: bool, modes: list[str]
) -> dict:
    query, gallery, labels = rerank_problem(scale, device)
    for precision in ("float32", "bf16"):  # compiles/loads the numba kernels outside the timing
        k_reciprocal_rerank(query[:50], gallery[:200], progress=False, candidate_precision=precision)
    figures = {
        "hardware": describe_hardware(device),
        "items": len(query) + len(gallery),
        "feature_gib": (query.numel() + gallery.numel()) * 4 / GIB,
        "mAP_before": evaluate_reid_features(query, gallery, *labels, progress=False)["mAP"],
        "float32_product_s": bare_product_seconds(query, gallery),
    }
    options_of = {
        "exact": {},
        "bf16": {"candidate_precision": "bf16"},
        "faiss": {"neighbours": "faiss", "faiss_nprobe": faiss_nprobe},
    }
    if "faiss" in modes and importlib.util.find_spec("faiss") is None:
        print("faiss is not installed: the approximate re-ranking row is skipped")
        modes = [mode for mode in modes if mode != "faiss"]
    for name in ["exact", *(mode for mode in modes if mode != "exact")]:
        options = options_of[name]
        with PeakMemory(device) as peak:
            start = time.perf_counter()
            result = evaluate_reid_features(
                query, gallery, *labels, rerank=True, rerank_options=options, progress=False
            )
            seconds = time.perf_counter() - start
        figures[name] = {"seconds": seconds, "peak_extra_gib": peak.extra_bytes / GIB, "mAP": result["mAP"]}
    for name in ["exact", *modes]:
        figures[name]["ratio_to_exact"] = figures[name]["seconds"] / figures["exact"]["seconds"]
        figures[name]["ratio_to_product"] = figures[name]["seconds"] / figures["float32_product_s"]
        figures[name]["mAP_change"] = figures[name]["mAP"] - figures["exact"]["mAP"]
    if "bf16" in modes:  # the steps one by one, timed, for both searches; and their top-21 lists compared
        figures["steps"], figures["bf16_lists"] = rerank_step_profile(query, gallery)
    if dense:
        figures["dense"] = dense_rerank_figures(query, gallery)
    return figures


def dense_rerank_figures(query: torch.Tensor, gallery: torch.Tensor) -> dict:
    """Seconds and peak memory beyond the features of the dense ``k_reciprocal_rerank`` output.

    On the CPU it runs in a fresh process that loads only the features, and the peak is the kernel's
    high-water mark of its resident memory (``VmHWM``): exact, where this process's sampled RSS is not (memory
    freed by the earlier parts and reused by this one is invisible to it; it once reported 0.000 GiB here).
    """
    if query.device.type == "cuda":
        with PeakMemory(query.device) as peak:
            start = time.perf_counter()
            k_reciprocal_rerank(query, gallery, metric="cosine", progress=False)
            return {"seconds": time.perf_counter() - start, "peak_extra_gib": peak.extra_bytes / GIB}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "features.pt"
        torch.save({"query": query, "gallery": gallery}, path)
        context = multiprocessing.get_context("spawn")
        with context.Pool(1) as pool:
            return pool.apply(_dense_rerank_in_fresh_process, (str(path), torch.get_num_threads()))


def _dense_rerank_in_fresh_process(path: str, threads: int) -> dict:
    torch.set_num_threads(threads)
    features = torch.load(path, weights_only=True)
    query, gallery = features["query"], features["gallery"]
    k_reciprocal_rerank(query[:50], gallery[:200], progress=False)  # compiles/loads the numba kernels
    before = resident_bytes()
    start = time.perf_counter()
    distances = k_reciprocal_rerank(query, gallery, metric="cosine", progress=False)
    seconds = time.perf_counter() - start
    high_water = status_bytes("VmHWM")
    return {
        "seconds": seconds,
        "peak_extra_gib": (high_water - before) / GIB,
        "output_gib": distances.numel() * distances.element_size() / GIB,
    }


def report_rerank(r: dict) -> None:
    print(
        f"[4] re-ranking, {r['items']} items: mAP before re-ranking {r['mAP_before']:.4f}; bare float32 "
        f"{r['items']}^2 product {r['float32_product_s']:.1f} s [{r['hardware']}]"
    )
    for name in ("exact", "bf16", "faiss"):
        if name in r:
            m = r[name]
            print(
                f"[4] re-ranked evaluation, {name} neighbours: {m['seconds']:.1f} s = {m['ratio_to_exact']:.2f}x exact "
                f"(goal bf16 <= 0.6) = {m['ratio_to_product']:.2f}x the float32 product; peak beyond the "
                f"{r['feature_gib']:.2f} GiB of features {m['peak_extra_gib']:.3f} GiB; mAP {m['mAP']:.4f} "
                f"({m['mAP_change']:+.4f} vs exact)"
            )
    for precision, steps in r.get("steps", {}).items():
        timing = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in steps.items())
        print(f"[4] steps with the {precision} neighbour search: {timing}")
    lists = r.get("bf16_lists", {"set_differs": "-", "lists": "-", "order_differs": "-"})
    print(
        f"[4] bf16 candidates: {lists['set_differs']} of {lists['lists']} top-21 neighbour sets differ from the "
        f"exact ones ({lists['order_differs']} differ in order)"
    )
    if "dense" in r:
        print(
            f"[4] dense k_reciprocal_rerank output: {r['dense']['seconds']:.1f} s, peak beyond the features "
            f"{r['dense']['peak_extra_gib']:.3f} GiB (goal <= 4), of which the output itself "
            f"{r['dense'].get('output_gib', float('nan')):.3f} GiB"
        )
