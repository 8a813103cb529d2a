"""What ``benchmark_eval.py`` measures with and measures on: peak memory, interleaved best-of timings, and
synthetic test sets with the identity statistics of Market-1501 and MSMT17 (identity centres plus noise)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import torch

from iaunet_hf.evaluation import evaluate_reid_features

NOISE = 2.5  # feature noise relative to the identity centres (unit variance per dimension)
# noise of the re-ranking benchmark: its mAP before re-ranking is 0.6-0.9, not ~1 (printed by the benchmark)
RERANK_NOISE = {"market": 3.25, "msmt17": 3.0, "tiny": 3.25}
# (queries, gallery, identities, distractors, cameras); "tiny" checks the flow in seconds (scripts/gpu_check.sh)
RERANK_SCALES = {
    "msmt17": (11659, 82161, 3060, 0, 15),
    "market": (3368, 15913, 750, 2798, 6),
    "tiny": (100, 500, 40, 50, 4),
}


def status_bytes(field: str) -> int:
    """A memory figure of this process from /proc/self/status (VmRSS now, VmHWM its high-water mark)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not found in /proc/self/status")


def resident_bytes() -> int:
    """Current resident set size of this process."""
    return status_bytes("VmRSS")


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


def best_times(functions: dict, repeats: int, device: torch.device) -> tuple[dict, dict]:
    """Best of ``repeats`` for each function, interleaved so that load from other processes hits all alike."""
    best, results = {name: float("inf") for name in functions}, {}
    for _ in range(repeats):
        for name, function in functions.items():
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            results[name] = function()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            best[name] = min(best[name], time.perf_counter() - start)
    return best, results


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


def market_features(generator: torch.Generator, labels, dim: int = 2048) -> tuple[torch.Tensor, torch.Tensor]:
    """Query and gallery features of ``labels`` (from ``market_like_labels``)."""
    q_pids, g_pids = labels[0], labels[1]
    return tuple(clustered_features(generator, [q_pids, g_pids], dim, noise=NOISE))


def warm_up(features: torch.Tensor) -> None:
    """Compiles/loads the rank kernel outside the measurement (queries against themselves, other cameras)."""
    pids = np.arange(4)
    evaluate_reid_features(features[:4], features[:4], pids, pids, np.zeros(4, int), np.ones(4, int))
