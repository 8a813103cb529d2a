"""OpenVINO IR (`model.xml`/`.bin` in a `<name>_openvino_model/` folder, boxmot's suffix) converted from the
float32 ONNX graph with float32 weights; checked in OpenVINO's CPU runtime at f32 inference precision."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from ..inference.runtimes import OpenVINORuntime
from .target import Built, ExportRequest, ExportTarget, missing_dependency
from .tracing import trace_onnx

if TYPE_CHECKING:
    from ..configuration_iaunet import IAUnetConfig

XML_NAME = "model.xml"


class OpenVINOTarget(ExportTarget):
    name, default_name = "openvino", "model_openvino_model"

    def prepare(self, request: ExportRequest) -> None:
        try:
            import openvino  # noqa: F401
        except ImportError as error:
            raise missing_dependency(
                "openvino", "the 'openvino' extra (pip install iaunet-hf[openvino])"
            ) from error

    def build(self, model: nn.Module, config: IAUnetConfig, request: ExportRequest) -> Built:
        import openvino

        request.output.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            onnx_path = Path(tmp) / "model.onnx"
            input_shape = trace_onnx(model, config, onnx_path, request.input_kind, request.opset)
            # read_model (the ONNX frontend as is): convert_model's extra graph rewrites changed the output here
            converted = openvino.Core().read_model(str(onnx_path))
            openvino.save_model(converted, str(request.output / XML_NAME), compress_to_fp16=False)
        return Built(input_shape, {"xml": XML_NAME})

    def runtime(self, request: ExportRequest, sidecar: dict[str, Any]) -> OpenVINORuntime:
        return OpenVINORuntime(request.output / XML_NAME, sidecar, "cpu", "fp32")
