"""Deprecated: the export targets moved to `iaunet_hf.export` (this path goes in the next release).

The per-format functions of the old module are kept as calls of the one pipeline, `export_model`.
"""

import warnings
from pathlib import Path
from typing import Any

from ..export.onnx_graph import CIAU_CLASS, ciau_attention_nodes, keep_float32_between, per_tensor_overrides
from ..export.parity import REDUCED_TOLERANCES, reduced_precision_check
from ..export.pipeline import DEFAULT_NAMES, EXPORT_FORMATS, ExportResult, export_model, export_onnx

warnings.warn(
    "iaunet_hf.hub.export_targets is deprecated; import from iaunet_hf.export",
    DeprecationWarning,
    stacklevel=2,
)


def export_onnx_fp16(model_dir: str | Path, output: Path, **options: Any) -> ExportResult:
    return export_model(model_dir, "onnx-fp16", output, **options)


def export_onnx_int8(model_dir: str | Path, output: Path, calibration: Any, **options: Any) -> ExportResult:
    return export_model(model_dir, "onnx-int8", output, calibration=calibration, **options)


def export_openvino(model_dir: str | Path, output: Path, **options: Any) -> ExportResult:
    return export_model(model_dir, "openvino", output, **options)


def export_torch_program(model_dir: str | Path, output: Path, **options: Any) -> ExportResult:
    return export_model(model_dir, "torch-export", output, **options)


__all__ = [
    "CIAU_CLASS",
    "DEFAULT_NAMES",
    "EXPORT_FORMATS",
    "REDUCED_TOLERANCES",
    "ciau_attention_nodes",
    "export_model",
    "export_onnx",
    "export_onnx_fp16",
    "export_onnx_int8",
    "export_openvino",
    "export_torch_program",
    "keep_float32_between",
    "per_tensor_overrides",
    "reduced_precision_check",
]
