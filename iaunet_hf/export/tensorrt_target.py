"""TensorRT engine (`.engine`) from the float32 ONNX graph, fp16 with CIAU's attention layers kept in float32.

Needs a GPU and the `tensorrt` Python package (not an extra of this package: it is tied to the CUDA install),
so the engine has no parity check here. Equivalent command line (layer names from `trtexec --dumpLayerInfo`):
`trtexec --onnx=model.onnx --saveEngine=model.engine --fp16 --precisionConstraints=obey
--layerPrecisions=<CIAU MatMul/Softmax layers>:fp32 --minShapes=pixel_values:1x3x256x128
--optShapes=pixel_values:32x3x256x128 --maxShapes=pixel_values:128x3x256x128`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from ..inference.sidecar import INPUT_NAME
from .onnx_graph import ciau_attention_nodes
from .target import Built, ExportRequest, ExportTarget, missing_dependency
from .tracing import trace_onnx

if TYPE_CHECKING:
    from ..configuration_iaunet import IAUnetConfig


class TensorRTTarget(ExportTarget):
    """A serialized fp16 engine with an optimisation profile over the batch axis (1..`max_batch`)."""

    name, default_name, precision = "tensorrt", "model.engine", "fp16"
    option_defaults = {"max_batch": 128, "opt_batch": 32}

    def prepare(self, request: ExportRequest) -> None:
        try:
            import tensorrt  # noqa: F401
        except ImportError as error:
            raise missing_dependency(
                "tensorrt",
                "NVIDIA's tensorrt Python package on a machine with a GPU "
                "(or run the trtexec command in iaunet_hf/export/tensorrt_target.py on the ONNX export)",
            ) from error

    def build(self, model: nn.Module, config: IAUnetConfig, request: ExportRequest) -> Built:
        import onnx
        import tensorrt as trt

        max_batch, opt_batch = request.options["max_batch"], request.options["opt_batch"]
        logger = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(logger)
        network = builder.create_network(0)
        with tempfile.TemporaryDirectory() as tmp:
            onnx_path = Path(tmp) / "model.onnx"
            input_shape = trace_onnx(model, config, onnx_path, request.input_kind, request.opset)
            kept = set(ciau_attention_nodes(onnx.load(str(onnx_path))))
            parser = trt.OnnxParser(network, logger)
            if not parser.parse_from_file(str(onnx_path)):
                errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
                raise ValueError(f"TensorRT could not parse the ONNX export: {errors}")
        builder_config = builder.create_builder_config()
        builder_config.set_flag(trt.BuilderFlag.FP16)
        builder_config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
        _keep_float32(network, kept, trt.float32)
        profile = builder.create_optimization_profile()
        profile.set_shape(INPUT_NAME, (1, *input_shape), (opt_batch, *input_shape), (max_batch, *input_shape))
        builder_config.add_optimization_profile(profile)
        engine = builder.build_serialized_network(network, builder_config)
        if engine is None:
            raise ValueError("TensorRT failed to build the engine; see its log above")
        request.output.parent.mkdir(parents=True, exist_ok=True)
        request.output.write_bytes(bytes(engine))
        return Built(input_shape, {"fp32_layers": sorted(kept), "batch_range": [1, max_batch]})


def _keep_float32(network: Any, kept: set[str], float32: Any) -> None:
    """Pin the layers TensorRT made of the kept ONNX nodes (same name, or name + suffix) to float32."""
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        if any(layer.name == name or layer.name.startswith(f"{name}_") for name in kept):
            layer.precision = float32
            for output_index in range(layer.num_outputs):
                layer.set_output_type(output_index, float32)
