"""Export targets beyond float32 ONNX: fp16 and int8 ONNX, OpenVINO IR, torch.export `.pt2`, TensorRT engine.

Each target writes its file (named the way boxmot picks a backend by suffix: `.onnx`, `_openvino_model/`,
`.engine`; `.pt2` for torch.export), the sidecar JSON of `export.py`, and, where a runtime is installed, a
parity check against PyTorch on the same inputs (real images when `check_images` are given).

Reduced precision keeps CIAU's Gram matrix and softmax in float32: the raw Gram entries leave fp16's range
(spec §1a), so those nodes are excluded from fp16 conversion and from int8 quantisation.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .export import (
    INPUT_NAME,
    OUTPUT_NAME,
    ExportResult,
    InputSpec,
    check_inputs,
    compare_embeddings,
    embedding_dim_of,
    example_input,
    export_onnx,
    input_kind_of,
    load_embedding_model,
    onnx_session,
    trace_onnx,
    write_sidecar,
)

logger = logging.getLogger(__name__)

# output name beside the checkpoint when none is given (boxmot's suffix conventions)
DEFAULT_NAMES = {
    "onnx": "model.onnx",
    "onnx-fp16": "model_fp16.onnx",
    "onnx-int8": "model_int8.onnx",
    "openvino": "model_openvino_model",
    "torch-export": "model.pt2",
    "tensorrt": "model.engine",
}
EXPORT_FORMATS = tuple(DEFAULT_NAMES)
# Reduced-precision tolerances against PyTorch float32: fp16 within 2% of the largest embedding entry
# (CIAU's softmax over the raw Gram amplifies the float16 rounding of its input),
# int8 by direction (what cosine retrieval uses): every row's cosine similarity to PyTorch's >= 0.95.
REDUCED_TOLERANCES = {
    "onnx-fp16": {"relative": 2e-2, "cosine": 0.999},
    "onnx-int8": {"relative": None, "cosine": 0.95},
}
CIAU_CLASS = "ChannelInteraction"


def ciau_attention_nodes(model: Any) -> list[str]:
    """Names of the ONNX nodes inside CIAU blocks other than its update conv (the Gram/softmax/aggregation),
    found through the exporter's `pkg.torch.onnx.class_hierarchy` metadata."""
    names = []
    for node in model.graph.node:
        hierarchy = next(
            (p.value for p in node.metadata_props if p.key == "pkg.torch.onnx.class_hierarchy"), ""
        )
        if CIAU_CLASS in hierarchy and node.op_type not in ("Conv", "BatchNormalization"):
            names.append(node.name)
    return names


def reduced_precision_check(
    name: str, runtime: np.ndarray, reference: np.ndarray, export_format: str
) -> float:
    """Check a reduced-precision graph's embeddings against PyTorch (`REDUCED_TOLERANCES`); max abs diff."""
    tolerance = REDUCED_TOLERANCES[export_format]
    relative = tolerance["relative"]
    atol = np.inf if relative is None else relative * float(np.abs(reference).max())
    diff = compare_embeddings(name, runtime, reference, atol)
    cosine = (runtime * reference).sum(1) / (
        np.linalg.norm(runtime, axis=1) * np.linalg.norm(reference, axis=1)
    )
    if cosine.min() < tolerance["cosine"]:
        raise ValueError(
            f"{name}: cosine similarity to PyTorch down to {cosine.min():.4f}; expected >= {tolerance['cosine']}"
        )
    return diff


def _torch_embeddings(model: torch.nn.Module, batches: Sequence[torch.Tensor]) -> list[np.ndarray]:
    with torch.no_grad():
        return [model(batch).numpy() for batch in batches]


def _check_onnx(path: Path, model, batches, export_format: str, atol: float = 1e-4) -> float:
    session = onnx_session(path)
    diffs = []
    for batch, reference in zip(batches, _torch_embeddings(model, batches)):
        (output,) = session.run([OUTPUT_NAME], {INPUT_NAME: batch.numpy()})
        if export_format == "onnx":
            diffs.append(compare_embeddings(str(path), output, reference, atol))
        else:
            diffs.append(reduced_precision_check(str(path), output, reference, export_format))
    return max(diffs)


def export_onnx_fp16(
    model_dir: str | Path,
    output: Path,
    *,
    input_kind: str | None = None,
    opset: int = 18,
    check: bool = True,
    check_images: Sequence[str | Path] | None = None,
) -> ExportResult:
    """Float16 ONNX with float32 inputs/outputs and CIAU's attention in float32 (onnxruntime's converter)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model, config = load_embedding_model(model_dir)
    with tempfile.TemporaryDirectory() as tmp:
        fp32_path = Path(tmp) / "model.onnx"
        input_shape = trace_onnx(model, config, fp32_path, input_kind, opset)
        graph = onnx.load(str(fp32_path))
    kept = ciau_attention_nodes(graph)
    fp16 = keep_float32_between(
        convert_float_to_float16(graph, keep_io_types=True, node_block_list=kept), kept
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(fp16, str(output))
    diff = None
    if check:
        batches = check_inputs(model_dir, config, input_kind, check_images)
        diff = _check_onnx(output, model, batches, "onnx-fp16")
    sidecar = _sidecar(
        output, model_dir, model, config, "onnx-fp16", input_kind, opset, "fp16", {"fp32_nodes": kept}
    )
    return ExportResult(output, input_shape, diff, sidecar)


def keep_float32_between(model: Any, float32_nodes: Sequence[str]) -> Any:
    """Drop the float32 -> float16 -> float32 round trips the converter puts between two float32 nodes.

    onnxruntime's converter casts every blocked node's output to float16 and back for the next blocked node,
    so the raw Gram (Gram MatMul -> Softmax) would still overflow float16 on its way to the softmax.
    """
    from onnx import TensorProto

    producer = {output: node for node in model.graph.node for output in node.output}
    kept = set(float32_nodes)
    rewire: dict[str, str] = {}
    for node in model.graph.node:
        if node.op_type != "Cast" or node.attribute[0].i != TensorProto.FLOAT:
            continue
        source = producer.get(node.input[0])
        if source is None or source.op_type != "Cast" or source.attribute[0].i != TensorProto.FLOAT16:
            continue
        origin = producer.get(source.input[0])
        if origin is not None and origin.name in kept:
            rewire[node.output[0]] = source.input[0]  # the float32 tensor itself
    for node in model.graph.node:
        for index, name in enumerate(node.input):
            if name in rewire:
                node.input[index] = rewire[name]
    used = {name for node in model.graph.node for name in node.input} | {o.name for o in model.graph.output}
    dead = [node for node in model.graph.node if node.op_type == "Cast" and not set(node.output) & used]
    for node in dead:
        model.graph.node.remove(node)
    return model


# Op types whose weight onnxruntime's QDQ quantiser looks up per channel along axis 1 (MatMul: every initializer
# input; the normalisations: their scale, input 1). On a rank-1 weight that axis does not exist: onnxruntime then
# logs "Axis 1 is out-of-range for weight ..." on the root logger and quantises the tensor per tensor.
_AXIS_1_WEIGHT_INPUTS = {
    "MatMul": (0, 1),
    "BatchNormalization": (1,),
    "InstanceNormalization": (1,),
    "LayerNormalization": (1,),
}


def per_tensor_overrides(model: Any) -> dict[str, list[dict]]:
    """`TensorQuantOverrides` asking for per-tensor quantisation of the rank-1 weights listed above.

    That is what onnxruntime falls back to for them anyway (the int8 graph is unchanged), but asked for
    explicitly the quantiser has no out-of-range axis to warn about: BN neck and relation-norm scales, and the
    1-D right operands the exporter makes of CIAU/STIAU vectors.
    """
    ranks = {tensor.name: len(tensor.dims) for tensor in model.graph.initializer}
    overrides: dict[str, list[dict]] = {}
    for node in model.graph.node:
        for index in _AXIS_1_WEIGHT_INPUTS.get(node.op_type, ()):
            if index < len(node.input) and ranks.get(node.input[index], 2) < 2:
                overrides[node.input[index]] = [{}]  # a per-tensor override with the default settings
    return overrides


class _CalibrationReader:
    """onnxruntime's CalibrationDataReader over batches of preprocessed images."""

    def __init__(self, batches: Sequence[np.ndarray]) -> None:
        self._batches = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {INPUT_NAME: batch}


def export_onnx_int8(
    model_dir: str | Path,
    output: Path,
    calibration: Sequence[np.ndarray],
    *,
    input_kind: str | None = None,
    opset: int = 18,
    check: bool = True,
    check_images: Sequence[str | Path] | None = None,
) -> ExportResult:
    """Int8 ONNX (QDQ, per-channel weights) by onnxruntime's static quantisation, calibrated on `calibration`
    (float32 input batches, e.g. `dataset_batches` of a training split); CIAU's attention stays float32."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not calibration:
        raise ValueError("calibration: expected at least one batch of preprocessed images, found none")
    model, config = load_embedding_model(model_dir)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32_path, prepared = Path(tmp) / "model.onnx", Path(tmp) / "prepared.onnx"
        input_shape = trace_onnx(model, config, fp32_path, input_kind, opset)
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        kept = ciau_attention_nodes(onnx.load(str(fp32_path)))
        overrides = per_tensor_overrides(onnx.load(str(prepared)))
        quantize_static(
            str(prepared),
            str(output),
            _CalibrationReader(calibration),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=kept,
            extra_options={"TensorQuantOverrides": overrides},
        )
    diff = None
    if check:
        batches = check_inputs(model_dir, config, input_kind, check_images)
        diff = _check_onnx(output, model, batches, "onnx-int8")
    extra = {"calibration_images": int(sum(len(batch) for batch in calibration)), "fp32_nodes": kept}
    sidecar = _sidecar(output, model_dir, model, config, "onnx-int8", input_kind, opset, "int8", extra)
    return ExportResult(output, input_shape, diff, sidecar)


def export_openvino(
    model_dir: str | Path,
    output: Path,
    *,
    input_kind: str | None = None,
    opset: int = 18,
    check: bool = True,
    atol: float = 1e-4,
    check_images: Sequence[str | Path] | None = None,
) -> ExportResult:
    """OpenVINO IR (`model.xml`/`.bin` in a `<name>_openvino_model/` folder) converted from the ONNX graph,
    float32 weights; checked with OpenVINO's CPU runtime at f32 inference precision."""
    try:
        import openvino
    except ImportError as error:
        raise ValueError(
            "openvino is not installed; expected the 'openvino' extra (pip install iaunet-hf[openvino])"
        ) from error
    model, config = load_embedding_model(model_dir)
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / "model.onnx"
        input_shape = trace_onnx(model, config, onnx_path, input_kind, opset)
        # read_model (the ONNX frontend as is): convert_model's extra graph rewrites changed the output here
        converted = openvino.Core().read_model(str(onnx_path))
        openvino.save_model(converted, str(output / "model.xml"), compress_to_fp16=False)
    diff = None
    if check:
        compiled = openvino.Core().compile_model(
            str(output / "model.xml"), "CPU", {"INFERENCE_PRECISION_HINT": "f32"}
        )
        batches = check_inputs(model_dir, config, input_kind, check_images)
        diff = max(
            compare_embeddings(str(output), compiled(batch.numpy())[compiled.output(0)], reference, atol)
            for batch, reference in zip(batches, _torch_embeddings(model, batches))
        )
    sidecar = _sidecar(
        output, model_dir, model, config, "openvino", input_kind, opset, "fp32", {"xml": "model.xml"}
    )
    return ExportResult(output, input_shape, diff, sidecar)


def export_torch_program(
    model_dir: str | Path,
    output: Path,
    *,
    input_kind: str | None = None,
    check: bool = True,
    atol: float = 1e-4,
    check_images: Sequence[str | Path] | None = None,
) -> ExportResult:
    """A `torch.export` program with a dynamic batch axis saved as `.pt2` (`torch.export.load(path).module()`)."""
    model, config = load_embedding_model(model_dir)
    traced = example_input(config, input_kind, batch_size=2)
    batch = torch.export.Dim("batch", min=1, max=4096)
    program = torch.export.export(model, (traced,), dynamic_shapes={"pixel_values": {0: batch}})
    output.parent.mkdir(parents=True, exist_ok=True)
    torch.export.save(program, str(output))
    diff = None
    if check:
        loaded = torch.export.load(str(output)).module()
        batches = check_inputs(model_dir, config, input_kind, check_images)
        with torch.no_grad():
            diff = max(
                compare_embeddings(str(output), loaded(batch).numpy(), reference, atol)
                for batch, reference in zip(batches, _torch_embeddings(model, batches))
            )
    sidecar = _sidecar(output, model_dir, model, config, "torch-export", input_kind, None, "fp32", {})
    return ExportResult(output, tuple(traced.shape[1:]), diff, sidecar)


def _sidecar(output, model_dir, model, config, export_format, input_kind, opset, precision, extra) -> Path:
    return write_sidecar(
        output,
        InputSpec.from_model(model_dir, config),
        export_format=export_format,
        input_kind=input_kind_of(config, input_kind),
        embedding_dim=embedding_dim_of(model, config),
        opset=opset,
        precision=precision,
        extra=extra,
    )


def export_model(
    model_dir: str | Path,
    export_format: str = "onnx",
    output_path: str | Path | None = None,
    **options: Any,
) -> ExportResult:
    """Export `model_dir` to `export_format` (one of `EXPORT_FORMATS`); `options` go to that format's function."""
    if export_format not in EXPORT_FORMATS:
        raise ValueError(
            f"export format {export_format!r} is not supported; expected one of {EXPORT_FORMATS}"
        )
    output = Path(output_path) if output_path is not None else Path(model_dir) / DEFAULT_NAMES[export_format]
    if export_format == "onnx":
        return export_onnx(model_dir, output, **options)
    if export_format == "onnx-fp16":
        return export_onnx_fp16(model_dir, output, **options)
    if export_format == "onnx-int8":
        return export_onnx_int8(model_dir, output, **options)
    if export_format == "openvino":
        return export_openvino(model_dir, output, **options)
    if export_format == "torch-export":
        options.pop("opset", None)
        return export_torch_program(model_dir, output, **options)
    from .export_tensorrt import export_tensorrt

    return export_tensorrt(model_dir, output, **options)
