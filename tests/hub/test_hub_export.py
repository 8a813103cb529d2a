"""ONNX export: dynamic batch axis for images and clips, onnxruntime parity with PyTorch (<= 1e-4)."""

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from hub_fixtures import IMAGE_SIZE, save_iaunet_folder

from iaunet_hf.hub.cli import export_main
from iaunet_hf.hub.export import export_onnx


def transformers_embedding(folder, inputs):
    from transformers import AutoModel

    import iaunet_hf  # noqa: F401 - registers the Auto classes

    model = AutoModel.from_pretrained(folder).eval()
    with torch.no_grad():
        return model(pixel_values=inputs).pooler_output.numpy()


def onnx_embedding(path, inputs):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["embedding"], {"pixel_values": inputs.numpy()})[0]


def batch_axis(path):
    graph = onnx.load(str(path)).graph
    return graph.input[0].type.tensor_type.shape.dim[0], graph.output[0].type.tensor_type.shape.dim[0]


def test_export_images_cli(image_model_dir, tmp_path, capsys):
    output = tmp_path / "export" / "iaunet.onnx"
    assert export_main(["--model", str(image_model_dir), "--format", "onnx", "--output", str(output)]) == 0
    assert "max abs diff" in capsys.readouterr().out
    for dim in batch_axis(output):
        assert dim.dim_param and not dim.dim_value  # symbolic, not frozen to the traced batch

    inputs = torch.randn(5, 3, *IMAGE_SIZE, generator=torch.Generator().manual_seed(3))
    expected = transformers_embedding(image_model_dir, inputs)
    assert np.abs(onnx_embedding(output, inputs) - expected).max() <= 1e-4


def test_export_clips(tmp_path):
    folder = save_iaunet_folder(tmp_path / "video", seed=1, num_frames=2, iau_stages=[2])
    result = export_onnx(folder, tmp_path / "video.onnx")
    assert result.input_shape == (2, 3, *IMAGE_SIZE)
    assert result.max_abs_diff is not None and result.max_abs_diff <= 1e-4

    clips = torch.randn(3, 2, 3, *IMAGE_SIZE, generator=torch.Generator().manual_seed(4))
    expected = transformers_embedding(folder, clips)
    assert np.abs(onnx_embedding(result.path, clips) - expected).max() <= 1e-4


def test_export_errors(tmp_path, image_model_dir):
    with pytest.raises(FileNotFoundError, match="lacks config.json"):
        export_onnx(tmp_path)
    with pytest.raises(ValueError, match="input kind 'audio'"):
        export_onnx(image_model_dir, tmp_path / "x.onnx", input_kind="audio")
