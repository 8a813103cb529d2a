"""The one vocabulary of numeric precision: ``"fp32"``, ``"bf16"``, ``"fp16"``, in training, evaluation, inference,
export sidecars and tracking alike.

accelerate spells full precision ``"no"`` (its ``mixed_precision`` setting); that spelling is accepted wherever a
precision is read and means ``"fp32"``, and ``accelerate_mixed_precision`` gives accelerate its own word back.
"""

from __future__ import annotations

import torch

# precision -> the autocast dtype its forward runs under (None: no autocast, float32)
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
_ACCELERATE_NAMES = {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}


def normalise_precision(precision: str, field: str = "precision") -> str:
    """``precision`` in the package's vocabulary (accelerate's ``"no"`` is ``"fp32"``); anything else is a
    ValueError naming ``field``."""
    precision = "fp32" if precision == "no" else precision
    if precision not in PRECISIONS:
        raise ValueError(f"{field}: expected one of {list(PRECISIONS)}, found {precision!r}")
    return precision


def check_precision(precision: str, field: str = "precision") -> torch.dtype | None:
    """The autocast dtype of ``precision`` (None for fp32); an unknown precision is a ValueError."""
    return PRECISIONS[normalise_precision(precision, field)]


def accelerate_mixed_precision(precision: str) -> str:
    """accelerate's ``mixed_precision`` value for ``precision`` (``"no"`` for fp32)."""
    return _ACCELERATE_NAMES[normalise_precision(precision)]
