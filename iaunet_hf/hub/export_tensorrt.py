"""Deprecated: the TensorRT target moved to `iaunet_hf.export.tensorrt_target` (this path goes in the next
release); `export_tensorrt` is kept as a call of the one pipeline, `export_model`."""

import warnings
from pathlib import Path
from typing import Any

from ..export.pipeline import ExportResult, export_model


def export_tensorrt(model_dir: str | Path, output: Path, **options: Any) -> ExportResult:
    return export_model(model_dir, "tensorrt", output, **options)


warnings.warn(
    "iaunet_hf.hub.export_tensorrt is deprecated; use iaunet_hf.export.export_model(model_dir, 'tensorrt', ...)",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["export_tensorrt"]
