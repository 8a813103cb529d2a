"""The machine a benchmark ran on, read from the machine itself, so every printed figure names its hardware.

Shared by the scripts in ``scripts/`` (evaluation, training, data, inference benchmarks and the ablation study).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np
import torch


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo where there is one (``platform.processor()`` is often empty on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the OS reports one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def numpy_simd() -> str:
    """numpy's compiled-in and detected SIMD extensions (what its sort dispatches to)."""
    try:
        simd = np.show_config(mode="dicts")["SIMD Extensions"]
        return f"baseline {'+'.join(simd['baseline'])}, found {'+'.join(simd['found']) or 'none'}"
    except (TypeError, KeyError):  # numpy < 2 only prints its config
        return "unknown (numpy < 2)"


def describe_hardware(device: torch.device | str | None = None) -> str:
    """One line: the GPU (with its host CPU) for a CUDA device, else the CPU, cores, threads and SIMD levels."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda}); host {cpu_name()}"
    return (
        f"{cpu_name()}, {usable_cores()} cores, {torch.get_num_threads()} torch threads, torch CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}; numpy SIMD {numpy_simd()}; torch {torch.__version__}"
    )
