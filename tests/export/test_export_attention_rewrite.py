"""The post-export rewrite of CIAU's softmax(X Xᵀ) X into 3-D products: found in the trace, same numbers in
onnxruntime, standard ONNX, and the CIAU nodes still known to the fp16/int8 converters."""

import numpy as np
import onnx
import onnxruntime
import torch

from iaunet_hf.export.inputs import example_input
from iaunet_hf.export.onnx_graph import _attention_chains, ciau_attention_nodes, three_dimensional_attention
from iaunet_hf.export.tracing import trace_onnx
from iaunet_hf.inference import embed, load_embedding_model


def run(model_proto, inputs):
    session = onnxruntime.InferenceSession(model_proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: inputs})[0]


def test_rewrite_keeps_the_numbers_and_removes_the_four_dimensional_head(image_model_dir, tmp_path):
    model, config = load_embedding_model(image_model_dir)
    trace_onnx(model, config, tmp_path / "traced.onnx", None, 18)
    traced = onnx.load(str(tmp_path / "traced.onnx"))
    chains = _attention_chains(traced)
    assert len(chains) == len(config.iau_stages)  # one CIAU per IAU block
    rewritten = three_dimensional_attention(onnx.load(str(tmp_path / "traced.onnx")))
    onnx.checker.check_model(rewritten, full_check=True)
    assert not _attention_chains(rewritten)
    assert all(op.domain in ("", "ai.onnx") for op in rewritten.opset_import)  # standard ONNX only
    kept = set(ciau_attention_nodes(rewritten))
    for _, _, gram, softmax, aggregate, _ in chains:
        assert {gram.name, softmax.name, aggregate.name} <= kept
    produced = {output for node in rewritten.graph.node for output in node.output}
    used = {name for node in rewritten.graph.node for name in node.input}
    assert {t.name for t in rewritten.graph.initializer} <= used and used <= produced | {
        t.name for t in rewritten.graph.initializer
    } | {i.name for i in rewritten.graph.input}
    inputs = example_input(config, None, batch_size=3).numpy()
    np.testing.assert_allclose(run(rewritten, inputs), run(traced, inputs), rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        expected = embed(model, torch.from_numpy(inputs)).numpy()
    np.testing.assert_allclose(run(rewritten, inputs), expected, rtol=1e-4, atol=1e-4)  # the export tolerance
