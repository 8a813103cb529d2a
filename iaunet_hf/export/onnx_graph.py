"""ONNX graph surgery for reduced precision: which nodes stay float32, and how the converters are told.

Reduced precision keeps CIAU's Gram matrix and softmax in float32: the raw Gram entries leave fp16's range
(spec §1a), so those nodes are excluded from fp16 conversion, from int8 quantisation and from TensorRT's
fp16 layers. The helpers work on `onnx.ModelProto` objects and import nothing heavy themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

CIAU_CLASS = "ChannelInteraction"
_FLOAT, _FLOAT16 = 1, 10  # onnx.TensorProto.FLOAT and FLOAT16

# Op types whose weight onnxruntime's QDQ quantiser looks up per channel along axis 1 (MatMul: every initializer
# input; the normalisations: their scale, input 1). On a rank-1 weight that axis does not exist: onnxruntime then
# logs "Axis 1 is out-of-range for weight ..." on the root logger and quantises the tensor per tensor.
_AXIS_1_WEIGHT_INPUTS = {
    "MatMul": (0, 1),
    "BatchNormalization": (1,),
    "InstanceNormalization": (1,),
    "LayerNormalization": (1,),
}


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


def keep_float32_between(model: Any, float32_nodes: Sequence[str]) -> Any:
    """Drop the float32 -> float16 -> float32 round trips the converter puts between two float32 nodes.

    onnxruntime's converter casts every blocked node's output to float16 and back for the next blocked node,
    so the raw Gram (Gram MatMul -> Softmax) would still overflow float16 on its way to the softmax.
    """
    producer = {output: node for node in model.graph.node for output in node.output}
    kept = set(float32_nodes)
    rewire: dict[str, str] = {}
    for node in model.graph.node:
        if node.op_type != "Cast" or node.attribute[0].i != _FLOAT:
            continue
        source = producer.get(node.input[0])
        if source is None or source.op_type != "Cast" or source.attribute[0].i != _FLOAT16:
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


# exp(-SOFTMAX_FLOOR) = 1.8e-35 is a normal float32 (the smallest is exp(-87.3)); see bound_ciau_softmax
SOFTMAX_FLOOR = 80.0


def bound_ciau_softmax(model: Any) -> Any:
    """Raise every input of CIAU's softmax to at least its row's max minus ``SOFTMAX_FLOOR``.

    The raw Gram entries reach the thousands (spec §1a), so almost every softmax weight underflows float32's
    normal range, to a denormal or to 0, and the CPU takes its denormal slow path for each: ONNX Runtime spent
    about 10x longer in that softmax (and the product after it) than on normal numbers, most of IAUnet's
    overhead there. Raised to the floor, those weights become exp(-80) / sum <= 1.8e-35, normal and still
    invisible in float32 (the aggregation's entries carry about 1e-7 relative precision). The new nodes carry
    the softmax's metadata, so the reduced-precision converters keep them float32 with it.
    """
    import numpy as np
    from onnx import helper, numpy_helper

    opset = next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), 18)
    ciau = set(ciau_attention_nodes(model))
    softmaxes = [node for node in model.graph.node if node.op_type == "Softmax" and node.name in ciau]
    if not softmaxes:
        return model
    floor_name = "ciau_softmax_floor"
    model.graph.initializer.append(numpy_helper.from_array(np.array(SOFTMAX_FLOOR, np.float32), floor_name))
    if opset >= 18:
        model.graph.initializer.append(numpy_helper.from_array(np.array([-1], np.int64), "ciau_softmax_axes"))
    nodes = list(model.graph.node)
    for softmax in softmaxes:
        scores, stem = softmax.input[0], softmax.name
        if opset >= 18:
            row_max = helper.make_node(
                "ReduceMax", [scores, "ciau_softmax_axes"], [f"{stem}_row_max"], keepdims=1
            )
        else:
            row_max = helper.make_node("ReduceMax", [scores], [f"{stem}_row_max"], axes=[-1], keepdims=1)
        lowest = helper.make_node("Sub", [f"{stem}_row_max", floor_name], [f"{stem}_lowest"])
        bounded = helper.make_node("Max", [scores, f"{stem}_lowest"], [f"{stem}_bounded"])
        for new, suffix in ((row_max, "row_max"), (lowest, "lowest"), (bounded, "bounded")):
            new.name = f"{stem}_{suffix}"
            new.metadata_props.extend(softmax.metadata_props)
        softmax.input[0] = f"{stem}_bounded"
        position = nodes.index(softmax)
        nodes[position:position] = [row_max, lowest, bounded]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model
