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


def _constant_values(model: Any) -> dict[str, list[int]]:
    """Integer initializers and Constant outputs by name (the indices and axes the pattern checks)."""
    from onnx import numpy_helper  # deferred like every onnx use here: the helpers import nothing heavy

    values = {t.name: numpy_helper.to_array(t).reshape(-1).tolist() for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t).reshape(-1).tolist()
    return values


def _attention_chains(model: Any) -> list[tuple[Any, ...]]:
    """(rows, unsqueeze, gram, softmax, aggregate, select) for each softmax(X Xᵀ) X the exporter wrote as one
    4-D scaled_dot_product_attention head: Unsqueeze(X, 1) -> MatMul(U, Uᵀ) -> Softmax -> MatMul(P, U) -> Gather."""
    producer = {output: node for node in model.graph.node for output in node.output}
    constants = _constant_values(model)
    chains = []
    for select in model.graph.node:
        if select.op_type != "Gather" or constants.get(select.input[1]) != [0]:
            continue
        if next((a.i for a in select.attribute if a.name == "axis"), 0) != 1:
            continue
        aggregate = producer.get(select.input[0])
        if aggregate is None or aggregate.op_type != "MatMul":
            continue
        softmax, unsqueeze = producer.get(aggregate.input[0]), producer.get(aggregate.input[1])
        if softmax is None or softmax.op_type != "Softmax" or unsqueeze is None:
            continue
        gram = producer.get(softmax.input[0])
        if unsqueeze.op_type != "Unsqueeze" or constants.get(unsqueeze.input[1]) != [1]:
            continue
        if gram is None or gram.op_type != "MatMul" or gram.input[0] != unsqueeze.output[0]:
            continue
        chains.append((unsqueeze.input[0], unsqueeze, gram, softmax, aggregate, select))
    return chains


def _remove_dead_nodes(model: Any) -> None:
    """Drop nodes none of whose outputs is used (repeatedly, so whole dead chains go)."""
    while True:
        used = {name for node in model.graph.node for name in node.input}
        used |= {output.name for output in model.graph.output}
        dead = [node for node in model.graph.node if not set(node.output) & used]
        if not dead:
            return
        for node in dead:
            model.graph.node.remove(node)
        used = {name for node in model.graph.node for name in node.input}
        for tensor in [t for t in model.graph.initializer if t.name not in used]:
            model.graph.initializer.remove(tensor)


def three_dimensional_attention(model: Any) -> Any:
    """Rewrite each CIAU softmax(X Xᵀ) X from the exporter's one-head 4-D attention to 3-D Transpose/MatMul.

    The same arithmetic, as standard ONNX. The exporter writes the (B, TC, HW) rows as a (B, 1, TC, HW) head
    against a (B, HW, TC) transposed key built through Shape/Slice/Concat/Reshape; onnxruntime's MatMul then
    broadcasts a 4-D by a 3-D operand, 2.5x slower than the plain batched 3-D products (benchmark_inference.py).
    The new nodes take the old nodes' names and metadata, so `ciau_attention_nodes` still finds them.
    """
    from onnx import helper

    for rows, _, gram, softmax, aggregate, select in _attention_chains(model):
        transposed = f"{gram.output[0]}_rows_t"
        replacements = [
            (
                gram,
                helper.make_node("Transpose", [rows], [transposed], name=f"{gram.name}_t", perm=[0, 2, 1]),
            ),
            (gram, helper.make_node("MatMul", [rows, transposed], [gram.output[0]], name=gram.name)),
            (
                softmax,
                helper.make_node(
                    "Softmax", [gram.output[0]], [softmax.output[0]], name=softmax.name, axis=-1
                ),
            ),
            (
                aggregate,
                helper.make_node(
                    "MatMul", [softmax.output[0], rows], [select.output[0]], name=aggregate.name
                ),
            ),
        ]
        reshaped = {gram.output[0], softmax.output[0]}  # now (B, TC, TC): drop their recorded 4-D shapes
        for info in [v for v in model.graph.value_info if v.name in reshaped]:
            model.graph.value_info.remove(info)
        position = list(model.graph.node).index(gram)
        for old in (gram, softmax, aggregate, select):
            model.graph.node.remove(old)
        for offset, (old, new) in enumerate(replacements):
            new.metadata_props.extend(old.metadata_props)
            model.graph.node.insert(position + offset, new)
    _remove_dead_nodes(model)
    return model
