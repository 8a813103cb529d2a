"""Benchmark of the evaluation stack, every figure measured in one run on this machine.

1. ``metrics``: ``evaluate_reid`` at Market-1501 scale (3,368 x 15,913) vs a plain ``numpy.argsort``
   of the same matrix (the first step of every established evaluator), on uniform-random and on
   feature-derived (cosine) distances, for each ``--threads`` count (argsort is single-threaded);
   goal ratio <= 0.25. Also prints the achieved GB/s against one streaming read of the matrix.
2. ``features``: evaluation from features at MSMT17 scale (11,659 x 82,161, 2048-d): peak memory
   beyond the feature tensors; goal < 1 GiB.
3. ``distractors``: Market-1501 + 500k distractors (3,368 x 515,913, 2048-d, ~4.2 GB of features)
   from features: time and peak beyond the features (goal < 1 GiB), beside the estimate for the
   peers' way (the full distance matrix, then argsort: time extrapolated from a slice, memory
   computed).
4. ``rerank``: k-reciprocal re-ranked evaluation at MSMT17 scale (93,820 items, 2048-d; or Market,
   19,281 items) through ``evaluate_reid_features(..., rerank=True)``: time against a bare float32
   N x N product timed in the same run, and peak beyond the features (goal <= 4 GiB), with exact
   neighbours, with bfloat16 candidates re-scored in float32 (``candidate_precision="bf16"``, goal
   <= 0.6x the exact time) and with FAISS (approximate) neighbours; the mAP changes, and how many
   top-21 neighbour lists the bf16 search gets wrong. ``--rerank-dense`` also measures the dense
   ``k_reciprocal_rerank`` output (goal <= 4 GiB beyond the features at MSMT17 scale). These
   features are noisier (mAP 0.6-0.9 before re-ranking) so that re-ranking changes the ranking.

Identity statistics follow the real sets (Market: 750 test identities, ~17 gallery images each,
2,798 distractors; MSMT17: 3,060 test identities, 15 cameras). Features are identity centres plus
noise. Memory is the peak resident set size minus the size at the start (CPU; sampled every
millisecond) or ``torch.cuda.max_memory_allocated`` (GPU). Every figure line names the CPU and
numpy's SIMD level (numpy 2.x sorts with AVX-512 where the CPU has it).

    python scripts/benchmark_eval.py --parts metrics --threads 1 2
    python scripts/benchmark_eval.py --parts distractors     # alone: ~4.2 GB of features
    python scripts/benchmark_eval.py --parts rerank --rerank-scale market
    python scripts/benchmark_eval.py --device cuda           # the same on a GPU (torch kernel)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from eval_benchmark_rerank import benchmark_rerank, report_rerank
from eval_benchmark_tools import (
    NOISE,
    RERANK_SCALES,
    PeakMemory,
    best_times,
    clustered_features,
    market_features,
    market_like_labels,
    warm_up,
)

from iaunet_hf.evaluation import evaluate_reid, evaluate_reid_features
from iaunet_hf.evaluation.distances import GalleryDistance
from iaunet_hf.evaluation.metrics import numba_available, resolve_backend
from iaunet_hf.hardware import describe_hardware

GIB = 1 << 30


def benchmark_metrics(device: torch.device, repeats: int, threads: list[int]) -> list[dict]:
    rng = np.random.default_rng(0)
    num_query, num_gallery = 3368, 15913
    labels = market_like_labels(rng, num_query, num_gallery, 750, 2798, 6)
    query, gallery = market_features(torch.Generator().manual_seed(0), labels)
    matrices = {
        "uniform-random": rng.random((num_query, num_gallery), dtype=np.float32),
        "feature-derived": GalleryDistance(gallery.to(device))(query.to(device)).cpu().numpy(),
    }
    del query, gallery
    backends = ["numba", "torch"] if device.type == "cpu" and numba_available() else ["torch"]
    rows = []
    for kind, distmat in matrices.items():
        inputs = [torch.from_numpy(a).to(device) for a in (distmat, *labels)]
        for backend in backends:  # compile / warm up outside the timing
            evaluate_reid(inputs[0][:8], inputs[1][:8], inputs[2], inputs[3][:8], inputs[4], backend=backend)
        for count in threads:
            torch.set_num_threads(count)
            functions = {
                "numpy_argsort": lambda m=distmat: np.argsort(m, axis=1),
                "read_once": lambda m=distmat: m.sum(),  # one streaming read of the matrix
                **{
                    f"evaluate_reid_{b}": (lambda b=b, x=inputs: evaluate_reid(*x, backend=b))
                    for b in backends
                },
            }
            seconds, results = best_times(functions, repeats, device)
            row = {"distances": kind, "threads": count, "hardware": describe_hardware(device)}
            row.update({f"{name}_s": value for name, value in seconds.items()})
            row["matrix_gb"] = distmat.nbytes / 1e9
            for backend in backends:
                row[f"ratio_{backend}"] = seconds[f"evaluate_reid_{backend}"] / seconds["numpy_argsort"]
                row[f"gb_per_s_{backend}"] = row["matrix_gb"] / seconds[f"evaluate_reid_{backend}"]
                row[f"mAP_{backend}"] = results[f"evaluate_reid_{backend}"]["mAP"]
            row["gb_per_s_read_once"] = row["matrix_gb"] / seconds["read_once"]
            rows.append(row)
    torch.set_num_threads(threads[0])
    return rows


def benchmark_features(device: torch.device, num_query: int) -> dict:
    generator = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(1)
    num_gallery, dim = 82161, 2048
    q_pids, g_pids, q_cams, g_cams = market_like_labels(rng, num_query, num_gallery, 3060, 0, 15)
    query, gallery = (f.to(device) for f in clustered_features(generator, [q_pids, g_pids], dim, noise=NOISE))
    warm_up(query)
    feature_bytes = (query.numel() + gallery.numel()) * 4
    with PeakMemory(device) as peak:
        start = time.perf_counter()
        results = evaluate_reid_features(query, gallery, q_pids, g_pids, q_cams, g_cams)
        seconds = time.perf_counter() - start
    return {
        "hardware": describe_hardware(device),
        "shape": [num_query, num_gallery, dim],
        "feature_gib": feature_bytes / GIB,
        "full_distmat_gib": num_query * num_gallery * 4 / GIB,
        "peak_extra_gib": peak.extra_bytes / GIB,
        "seconds": seconds,
        "mAP": results["mAP"],
        "rank1": float(results["cmc"][0]),
    }


def benchmark_distractors(device: torch.device, num_distractors: int, slice_rows: int = 128) -> dict:
    """Market-1501 + distractors from features, and the peers' dense way extrapolated from a slice."""
    generator = torch.Generator().manual_seed(3)
    rng = np.random.default_rng(3)
    num_query, num_gallery, dim = 3368, 15913 + num_distractors, 2048
    labels = market_like_labels(rng, num_query, num_gallery, 750, 2798 + num_distractors, 6)
    query, gallery = (f.to(device) for f in clustered_features(generator, labels[:2], dim, noise=NOISE))
    warm_up(query)
    feature_bytes = (query.numel() + gallery.numel()) * 4
    with PeakMemory(device) as peak:
        start = time.perf_counter()
        results = evaluate_reid_features(query, gallery, *labels, progress=False)
        seconds = time.perf_counter() - start
    # the peers: the whole (Q, G) float32 matrix, then an int64 argsort of it (time from a slice)
    distance = GalleryDistance(gallery)
    start = time.perf_counter()
    block = distance(query[:slice_rows])
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    matrix_seconds = (time.perf_counter() - start) * num_query / slice_rows
    block = block.cpu().numpy()
    start = time.perf_counter()
    np.argsort(block, axis=1)
    argsort_seconds = (time.perf_counter() - start) * num_query / slice_rows
    return {
        "hardware": describe_hardware(device),
        "shape": [num_query, num_gallery, dim],
        "feature_gib": feature_bytes / GIB,
        "peak_extra_gib": peak.extra_bytes / GIB,
        "seconds": seconds,
        "mAP": results["mAP"],
        "peers_estimate_s": matrix_seconds + argsort_seconds,
        "peers_matrix_s": matrix_seconds,
        "peers_argsort_s": argsort_seconds,
        "peers_memory_gib": num_query * num_gallery * (4 + 8) / GIB,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=("metrics", "features", "distractors", "rerank"),
        default=["metrics", "features", "rerank"],
        help="distractors is not in the default set: it needs ~4.2 GB of features; run it alone",
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
        nargs="+",
        default=[1, 2],
        help="torch/numba CPU thread counts for part 1 (numpy's argsort is single-threaded); "
        "the first is used for the other parts",
    )
    parser.add_argument("--distractors", type=int, default=500_000, help="extra distractors of part 3")
    parser.add_argument("--rerank-scale", choices=tuple(RERANK_SCALES), default="msmt17")
    parser.add_argument(
        "--rerank-modes",
        nargs="+",
        choices=("bf16", "faiss"),
        default=["bf16", "faiss"],
        help="neighbour searches timed beside the exact one in part 4",
    )
    parser.add_argument("--faiss-nprobe", type=int, default=32)
    parser.add_argument(
        "--rerank-dense", action="store_true", help="part 4 also times the dense k_reciprocal_rerank output"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    return parser


def report_metrics(rows: list[dict]) -> None:
    for m in rows:
        kernels = ", ".join(
            f"{b} {m[f'evaluate_reid_{b}_s']:.3f} s = {m[f'ratio_{b}']:.3f}x ({m[f'gb_per_s_{b}']:.1f} GB/s)"
            for b in ("numba", "torch")
            if f"ratio_{b}" in m
        )
        print(
            f"[1] metrics 3368x15913 {m['distances']}, {m['threads']} thread(s): numpy.argsort "
            f"{m['numpy_argsort_s']:.3f} s; evaluate_reid {kernels} (goal <= 0.25x); one read of the "
            f"{m['matrix_gb'] * 1000:.0f} MB matrix {m['read_once_s']:.3f} s ({m['gb_per_s_read_once']:.1f} GB/s) "
            f"[{m['hardware']}]"
        )


def report_features(f: dict) -> None:
    print(
        f"[2] features {f['shape'][0]}x{f['shape'][1]}x{f['shape'][2]}: features {f['feature_gib']:.2f} GiB, "
        f"full distance matrix would be {f['full_distmat_gib']:.2f} GiB; peak beyond features "
        f"{f['peak_extra_gib']:.3f} GiB (goal < 1), {f['seconds']:.1f} s, mAP {f['mAP']:.4f} [{f['hardware']}]"
    )


def report_distractors(d: dict) -> None:
    print(
        f"[3] distractors {d['shape'][0]}x{d['shape'][1]}x{d['shape'][2]}: {d['seconds']:.1f} s, peak beyond the "
        f"{d['feature_gib']:.2f} GiB of features {d['peak_extra_gib']:.3f} GiB (goal < 1), mAP {d['mAP']:.4f}; "
        f"peers' estimate {d['peers_estimate_s']:.1f} s (matrix {d['peers_matrix_s']:.1f} s + argsort "
        f"{d['peers_argsort_s']:.1f} s) and {d['peers_memory_gib']:.1f} GiB [{d['hardware']}]"
    )


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    device = torch.device(args.device)
    torch.set_num_threads(args.threads[0])
    backend = resolve_backend("auto", device)
    print(
        f"device {device}, torch {torch.__version__}, numpy {np.__version__}, rank kernel {backend}; "
        f"{describe_hardware(device)}"
    )
    parts = {
        "metrics": (lambda: benchmark_metrics(device, args.repeats, args.threads), report_metrics),
        "features": (lambda: benchmark_features(device, args.msmt_queries), report_features),
        "distractors": (lambda: benchmark_distractors(device, args.distractors), report_distractors),
        "rerank": (
            lambda: benchmark_rerank(
                device, args.rerank_scale, args.faiss_nprobe, args.rerank_dense, args.rerank_modes
            ),
            report_rerank,
        ),
    }
    figures = {}
    for name, (measure, report) in parts.items():
        if name in args.parts:
            figures[name] = measure()
            report(figures[name])
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
