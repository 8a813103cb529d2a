"""The exported graphs raise CIAU's softmax inputs to their row max minus 80 (``bound_ciau_softmax``): no weight
underflows (the slow path of a CPU's exp), and the result is the plain softmax's to float32 precision."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

from iaunet_hf.export.onnx_graph import CIAU_CLASS, bound_ciau_softmax  # noqa: E402

TINY = np.finfo(np.float32).tiny


def ciau_like_graph(opset: int) -> onnx.ModelProto:
    """softmax(X X^T) X over (1, C, HW) rows, its nodes tagged as CIAU's like the exporter tags them."""
    nodes = [
        helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 2, 1], name="transpose"),
        helper.make_node("MatMul", ["x", "xt"], ["gram"], name="gram"),
        helper.make_node("Softmax", ["gram"], ["weights"], axis=-1, name="softmax"),
        helper.make_node("MatMul", ["weights", "x"], ["y"], name="aggregate"),
    ]
    for node in nodes:
        node.metadata_props.add(key="pkg.torch.onnx.class_hierarchy", value=f"['IAUnet', '{CIAU_CLASS}']")
    shape = ["batch", 256, 64]
    graph = helper.make_graph(
        nodes,
        "ciau",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, shape),
            helper.make_tensor_value_info("weights", TensorProto.FLOAT, ["batch", 256, 256]),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def run(model: onnx.ModelProto, features: np.ndarray) -> list[np.ndarray]:
    onnx.checker.check_model(model)
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": features})


@pytest.mark.parametrize("opset", [17, 18])
def test_floor_removes_denormal_weights_and_keeps_the_result(opset):
    rng = np.random.default_rng(0)
    features = (np.maximum(rng.normal(size=(2, 256, 64)), 0) * 4).astype(np.float32)  # post-ReLU rows
    plain_output, plain_weights = run(ciau_like_graph(opset), features)
    underflow = plain_weights < TINY
    assert underflow.mean() > 0.5  # raw Gram entries: most plain softmax weights underflow (denormal or 0)

    bounded = bound_ciau_softmax(ciau_like_graph(opset))
    assert [node.op_type for node in bounded.graph.node] == [
        "Transpose", "MatMul", "ReduceMax", "Sub", "Max", "Softmax", "MatMul"
    ]  # fmt: skip
    output, weights = run(bounded, features)
    assert weights.min() >= TINY  # every weight a normal float32
    assert weights[underflow].max() <= np.exp(-80.0)  # and what underflowed stays below 1.8e-35
    kept = plain_weights > 1e-30
    np.testing.assert_array_equal(weights[kept], plain_weights[kept])
    np.testing.assert_allclose(output, plain_output, rtol=1e-6, atol=1e-30)  # zeros may become < 1e-30


def test_graph_without_ciau_is_unchanged():
    model = ciau_like_graph(18)
    for node in model.graph.node:
        del node.metadata_props[:]
    before = model.SerializeToString()
    assert bound_ciau_softmax(model).SerializeToString() == before
