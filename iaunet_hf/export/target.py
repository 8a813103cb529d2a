"""What an export target is: the one step that differs between formats (build), the runtime that checks it and
how close to PyTorch it must be. The pipeline (`pipeline.py`) does everything else the same way for all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import nn

from .parity import compare_embeddings

if TYPE_CHECKING:
    from ..configuration_iaunet import IAUnetConfig


@dataclass(frozen=True)
class ExportRequest:
    """The options of one export: those every target takes, and `options`, those of its target only."""

    model_dir: Path
    output: Path
    input_kind: str | None = None
    opset: int = 18
    check: bool = True
    atol: float = 1e-4  # the float32 targets' tolerance; reduced-precision targets have their own
    check_images: Sequence[str | Path] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Built:
    """What a target's build step made: the traced input shape (without the batch) and its sidecar's extras."""

    input_shape: tuple[int, ...]
    extra: dict[str, Any] = field(default_factory=dict)


class ExportTarget:
    """One export format. Subclasses set the class attributes and implement `build` (and `runtime` if their
    runtime is installable here); `prepare` checks their optional dependency before any model is loaded."""

    name: str = ""
    default_name: str = ""  # the output beside the checkpoint when none is given (boxmot's suffixes)
    precision: str = "fp32"
    uses_opset: bool = True  # False: the sidecar's opset is null (not an ONNX-based target)
    calibrated: bool = False  # True: needs `calibration` batches (the CLI then also reports the mAP change)
    option_defaults: Mapping[str, Any] = {}  # the target's own options and their defaults

    def prepare(self, request: ExportRequest) -> None:
        """Fail early (before loading the model) when a dependency or an option is missing."""

    def build(self, model: nn.Module, config: IAUnetConfig, request: ExportRequest) -> Built:
        raise NotImplementedError

    def runtime(self, request: ExportRequest, sidecar: dict[str, Any]) -> Callable | None:
        """The runtime the parity check runs the export in; None when it cannot be checked here."""
        return None

    def compare(self, name: str, runtime: np.ndarray, reference: np.ndarray, atol: float) -> float:
        """This target's tolerance against PyTorch: `atol` unless it overrides this."""
        return compare_embeddings(name, runtime, reference, atol)


def missing_dependency(package: str, how: str) -> ValueError:
    """The error for an optional runtime that is not installed."""
    return ValueError(f"{package} is not installed; expected {how}")
