"""Benchmark of the evaluation stack, every figure measured in one run on this machine.

1. Metrics at Market-1501 scale (3,368 x 15,913): ``evaluate_reid`` vs a plain ``numpy.argsort`` of
   the same matrix (the first step of every established evaluator); goal ratio <= 0.5.
2. Evaluation from features at MSMT17 scale (11,659 x 82,161, 2048-d): peak memory beyond the
   feature tensors; goal < 1 GiB.
3. k-reciprocal re-ranking at Market-1501 scale (19,281 items, 2048-d): time and peak memory beyond
   the features; goal < 4 GiB.

Identity statistics follow the real sets (Market: 750 test identities, ~17 gallery images each,
2,798 distractors; MSMT17: 3,060 test identities). Distances of part 1 are uniform random, the
worst case for the method (the positives spread over the whole row). Torch runs on one CPU thread
by default, like ``numpy.argsort``; features of parts 2-3 are
identity centres plus noise. Memory is the peak resident set size minus the size at the start
(CPU; sampled every millisecond) or ``torch.cuda.max_memory_allocated`` (GPU).

    python scripts/benchmark_eval.py                 # everything, on CPU
    python scripts/benchmark_eval.py --device cuda   # everything, on the GPU
    python scripts/benchmark_eval.py --parts metrics # only part 1
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path

import numpy as np
import torch

from iaunet_hf.evaluation import evaluate_reid, evaluate_reid_features, k_reciprocal_rerank

GIB = 1 << 30
NOISE = 2.5  # feature noise relative to the identity centres (unit variance per dimension)


def resident_bytes() -> int:
    """Current resident set size of this process."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


class PeakMemory:
    """Peak memory of a block beyond what was in use when it started (CPU RSS or CUDA allocations)."""

    def __init__(self, device: torch.device):
        self.device = device
        self.extra_bytes = 0

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device)
            return self
        self.start = resident_bytes()
        self.peak = self.start
        self.running = True
        # RSS sampled every millisecond: portable (clear_refs needs extra privileges in containers)
        self.sampler = threading.Thread(target=self._sample, daemon=True)
        self.sampler.start()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, resident_bytes())
            time.sleep(0.001)

    def __exit__(self, *exc_info):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.extra_bytes = torch.cuda.max_memory_allocated(self.device) - self.start
            return
        self.running = False
        self.sampler.join()
        self.peak = max(self.peak, resident_bytes())
        self.extra_bytes = self.peak - self.start


def market_like_labels(
    rng: np.random.Generator,
    num_query: int,
    num_gallery: int,
    num_ids: int,
    num_distractors: int,
    num_cams: int,
):
    """Query/gallery pids and camids with the identity statistics of a real test set (pid 0 = distractor)."""
    q_pids = rng.integers(1, num_ids + 1, num_query)
    g_pids = np.concatenate(
        [
            rng.integers(1, num_ids + 1, num_gallery - num_distractors),
            np.zeros(num_distractors, dtype=np.int64),
        ]
    )
    rng.shuffle(g_pids)
    return q_pids, g_pids, rng.integers(0, num_cams, num_query), rng.integers(0, num_cams, num_gallery)


def clustered_features(
    generator: torch.Generator, pid_sets: list[np.ndarray], dim: int, noise: float = 1.0
) -> list[torch.Tensor]:
    """Identity centre + Gaussian noise for each pid array (shared centres; pid 0, the distractors,
    has none), built in blocks."""
    num_centres = max(int(pids.max()) for pids in pid_sets) + 1
    centres = torch.randn(num_centres, dim, generator=generator)
    centres[0] = 0
    outputs = []
    for pids in pid_sets:
        pids = torch.from_numpy(pids)
        features = torch.empty(len(pids), dim)
        for start in range(0, len(pids), 8192):
            block = pids[start : start + 8192]
            features[start : start + 8192] = centres[block] + noise * torch.randn(
                len(block), dim, generator=generator
            )
        outputs.append(features)
    return outputs


def best_time(function, repeats: int, device: torch.device) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        result = function()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best, result


def benchmark_metrics(device: torch.device, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    num_query, num_gallery = 3368, 15913
    q_pids, g_pids, q_cams, g_cams = market_like_labels(rng, num_query, num_gallery, 750, 2798, 6)
    distmat = rng.random((num_query, num_gallery), dtype=np.float32)
    argsort_seconds, _ = best_time(lambda: np.argsort(distmat, axis=1), repeats, torch.device("cpu"))
    inputs = [torch.from_numpy(a).to(device) for a in (distmat, q_pids, g_pids, q_cams, g_cams)]
    ours_seconds, results = best_time(lambda: evaluate_reid(*inputs), repeats, device)
    return {
        "shape": [num_query, num_gallery],
        "numpy_argsort_s": argsort_seconds,
        "evaluate_reid_s": ours_seconds,
        "ratio": ours_seconds / argsort_seconds,
        "mAP_random": results["mAP"],
    }


def benchmark_features(device: torch.device, num_query: int) -> dict:
    generator = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(1)
    num_gallery, dim = 82161, 2048
    q_pids, g_pids, q_cams, g_cams = market_like_labels(rng, num_query, num_gallery, 3060, 0, 15)
    query, gallery = (f.to(device) for f in clustered_features(generator, [q_pids, g_pids], dim, noise=NOISE))
    feature_bytes = (query.numel() + gallery.numel()) * 4
    with PeakMemory(device) as peak:
        start = time.perf_counter()
        results = evaluate_reid_features(query, gallery, q_pids, g_pids, q_cams, g_cams)
        seconds = time.perf_counter() - start
    return {
        "shape": [num_query, num_gallery, dim],
        "feature_gib": feature_bytes / GIB,
        "full_distmat_gib": num_query * num_gallery * 4 / GIB,
        "peak_extra_gib": peak.extra_bytes / GIB,
        "seconds": seconds,
        "mAP": results["mAP"],
        "rank1": float(results["cmc"][0]),
    }


def benchmark_rerank(device: torch.device) -> dict:
    generator = torch.Generator().manual_seed(2)
    rng = np.random.default_rng(2)
    num_query, num_gallery, dim = 3368, 15913, 2048
    q_pids, g_pids, q_cams, g_cams = market_like_labels(rng, num_query, num_gallery, 750, 2798, 6)
    query, gallery = (
        torch.nn.functional.normalize(f, dim=1).to(device)
        for f in clustered_features(generator, [q_pids, g_pids], dim, noise=NOISE)
    )
    with PeakMemory(device) as peak:
        start = time.perf_counter()
        distances = k_reciprocal_rerank(query, gallery, progress=False)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
    before = evaluate_reid_features(query, gallery, q_pids, g_pids, q_cams, g_cams)
    after = evaluate_reid(distances, q_pids, g_pids, q_cams, g_cams)
    return {
        "items": num_query + num_gallery,
        "seconds": seconds,
        "peak_extra_gib": peak.extra_bytes / GIB,
        "output_gib": distances.numel() * distances.element_size() / GIB,
        "mAP_before": before["mAP"],
        "mAP_after": after["mAP"],
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=("metrics", "features", "rerank"),
        default=["metrics", "features", "rerank"],
    )
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats for part 1 (best is kept)")
    parser.add_argument(
        "--msmt-queries",
        type=int,
        default=11659,
        help="fewer queries shorten part 2; the peak does not depend on it",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: the same budget as numpy's single-threaded argsort)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    print(
        f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, numpy {np.__version__}"
    )
    figures = {}
    if "metrics" in args.parts:
        m = figures["metrics"] = benchmark_metrics(device, args.repeats)
        print(
            f"[1] metrics {m['shape'][0]}x{m['shape'][1]}: numpy.argsort {m['numpy_argsort_s']:.3f} s, "
            f"evaluate_reid {m['evaluate_reid_s']:.3f} s, ratio {m['ratio']:.3f} (goal <= 0.5)"
        )
    if "features" in args.parts:
        f = figures["features"] = benchmark_features(device, args.msmt_queries)
        print(
            f"[2] features {f['shape'][0]}x{f['shape'][1]}x{f['shape'][2]}: features {f['feature_gib']:.2f} GiB, "
            f"full distance matrix would be {f['full_distmat_gib']:.2f} GiB; peak beyond features "
            f"{f['peak_extra_gib']:.3f} GiB (goal < 1), {f['seconds']:.1f} s, mAP {f['mAP']:.4f}"
        )
    if "rerank" in args.parts:
        r = figures["rerank"] = benchmark_rerank(device)
        print(
            f"[3] re-ranking {r['items']} items: {r['seconds']:.1f} s, peak beyond features {r['peak_extra_gib']:.3f} GiB "
            f"(goal < 4, output {r['output_gib']:.2f} GiB), mAP {r['mAP_before']:.4f} -> {r['mAP_after']:.4f}"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
