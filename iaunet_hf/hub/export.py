"""ONNX export of the retrieval embedding, checked against PyTorch with onnxruntime.

The exported graph maps `pixel_values` (B, 3, H, W) images, or (B, T, 3, H, W) clips, to the post-BN
`embedding` (B, D) with a dynamic batch axis; H, W and T are those of the checkpoint's config. The export uses
`torch.onnx.export(dynamo=True)` (the torch.export-based exporter) on the timm face of the checkpoint.

TensorRT: build an engine from the ONNX file with an optimisation profile over the batch axis, e.g.
`trtexec --onnx=model.onnx --saveEngine=model.plan --minShapes=pixel_values:1x3x256x128
--optShapes=pixel_values:32x3x256x128 --maxShapes=pixel_values:128x3x256x128`; with reduced precision keep
CIAU's Gram matrix and softmax in FP32 (their entries overflow FP16).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from .checks import check_safetensors

if TYPE_CHECKING:
    from iaunet_hf import IAUnetConfig

logger = logging.getLogger(__name__)


class EmbeddingModel(nn.Module):
    """A timm IAUnet whose forward is always the retrieval embedding (classifier or not)."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.network.forward_head(self.network.forward_features(pixel_values), pre_logits=True)


@dataclass
class ExportResult:
    """Where the ONNX file went and, when checked, how far onnxruntime is from PyTorch."""

    path: Path
    input_shape: tuple[int, ...]
    max_abs_diff: float | None


def load_embedding_model(model_dir: str | Path) -> tuple[EmbeddingModel, IAUnetConfig]:
    """The checkpoint's embedding model (timm face, eval mode) and its config."""
    import timm
    from transformers import AutoConfig

    import iaunet_hf  # noqa: F401 - registers the timm models and the iaunet config type

    folder = Path(model_dir)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"model folder {folder} lacks config.json; expected a save_pretrained folder")
    check_safetensors(folder / "model.safetensors")
    config = AutoConfig.from_pretrained(folder)
    network = timm.create_model(f"local-dir:{folder}", pretrained=True)
    return EmbeddingModel(network).eval(), config


def example_input(config: IAUnetConfig, input_kind: str | None = None, batch_size: int = 2) -> torch.Tensor:
    """A random input of the checkpoint's size: images, or clips of `num_frames` for video models."""
    kind = input_kind or ("clip" if config.num_frames > 1 else "image")
    if kind not in ("image", "clip"):
        raise ValueError(f"input kind {kind!r} is not supported; expected 'image' or 'clip'")
    height, width = config.image_size
    frames = max(config.num_frames, 2) if kind == "clip" else None
    shape = (batch_size, frames, 3, height, width) if frames else (batch_size, 3, height, width)
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


def verify_onnx(onnx_path: str | Path, model: nn.Module, inputs: torch.Tensor, atol: float = 1e-4) -> float:
    """Run the ONNX file with onnxruntime and PyTorch on `inputs`; return the max abs diff, raise above `atol`."""
    try:
        import onnxruntime
    except ImportError as error:  # the optional extra
        raise ValueError(
            "onnxruntime is not installed; expected the 'onnx' extra (pip install iaunet-hf[onnx])"
        ) from error
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (onnx_embedding,) = session.run(["embedding"], {"pixel_values": inputs.numpy()})
    with torch.no_grad():
        torch_embedding = model(inputs).numpy()
    if onnx_embedding.shape != torch_embedding.shape:
        raise ValueError(
            f"{onnx_path}: onnxruntime output shape {onnx_embedding.shape} != PyTorch {torch_embedding.shape}"
        )
    diff = float(abs(onnx_embedding - torch_embedding).max())
    if diff > atol:
        raise ValueError(f"{onnx_path}: onnxruntime differs from PyTorch by {diff:.3g}; expected <= {atol}")
    return diff


def export_onnx(
    model_dir: str | Path,
    output_path: str | Path | None = None,
    *,
    input_kind: str | None = None,
    opset: int = 18,
    check: bool = True,
    atol: float = 1e-4,
) -> ExportResult:
    """Export `model_dir`'s embedding to ONNX with a dynamic batch axis; check it with onnxruntime when `check`.

    The check runs batch sizes other than the one traced, so a batch axis frozen by the export fails it.
    """
    model, config = load_embedding_model(model_dir)
    output = Path(output_path) if output_path is not None else Path(model_dir) / "model.onnx"
    output.parent.mkdir(parents=True, exist_ok=True)
    traced_input = example_input(config, input_kind, batch_size=2)
    batch = torch.export.Dim("batch", min=1, max=4096)
    logger.info("exporting %s with input %s to %s", model_dir, tuple(traced_input.shape), output)
    program = torch.onnx.export(
        model,
        (traced_input,),
        input_names=["pixel_values"],
        output_names=["embedding"],
        dynamic_shapes={"pixel_values": {0: batch}},
        opset_version=opset,
        dynamo=True,
        verbose=False,
    )
    program.save(str(output))
    max_diff = None
    if check:
        max_diff = max(
            verify_onnx(output, model, example_input(config, input_kind, batch_size=size), atol)
            for size in (1, 3)
        )
    return ExportResult(output, tuple(traced_input.shape[1:]), max_diff)
