"""Metric and feature inputs as tensors: numpy arrays, tensors or sequences, checked with the argument's name."""

from __future__ import annotations

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor


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
