"""The ONNX targets: float32, float16 (CIAU's attention kept float32) and int8 (onnxruntime's static QDQ
quantisation, calibrated on real images). All three run in onnxruntime for their parity check."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import nn

from ..inference.runtimes import OnnxRuntime
from ..inference.sidecar import INPUT_NAME
from .onnx_graph import ciau_attention_nodes, keep_float32_between, per_tensor_overrides
from .parity import reduced_precision_check
from .target import Built, ExportRequest, ExportTarget
from .tracing import trace_onnx

if TYPE_CHECKING:
    from ..configuration_iaunet import IAUnetConfig


class OnnxTarget(ExportTarget):
    """Float32 ONNX with a dynamic batch axis (`torch.onnx.export(dynamo=True)` on the timm face)."""

    name, default_name = "onnx", "model.onnx"

    def build(self, model: nn.Module, config: IAUnetConfig, request: ExportRequest) -> Built:
        return Built(trace_onnx(model, config, request.output, request.input_kind, request.opset))

    def runtime(self, request: ExportRequest, sidecar: dict[str, Any]) -> OnnxRuntime:
        return OnnxRuntime(request.output, sidecar)


class _ReducedOnnxTarget(OnnxTarget):
    """An ONNX target judged by `REDUCED_TOLERANCES` rather than an absolute tolerance."""

    def compare(self, name: str, runtime: np.ndarray, reference: np.ndarray, atol: float) -> float:
        return reduced_precision_check(name, runtime, reference, self.name)


class OnnxFp16Target(_ReducedOnnxTarget):
    """Float16 ONNX with float32 inputs/outputs and CIAU's attention in float32 (onnxruntime's converter)."""

    name, default_name, precision = "onnx-fp16", "model_fp16.onnx", "fp16"

    def build(self, model: nn.Module, config: IAUnetConfig, request: ExportRequest) -> Built:
        import onnx
        from onnxruntime.transformers.float16 import convert_float_to_float16

        with tempfile.TemporaryDirectory() as tmp:
            fp32_path = Path(tmp) / "model.onnx"
            input_shape = trace_onnx(model, config, fp32_path, request.input_kind, request.opset)
            graph = onnx.load(str(fp32_path))
        kept = ciau_attention_nodes(graph)
        fp16 = keep_float32_between(
            convert_float_to_float16(graph, keep_io_types=True, node_block_list=kept), kept
        )
        request.output.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(fp16, str(request.output))
        return Built(input_shape, {"fp32_nodes": kept})


class _CalibrationReader:
    """onnxruntime's CalibrationDataReader over batches of preprocessed images."""

    def __init__(self, batches: Sequence[np.ndarray]) -> None:
        self._batches = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {INPUT_NAME: batch}


class OnnxInt8Target(_ReducedOnnxTarget):
    """Int8 ONNX (QDQ, per-channel weights) by onnxruntime's static quantisation, calibrated on `calibration`
    (float32 input batches, e.g. `dataset_batches` of a training split); CIAU's attention stays float32."""

    name, default_name, precision, calibrated = "onnx-int8", "model_int8.onnx", "int8", True
    option_defaults = {"calibration": None}

    def prepare(self, request: ExportRequest) -> None:
        if not request.options.get("calibration"):
            raise ValueError("calibration: expected at least one batch of preprocessed images, found none")

    def build(self, model: nn.Module, config: IAUnetConfig, request: ExportRequest) -> Built:
        import onnx
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
        from onnxruntime.quantization.shape_inference import quant_pre_process

        calibration = request.options["calibration"]
        request.output.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            fp32_path, prepared = Path(tmp) / "model.onnx", Path(tmp) / "prepared.onnx"
            input_shape = trace_onnx(model, config, fp32_path, request.input_kind, request.opset)
            quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
            kept = ciau_attention_nodes(onnx.load(str(fp32_path)))
            quantize_static(
                str(prepared),
                str(request.output),
                _CalibrationReader(calibration),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
                nodes_to_exclude=kept,
                extra_options={"TensorQuantOverrides": per_tensor_overrides(onnx.load(str(prepared)))},
            )
        images = int(sum(len(batch) for batch in calibration))
        return Built(input_shape, {"calibration_images": images, "fp32_nodes": kept})
