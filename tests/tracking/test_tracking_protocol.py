"""IAUnetEncoder against boxmot's own interfaces: the AppearanceEncoder protocol and its pipeline checks."""

import subprocess
import sys

import numpy as np
import pytest
import torch


def test_requirements_and_dimension_without_boxmot(tracking_model_dir):
    """Importing the package and the encoder never imports boxmot (checked in a fresh interpreter)."""
    code = (
        "import sys, iaunet_hf, iaunet_hf.tracking\n"
        f"e = iaunet_hf.tracking.IAUnetEncoder.from_pretrained({str(tracking_model_dir)!r})\n"
        "assert e.embedding_dim > 0\n"
        "assert 'boxmot' not in sys.modules, 'boxmot was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_boxmot_appearance_encoder_protocol(encoder, frame_bgr):
    pytest.importorskip("boxmot")
    from boxmot.pipelines.perception import PerceptionPipeline
    from boxmot.reid.protocols import AppearanceEncoder, EncoderRequirements
    from boxmot.structures import Boxes, Detections, Frame

    assert isinstance(encoder, AppearanceEncoder)
    assert isinstance(encoder.requirements, EncoderRequirements) and not encoder.requirements.masks
    PerceptionPipeline(reid=encoder)  # boxmot's own validation of a reid= encoder

    rgb = torch.from_numpy(np.ascontiguousarray(frame_bgr[..., ::-1])).permute(2, 0, 1).contiguous()
    frames = [Frame(image=rgb, sample_id="a"), Frame(image=rgb, sample_id="b")]
    boxes = torch.tensor([[10, 20, 50, 100], [60, 20, 100, 100]], dtype=torch.float32)
    detections = [
        Detections(Boxes(boxes), torch.ones(2), torch.zeros(2, dtype=torch.int64), "a"),
        Detections(Boxes(boxes[:0]), torch.ones(0), torch.zeros(0, dtype=torch.int64), "b"),
    ]
    outputs = encoder.encode(frames, detections)
    assert [tuple(o.shape) for o in outputs] == [(2, encoder.embedding_dim), (0, encoder.embedding_dim)]
    for output in outputs:
        assert output.dtype == torch.float32 and output.device.type == "cpu" and output.is_contiguous()
    np.testing.assert_allclose(outputs[0].numpy(), encoder.get_features(boxes.numpy(), frame_bgr), atol=1e-6)
