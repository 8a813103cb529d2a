"""Parity checks: an export's embeddings, run in its own runtime, against PyTorch's on the same batches.

Float32 targets must match within an absolute tolerance; reduced-precision targets are judged by the
tolerances below, which say what retrieval needs from them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

# Reduced-precision tolerances against PyTorch float32: fp16 within 2% of the largest embedding entry
# (CIAU's softmax over the raw Gram amplifies the float16 rounding of its input),
# int8 by direction (what cosine retrieval uses): every row's cosine similarity to PyTorch's >= 0.95.
REDUCED_TOLERANCES = {
    "onnx-fp16": {"relative": 2e-2, "cosine": 0.999},
    "onnx-int8": {"relative": None, "cosine": 0.95},
}

Runtime = Callable[[torch.Tensor], np.ndarray]
Comparison = Callable[[str, np.ndarray, np.ndarray], float]


def compare_embeddings(name: str, runtime: np.ndarray, reference: np.ndarray, atol: float) -> float:
    """Max |runtime - PyTorch|; raises on a shape mismatch, non-finite values or a difference above `atol`."""
    if runtime.shape != reference.shape:
        raise ValueError(f"{name}: runtime output shape {runtime.shape} != PyTorch {reference.shape}")
    if not np.isfinite(runtime).all():
        raise ValueError(f"{name}: runtime output has NaN/inf values")
    diff = float(np.abs(runtime.astype(np.float64) - reference).max())
    if diff > atol:
        raise ValueError(f"{name}: runtime differs from PyTorch by {diff:.3g}; expected <= {atol}")
    return diff


def reduced_precision_check(
    name: str, runtime: np.ndarray, reference: np.ndarray, export_format: str
) -> float:
    """Check a reduced-precision graph's embeddings against PyTorch (`REDUCED_TOLERANCES`); max abs diff."""
    tolerance = REDUCED_TOLERANCES[export_format]
    relative = tolerance["relative"]
    atol = np.inf if relative is None else relative * float(np.abs(reference).max())
    diff = compare_embeddings(name, runtime, reference, atol)
    cosine = (runtime * reference).sum(1) / (
        np.linalg.norm(runtime, axis=1) * np.linalg.norm(reference, axis=1)
    )
    if cosine.min() < tolerance["cosine"]:
        raise ValueError(
            f"{name}: cosine similarity to PyTorch down to {cosine.min():.4f}; expected >= {tolerance['cosine']}"
        )
    return diff


def check_parity(
    name: str, runtime: Runtime, model: nn.Module, batches: Sequence[torch.Tensor], compare: Comparison
) -> float:
    """The largest difference `compare` finds between `runtime` and `model` over `batches` (it raises above
    its tolerance)."""
    with torch.no_grad():
        references = [model(batch).numpy() for batch in batches]
    return max(compare(name, runtime(batch), reference) for batch, reference in zip(batches, references))
