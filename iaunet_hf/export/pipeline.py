"""The one export pipeline and its registry of targets: load -> trace/build -> parity check -> sidecar.

Every format goes through `export_model`; what differs between formats is only the target's build step, its
runtime and its tolerance (`target.py`). A new format is one `ExportTarget` subclass added to `TARGETS`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..inference.loading import load_embedding_model
from ..inference.preprocessing import InputSpec
from ..inference.sidecar import INPUT_NAME, OUTPUT_NAME, write_sidecar
from .inputs import check_inputs, embedding_dim_of, input_kind_of
from .onnx_targets import OnnxFp16Target, OnnxInt8Target, OnnxTarget
from .openvino_target import OpenVINOTarget
from .parity import check_parity
from .program_target import TorchProgramTarget
from .target import Built, ExportRequest, ExportTarget
from .tensorrt_target import TensorRTTarget

logger = logging.getLogger(__name__)

TARGETS: dict[str, ExportTarget] = {
    target.name: target
    for target in (
        OnnxTarget(),
        OnnxFp16Target(),
        OnnxInt8Target(),
        OpenVINOTarget(),
        TorchProgramTarget(),
        TensorRTTarget(),
    )
}
EXPORT_FORMATS = tuple(TARGETS)
DEFAULT_NAMES = {name: target.default_name for name, target in TARGETS.items()}
_COMMON_OPTIONS = ("input_kind", "opset", "check", "atol", "check_images")


@dataclass
class ExportResult:
    """Where the export went, its sidecar and, when checked, how far the runtime is from PyTorch."""

    path: Path
    input_shape: tuple[int, ...]
    max_abs_diff: float | None
    sidecar: Path | None = None


def get_target(export_format: str) -> ExportTarget:
    if export_format not in TARGETS:
        raise ValueError(
            f"export format {export_format!r} is not supported; expected one of {EXPORT_FORMATS}"
        )
    return TARGETS[export_format]


def export_request(target: ExportTarget, model_dir: str | Path, output: Path, options: dict) -> ExportRequest:
    """The request of `options`: the common ones and the target's own (TypeError for any other)."""
    unknown = sorted(set(options) - set(_COMMON_OPTIONS) - set(target.option_defaults))
    if unknown:
        raise TypeError(
            f"export format {target.name!r} takes no option {unknown}; expected among "
            f"{[*_COMMON_OPTIONS, *target.option_defaults]}"
        )
    common = {key: value for key, value in options.items() if key in _COMMON_OPTIONS}
    own = {**target.option_defaults, **{k: v for k, v in options.items() if k in target.option_defaults}}
    return ExportRequest(Path(model_dir), output, **common, options=own)


def export_model(
    model_dir: str | Path,
    export_format: str = "onnx",
    output_path: str | Path | None = None,
    **options: Any,
) -> ExportResult:
    """Export `model_dir`'s embedding to `export_format` (one of `EXPORT_FORMATS`), check it and write its sidecar.

    `options`: `input_kind` ("image"/"clip"), `opset`, `check`, `atol` (float32 targets), `check_images` (image
    files for the parity check; random batches otherwise), and the target's own (`calibration` for onnx-int8,
    `max_batch`/`opt_batch` for tensorrt). The check runs batch sizes other than the one traced, so a batch axis
    frozen by the export fails it.
    """
    target = get_target(export_format)
    output = Path(output_path) if output_path is not None else Path(model_dir) / target.default_name
    request = export_request(target, model_dir, output, options)
    target.prepare(request)
    model, config = load_embedding_model(model_dir)
    built = target.build(model, config, request)
    max_diff = _check(target, request, model, config, built) if request.check else None
    sidecar = write_sidecar(
        output,
        InputSpec.from_model(model_dir, config),
        export_format=target.name,
        input_kind=input_kind_of(config, request.input_kind),
        embedding_dim=embedding_dim_of(model, config),
        opset=request.opset if target.uses_opset else None,
        precision=target.precision,
        extra=built.extra,
    )
    return ExportResult(output, built.input_shape, max_diff, sidecar)


def _check(
    target: ExportTarget, request: ExportRequest, model: Any, config: Any, built: Built
) -> float | None:
    """The parity check in the target's own runtime; None for a target with no runtime here."""
    graph = {
        "input_name": INPUT_NAME,
        "output_name": OUTPUT_NAME,
        "input_shape": ["batch", *built.input_shape],
    }
    runtime = target.runtime(request, graph)
    if runtime is None:
        return None
    batches = check_inputs(request.model_dir, config, request.input_kind, request.check_images)
    return check_parity(
        str(request.output),
        runtime,
        model,
        batches,
        lambda name, output, reference: target.compare(name, output, reference, request.atol),
    )


def export_onnx(model_dir: str | Path, output_path: str | Path | None = None, **options: Any) -> ExportResult:
    """Export `model_dir`'s embedding to float32 ONNX with a dynamic batch axis (`export_model(..., "onnx")`)."""
    return export_model(model_dir, "onnx", output_path, **options)
