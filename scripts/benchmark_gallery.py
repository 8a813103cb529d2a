"""Vector galleries at scale: build time, size on disk, peak memory, queries/s and recall@10 per backend, one run.

Synthetic identity-clustered unit embeddings (``--rows`` x ``--dim``, 20 rows per identity, streamed in chunks so
the benchmark never holds them all) go into each backend (memory = exact torch search, the baseline; LanceDB
IVF-PQ with exact refinement; Milvus through milvus-lite, IVF-PQ re-scored exactly). Recall@10 is against exact
search over the same rows, computed in this run. Each backend runs in its own process, so its peak resident
memory is its own. Then a Market-1501-shaped evaluation (3368 queries, 19732 gallery rows of 751 identities in 6
cameras, synthetic features) plus ``--distractors`` rows is run through each backend with the standard protocol
(``evaluate_through_gallery``), against the exact all-pairs evaluation of the same features.

    python scripts/benchmark_gallery.py [--rows 1000000] [--dim 512] [--backends memory lancedb milvus]
        [--distractors 500000] [--workdir DIR] [--output results.json]

Goals (each measured in one run): LanceDB recall@10 >= 0.95 at >= 500 queries/s (batch 256) on 1M x 512-d; peak
memory <= 1.5 GiB beyond the index files; the Market+500k evaluation within 0.5 mAP of exact. The load average
before and after is printed: on a shared machine every rate is a lower bound.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch

from iaunet_hf.hardware import describe_hardware
from iaunet_hf.retrieval import open_gallery
from iaunet_hf.retrieval.gallery_evaluation import evaluate_through_gallery
from iaunet_hf.retrieval.memory import exact_top_k

CHUNK = 50_000
ROWS_PER_IDENTITY = 20
NOISE = (
    0.8  # per-dimension noise around an identity's centre (unit-variance centres): a realistic cosine spread
)
URIS = {"memory": "memory://", "lancedb": "{dir}/lancedb", "milvus": "{dir}/milvus.db"}
INDEX = {
    "memory": ("flat", {}),
    "lancedb": ("ivf_pq", {}),  # num_partitions sqrt(N), num_sub_vectors dim/8 (the backend's defaults)
    "milvus": ("ivf_pq", {}),
}
SEARCH = {
    "memory": {},
    "lancedb": {"nprobes": 20, "refine_factor": 10},
    "milvus": {"nprobe": 20, "refine_factor": 10},
}


def identity_centres(count: int, dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(count, dim)).astype(np.float32)


def chunk(index: int, rows: int, dim: int, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows [index*CHUNK, ...) of the synthetic gallery: (unit vectors, pids), regenerated identically each time."""
    start = index * CHUNK
    count = min(CHUNK, rows - start)
    pids = (np.arange(start, start + count) // ROWS_PER_IDENTITY) % len(centres)
    noise = np.random.default_rng(1000 + index).normal(scale=NOISE, size=(count, dim)).astype(np.float32)
    vectors = centres[pids] + noise
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), pids


def exact_neighbours(queries: np.ndarray, rows: int, dim: int, centres: np.ndarray, k: int) -> np.ndarray:
    """(Q, k) row numbers of the exact top-k, merged chunk by chunk."""
    best_scores = np.full((len(queries), k), -np.inf, np.float32)
    best_rows = np.zeros((len(queries), k), np.int64)
    for index in range(-(-rows // CHUNK)):
        vectors, _ = chunk(index, rows, dim, centres)
        scores, positions = exact_top_k(queries, vectors, k)
        merged_scores = np.concatenate([best_scores, scores], 1)
        merged_rows = np.concatenate([best_rows, positions + index * CHUNK], 1)
        order = np.argsort(-merged_scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(merged_scores, order, 1)
        best_rows = np.take_along_axis(merged_rows, order, 1)
    return best_rows


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def queries_per_second(gallery, queries: np.ndarray, batch: int, params: dict, seconds: float = 5.0) -> float:
    gallery.search(queries[:batch], k=10, **params)  # warm-up
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        part = queries[(done % len(queries)) : (done % len(queries)) + batch]
        gallery.search(part, k=10, **params)
        done += len(part)
    return done / (time.perf_counter() - start)


def measure_backend(
    backend: str, args: argparse.Namespace, queries: np.ndarray, truth: np.ndarray, queue
) -> None:
    """Build, size, speed and recall of one backend (run in a child process: its peak RSS is its own)."""
    torch.set_num_threads(os.cpu_count() or 1)
    centres = identity_centres(args.rows // ROWS_PER_IDENTITY, args.dim, 0)
    workdir = Path(args.workdir) / backend
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    gallery = open_gallery(URIS[backend].format(dir=workdir))
    start = time.perf_counter()
    for index in range(-(-args.rows // CHUNK)):
        vectors, pids = chunk(index, args.rows, args.dim, centres)
        first = index * CHUNK
        gallery.add(vectors, {"key": [str(i) for i in range(first, first + len(vectors))], "pid": pids,
                              "camid": pids % 6})  # fmt: skip
    added = time.perf_counter() - start
    if hasattr(gallery, "optimize"):
        gallery.optimize(cleanup_older_than=timedelta(0))  # the size on disk counts the current version only
    kind, params = INDEX[backend]
    gallery.create_index(kind, **params)
    built = time.perf_counter() - start
    recall = recall_at_10(gallery, queries, truth, SEARCH[backend])
    row = {
        "backend": backend, "rows": args.rows, "dim": args.dim, "index": kind, "search": SEARCH[backend],
        "add_seconds": round(added, 1), "build_seconds": round(built, 1),
        "disk_bytes": folder_bytes(workdir), "recall@10": round(recall, 4),
        "qps_batch1": round(queries_per_second(gallery, queries, 1, SEARCH[backend]), 1),
        "qps_batch256": round(queries_per_second(gallery, queries, 256, SEARCH[backend]), 1),
    }  # fmt: skip
    row["probe_sweep"] = probe_sweep(gallery, backend, args.probes, queries, truth)
    # peak memory of building and searching the gallery, before the evaluation (which holds its own features)
    row["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    row["peak_rss_children_bytes"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    row["market_eval"] = market_evaluation(gallery, args, backend)
    gallery.close()
    queue.put(row)


def recall_at_10(gallery, queries: np.ndarray, truth: np.ndarray, params: dict) -> float:
    found = gallery.search(queries, k=10, **params).keys.astype(np.int64)
    return float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)]))


def probe_sweep(gallery, backend: str, probes: list[int], queries, truth) -> list[dict]:
    """Recall@10 and queries/s (batch 256) at other numbers of probed IVF partitions: the speed/recall trade."""
    if not SEARCH[backend]:
        return []
    name = "nprobes" if backend == "lancedb" else "nprobe"
    rows = []
    for count in probes:
        params = {**SEARCH[backend], name: count}
        rows.append({name: count, "recall@10": round(recall_at_10(gallery, queries, truth, params), 4),
                     "qps_batch256": round(queries_per_second(gallery, queries, 256, params), 1)})  # fmt: skip
    return rows


def market_evaluation(big_gallery, args: argparse.Namespace, backend: str) -> dict | None:
    """Market-1501-shaped features + ``--distractors`` rows through a fresh gallery of this backend vs exact."""
    if not args.distractors:
        return None
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(751, args.dim)).astype(np.float32)
    g_pids, g_cams = rng.integers(0, 751, 19732), rng.integers(0, 6, 19732)
    q_pids, q_cams = rng.integers(0, 751, 3368), rng.integers(0, 6, 3368)
    gallery_vectors = centres[g_pids] + NOISE * 1.5 * rng.normal(size=(19732, args.dim)).astype(np.float32)
    query_vectors = centres[q_pids] + NOISE * 1.5 * rng.normal(size=(3368, args.dim)).astype(np.float32)
    workdir = Path(args.workdir) / f"{backend}_market"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    gallery = open_gallery(URIS[backend].format(dir=workdir))
    gallery.add(gallery_vectors, {"key": [f"m{i}" for i in range(19732)], "pid": g_pids, "camid": g_cams})
    distractors = identity_centres(args.distractors // ROWS_PER_IDENTITY, args.dim, 99)
    for index in range(-(-args.distractors // CHUNK)):
        vectors, _ = chunk(index, args.distractors, args.dim, distractors)
        first = index * CHUNK
        gallery.add(vectors, {"key": [f"d{i}" for i in range(first, first + len(vectors))]})  # pid, camid -1
    if hasattr(gallery, "optimize"):
        gallery.optimize()
    gallery.create_index(*INDEX[backend][:1], **INDEX[backend][1])
    # k=100 neighbours re-scored from 2x candidates: the evaluation fetches every candidate's vector
    params = {**SEARCH[backend], "refine_factor": 2} if SEARCH[backend] else {}
    result = evaluate_through_gallery(
        gallery, torch.from_numpy(query_vectors), q_pids, q_cams, k=100, **params
    )
    gallery.close()
    exact = result["exact"]
    return {"mAP": round(100 * result["mAP"], 2), "exact_mAP": round(100 * exact["mAP"], 2),
            "rank-1": round(100 * float(result["cmc"][0]), 2), "exact_rank-1": round(100 * exact["rank-1"], 2),
            "search_seconds": round(result["search_seconds"], 1), "exact_seconds": round(exact["seconds"], 1)}  # fmt: skip


def print_table(rows: list[dict]) -> None:
    print("| backend | rows x dim | index | build s | disk GiB | peak RSS GiB | recall@10 | q/s b1 | q/s b256 "
          "| Market+distractors mAP (exact) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        market = row["market_eval"]
        text = f"{market['mAP']} ({market['exact_mAP']})" if market else "-"
        print(f"| {row['backend']} {row['search']} | {row['rows']:,} x {row['dim']} | {row['index']} | "
              f"{row['build_seconds']} | {row['disk_bytes'] / 2**30:.2f} | {row['peak_rss_bytes'] / 2**30:.2f} | "
              f"{row['recall@10']} | {row['qps_batch1']} | {row['qps_batch256']} | {text} |")  # fmt: skip
        for point in row.get("probe_sweep", []):
            probes = {name: value for name, value in point.items() if name.startswith("nprobe")}
            print(
                f"| {row['backend']} {probes} | | | | | | {point['recall@10']} | | {point['qps_batch256']} | |"
            )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--backends", nargs="+", default=["memory", "lancedb", "milvus"], choices=list(URIS))
    parser.add_argument(
        "--probes", type=int, nargs="*", default=[50, 100], help="IVF partitions probed, swept"
    )
    parser.add_argument(
        "--distractors", type=int, default=500_000, help="0 skips the Market-shaped evaluation"
    )
    parser.add_argument(
        "--workdir", default=None, help="where the galleries are built (default: a temporary folder)"
    )
    parser.add_argument("--output", type=Path, default=None, help="also write the rows as JSON here")
    return parser


def main(argv: list[str] | None = None) -> list[dict]:
    args = build_parser().parse_args(argv)
    args.workdir = args.workdir or tempfile.mkdtemp(prefix="gallery_benchmark_")
    print(f"hardware: {describe_hardware('cpu')}; load average {os.getloadavg()}")
    centres = identity_centres(args.rows // ROWS_PER_IDENTITY, args.dim, 0)
    rng = np.random.default_rng(5)
    picked = rng.integers(0, len(centres), args.queries)
    queries = centres[picked] + rng.normal(scale=NOISE, size=(args.queries, args.dim)).astype(np.float32)
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    start = time.perf_counter()
    truth = exact_neighbours(queries, args.rows, args.dim, centres, 10)
    print(f"exact top-10 of {args.queries} queries in {time.perf_counter() - start:.1f} s")
    context = multiprocessing.get_context("spawn")
    rows = []
    for backend in args.backends:
        queue = context.Queue()
        child = context.Process(target=measure_backend, args=(backend, args, queries, truth, queue))
        child.start()
        rows.append(queue.get())
        child.join()
        print(json.dumps(rows[-1]), flush=True)  # each backend's row as soon as it is measured
    print_table(rows)
    print(f"load average after: {os.getloadavg()}")
    if args.output:
        args.output.write_text(json.dumps({"hardware": describe_hardware("cpu"), "rows": rows}, indent=1))
    return rows


if __name__ == "__main__":
    main()
