"""Issue 26: a clip export's sidecar states the T fixed in its graph; the int8 export is quiet.

Needs onnxruntime (the `onnx` extra); skipped without it.
"""

import json
import logging

import numpy as np
import pytest
import torch
from hub_fixtures import IMAGE_SIZE

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")

from iaunet_hf.export import export_model  # noqa: E402
from iaunet_hf.export.cli import main as export_main  # noqa: E402
from iaunet_hf.inference.sidecar import clip_frames, read_sidecar  # noqa: E402


def graph_input_shape(path):
    dims = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    return [dim.dim_param or dim.dim_value for dim in dims]


def test_clip_export_of_an_image_checkpoint_states_the_graphs_frames(image_model_dir, tmp_path):
    """`--input clip` on an image checkpoint (num_frames 1) fixes T=2 in the graph; the sidecar said 1."""
    output = tmp_path / "clip.onnx"
    assert export_main(["--model", str(image_model_dir), "--input", "clip", "--output", str(output)]) == 0
    spec, sidecar = read_sidecar(output)
    batch, frames, *rest = graph_input_shape(output)
    assert isinstance(batch, str) and rest == [3, *IMAGE_SIZE]
    assert sidecar["num_frames"] == spec.num_frames == frames == 2
    assert sidecar["input_shape"] == ["batch", frames, 3, *IMAGE_SIZE] and clip_frames(sidecar) == frames
    # clips of the stated length run
    clips = torch.zeros(3, spec.num_frames, 3, *IMAGE_SIZE).numpy()
    session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    assert session.run(["embedding"], {"pixel_values": clips})[0].shape[0] == 3


def test_image_export_sidecar_says_one_frame(image_model_dir, tmp_path):
    result = export_model(image_model_dir, "onnx", tmp_path / "image.onnx", check=False)
    document = json.loads(result.sidecar.read_text())
    assert document["num_frames"] == 1 and len(graph_input_shape(result.path)) == 4


def test_int8_export_prints_no_axis_out_of_range(image_model_dir, tmp_path, caplog, capfd):
    """onnxruntime's quantiser warned "Axis 1 is out-of-range for weight ... with rank 1" for every rank-1
    BatchNormalization scale and MatMul vector operand; they are now asked for per tensor explicitly."""
    calibration = [np.random.default_rng(0).standard_normal((4, 3, *IMAGE_SIZE)).astype(np.float32)]
    with caplog.at_level(logging.DEBUG):
        result = export_model(
            image_model_dir, "onnx-int8", tmp_path / "model_int8.onnx", calibration=calibration, check=False
        )
    captured = capfd.readouterr()
    messages = [record.getMessage() for record in caplog.records]
    assert not [m for m in messages if "out-of-range" in m], messages
    assert "out-of-range" not in captured.err + captured.out
    assert any(node.op_type == "QuantizeLinear" for node in onnx.load(str(result.path)).graph.node)
