"""TensorRT engine (`.engine`) from the float32 ONNX graph, fp16 with CIAU's attention layers kept in float32.

Needs a GPU and the `tensorrt` Python package (not an extra of this package: it is tied to the CUDA install).
Equivalent command line (layer names from `trtexec --dumpLayerInfo`):
`trtexec --onnx=model.onnx --saveEngine=model.engine --fp16 --precisionConstraints=obey
--layerPrecisions=<CIAU MatMul/Softmax layers>:fp32 --minShapes=pixel_values:1x3x256x128
--optShapes=pixel_values:32x3x256x128 --maxShapes=pixel_values:128x3x256x128`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from .export import (
    INPUT_NAME,
    ExportResult,
    InputSpec,
    embedding_dim_of,
    input_kind_of,
    load_embedding_model,
    trace_onnx,
    write_sidecar,
)


def export_tensorrt(
    model_dir: str | Path,
    output: Path,
    *,
    input_kind: str | None = None,
    opset: int = 18,
    max_batch: int = 128,
    opt_batch: int = 32,
    check: bool = False,
    **_unused: object,
) -> ExportResult:
    """Build a serialized fp16 engine with an optimisation profile over the batch axis (1..`max_batch`)."""
    try:
        import tensorrt as trt
    except ImportError as error:
        raise ValueError(
            "tensorrt is not installed; expected NVIDIA's tensorrt Python package on a machine with a GPU "
            "(or run the trtexec command in iaunet_hf/hub/export_tensorrt.py on the ONNX export)"
        ) from error
    import onnx

    from .export_targets import ciau_attention_nodes

    model, config = load_embedding_model(model_dir)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / "model.onnx"
        input_shape = trace_onnx(model, config, onnx_path, input_kind, opset)
        kept = set(ciau_attention_nodes(onnx.load(str(onnx_path))))
        logger = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(logger)
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, logger)
        if not parser.parse_from_file(str(onnx_path)):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise ValueError(f"TensorRT could not parse the ONNX export: {errors}")
    builder_config = builder.create_builder_config()
    builder_config.set_flag(trt.BuilderFlag.FP16)
    builder_config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        if any(layer.name == name or layer.name.startswith(f"{name}_") for name in kept):
            layer.precision = trt.float32
            for output_index in range(layer.num_outputs):
                layer.set_output_type(output_index, trt.float32)
    profile = builder.create_optimization_profile()
    profile.set_shape(INPUT_NAME, (1, *input_shape), (opt_batch, *input_shape), (max_batch, *input_shape))
    builder_config.add_optimization_profile(profile)
    engine = builder.build_serialized_network(network, builder_config)
    if engine is None:
        raise ValueError("TensorRT failed to build the engine; see its log above")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(bytes(engine))
    sidecar = write_sidecar(
        output,
        InputSpec.from_model(model_dir, config),
        export_format="tensorrt",
        input_kind=input_kind_of(config, input_kind),
        embedding_dim=embedding_dim_of(model, config),
        opset=opset,
        precision="fp16",
        extra={"fp32_layers": sorted(kept), "batch_range": [1, max_batch]},
    )
    return ExportResult(output, input_shape, None, sidecar)
