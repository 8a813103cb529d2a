"""ONNX export of the retrieval embedding, the export sidecar, and parity checks against PyTorch.

The exported graph maps `pixel_values` (B, 3, H, W) images, or (B, T, 3, H, W) clips, to the post-BN
`embedding` (B, D) with a dynamic batch axis; H, W and T are those of the checkpoint's config. The export uses
`torch.onnx.export(dynamo=True)` (the torch.export-based exporter) on the timm face of the checkpoint.

Every export writes a sidecar JSON (`sidecar_path`) with what a runtime needs to feed the graph: input size,
mean/std, interpolation, embedding dim, input/output names, opset, package version. The other targets
(fp16/int8 ONNX, OpenVINO, torch.export, TensorRT) live in `export_targets.py`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from .checks import check_safetensors

if TYPE_CHECKING:
    from iaunet_hf import IAUnetConfig

logger = logging.getLogger(__name__)

INPUT_NAME = "pixel_values"
OUTPUT_NAME = "embedding"
SIDECAR_NAME = "iaunet_export.json"  # inside folder exports (OpenVINO's `<name>_openvino_model/`)


class EmbeddingModel(nn.Module):
    """A timm IAUnet whose forward is always the retrieval embedding (classifier or not)."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        from iaunet_hf.evaluation.extraction import embed  # the package's one "embed a batch" function

        return embed(self.network, pixel_values)


@dataclass
class ExportResult:
    """Where the export went, its sidecar and, when checked, how far the runtime is from PyTorch."""

    path: Path
    input_shape: tuple[int, ...]
    max_abs_diff: float | None
    sidecar: Path | None = None


@dataclass(frozen=True)
class InputSpec:
    """What an exported graph expects: the checkpoint's preprocessing and input layout (the sidecar's core)."""

    image_size: tuple[int, int]  # (height, width)
    num_frames: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str  # PIL resampling name of the checkpoint's image processor, e.g. "bicubic"

    @classmethod
    def from_model(cls, model_dir: str | Path, config: IAUnetConfig | None = None) -> InputSpec:
        """Read `preprocessor_config.json` (AutoImageProcessor) or, without one, the package's defaults."""
        processor = load_image_processor(model_dir, config)
        from transformers.image_utils import PILImageResampling

        if config is None:
            from transformers import AutoConfig

            config = AutoConfig.from_pretrained(model_dir)
        return cls(
            image_size=(int(processor.size.height), int(processor.size.width)),
            num_frames=int(getattr(config, "num_frames", 1)),
            mean=tuple(float(v) for v in processor.image_mean),
            std=tuple(float(v) for v in processor.image_std),
            interpolation=PILImageResampling(processor.resample).name.lower(),
        )


def load_image_processor(model_dir: str | Path, config: IAUnetConfig | None = None) -> Any:
    """The checkpoint's image processor; one at the config's image size when the folder saved none."""
    from transformers import AutoConfig, AutoImageProcessor

    from iaunet_hf import IAUnetImageProcessor

    folder = Path(model_dir)
    if not folder.is_dir() or (folder / "preprocessor_config.json").is_file():
        return AutoImageProcessor.from_pretrained(model_dir)  # a Hub id, or a folder that saved one
    config = config or AutoConfig.from_pretrained(folder)
    height, width = config.image_size
    logger.info(
        "%s has no preprocessor_config.json; using the package's defaults at %dx%d", folder, height, width
    )
    return IAUnetImageProcessor(size={"height": int(height), "width": int(width)})


def graph_frames(num_frames: int, input_kind: str) -> int:
    """T of the exported graph's input: 1 for images; for clips the config's `num_frames`, at least 2.

    The clip axis is fixed in the graph at the traced length, so an image checkpoint (`num_frames` 1) exported
    with clip input takes clips of exactly 2 frames, and its sidecar's `num_frames` says 2.
    """
    return max(int(num_frames), 2) if input_kind == "clip" else 1


def sidecar_path(export_path: str | Path) -> Path:
    """`model.onnx` -> `model.json`; a folder export (`x_openvino_model/`) -> `x_openvino_model/iaunet_export.json`."""
    path = Path(export_path)
    return path / SIDECAR_NAME if path.is_dir() or not path.suffix else path.with_suffix(".json")


def write_sidecar(
    export_path: str | Path,
    spec: InputSpec,
    *,
    export_format: str,
    input_kind: str,
    embedding_dim: int,
    opset: int | None,
    precision: str = "fp32",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write the JSON a deployment reads to feed the exported graph (the same keys for every format)."""
    from iaunet_hf import __version__

    frames = graph_frames(spec.num_frames, input_kind)
    document = {
        "format": export_format,
        "precision": precision,
        "input_kind": input_kind,
        "input_name": INPUT_NAME,
        "output_name": OUTPUT_NAME,
        "input_shape": ["batch", *([frames] if input_kind == "clip" else []), 3, *spec.image_size],
        **asdict(spec),
        "num_frames": frames,  # the graph's T, which for an image checkpoint's clip graph is not the config's
        "color_order": "RGB",
        "pixel_scale": 1 / 255,
        "embedding_dim": int(embedding_dim),
        "opset": opset,
        "package": "iaunet-hf",
        "package_version": __version__,
        **(extra or {}),
    }
    path = sidecar_path(export_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def read_sidecar(export_path: str | Path) -> tuple[InputSpec, dict[str, Any]]:
    """The InputSpec and the whole document of an export's sidecar JSON."""
    path = sidecar_path(export_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: expected the sidecar JSON that iaunet-export writes beside {export_path}"
        )
    document = json.loads(path.read_text())
    missing = [
        key for key in ("image_size", "num_frames", "mean", "std", "interpolation") if key not in document
    ]
    if missing:
        raise ValueError(f"{path}: sidecar lacks {missing}; expected a file written by iaunet-export")
    spec = InputSpec(
        image_size=tuple(int(v) for v in document["image_size"]),
        num_frames=int(document["num_frames"]),
        mean=tuple(float(v) for v in document["mean"]),
        std=tuple(float(v) for v in document["std"]),
        interpolation=str(document["interpolation"]),
    )
    return spec, document


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


def input_kind_of(config: IAUnetConfig, input_kind: str | None) -> str:
    kind = input_kind or ("clip" if config.num_frames > 1 else "image")
    if kind not in ("image", "clip"):
        raise ValueError(f"input kind {kind!r} is not supported; expected 'image' or 'clip'")
    return kind


def example_input(config: IAUnetConfig, input_kind: str | None = None, batch_size: int = 2) -> torch.Tensor:
    """A random input of the checkpoint's size: images, or clips of `num_frames` for video models."""
    kind = input_kind_of(config, input_kind)
    height, width = config.image_size
    frames = (graph_frames(config.num_frames, kind),) if kind == "clip" else ()
    shape = (batch_size, *frames, 3, height, width)
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


def image_inputs(
    model_dir: str | Path,
    image_paths: Sequence[str | Path],
    config: IAUnetConfig,
    input_kind: str | None = None,
) -> torch.Tensor:
    """Real images through the checkpoint's own image processor; as still clips for clip graphs."""
    from PIL import Image

    if not image_paths:
        raise ValueError("check images: expected at least one image file, found none")
    processor = load_image_processor(model_dir, config)
    images = [Image.open(path).convert("RGB") for path in image_paths]
    pixels = processor(images=images, return_tensors="pt")["pixel_values"]  # (B, 3, H, W)
    if input_kind_of(config, input_kind) == "clip":
        frames = graph_frames(config.num_frames, "clip")
        pixels = pixels[:, None].expand(-1, frames, -1, -1, -1).contiguous()
    return pixels


def check_inputs(
    model_dir: str | Path,
    config: IAUnetConfig,
    input_kind: str | None,
    image_paths: Sequence[str | Path] | None,
) -> list[torch.Tensor]:
    """Batches for a parity check, of sizes other than the traced one (1 and 3): real images when given."""
    if not image_paths:
        return [example_input(config, input_kind, batch_size=size) for size in (1, 3)]
    pixels = image_inputs(model_dir, image_paths, config, input_kind)
    return [pixels[:1], pixels] if len(pixels) > 1 else [pixels]


def compare_embeddings(name: str, runtime: np.ndarray, reference: np.ndarray, atol: float) -> float:
    """Max |runtime - PyTorch|; raises on a shape mismatch, non-finite values or a difference above `atol`."""
    if runtime.shape != reference.shape:
        raise ValueError(f"{name}: runtime output shape {runtime.shape} != PyTorch {reference.shape}")
    if not np.isfinite(runtime).all():
        raise ValueError(f"{name}: runtime output has NaN/inf values")
    diff = float(np.abs(runtime.astype(np.float64) - reference).max())
    if diff > atol:
        raise ValueError(f"{name}: runtime differs from PyTorch by {diff:.3g}; expected <= {atol}")
    return diff


def onnx_session(onnx_path: str | Path, providers: Sequence[str] = ("CPUExecutionProvider",)) -> Any:
    try:
        import onnxruntime
    except ImportError as error:  # the optional extra
        raise ValueError(
            "onnxruntime is not installed; expected the 'onnx' extra (pip install iaunet-hf[onnx])"
        ) from error
    return onnxruntime.InferenceSession(str(onnx_path), providers=list(providers))


def verify_onnx(onnx_path: str | Path, model: nn.Module, inputs: torch.Tensor, atol: float = 1e-4) -> float:
    """Run the ONNX file with onnxruntime and PyTorch on `inputs`; return the max abs diff, raise above `atol`."""
    session = onnx_session(onnx_path)
    (onnx_embedding,) = session.run([OUTPUT_NAME], {INPUT_NAME: inputs.numpy()})
    with torch.no_grad():
        torch_embedding = model(inputs).numpy()
    return compare_embeddings(str(onnx_path), onnx_embedding, torch_embedding, atol)


def trace_onnx(
    model: nn.Module, config: IAUnetConfig, output: Path, input_kind: str | None, opset: int
) -> tuple[int, ...]:
    """Write the float32 ONNX graph (dynamic batch axis) and return the traced input shape without the batch."""
    output.parent.mkdir(parents=True, exist_ok=True)
    traced_input = example_input(config, input_kind, batch_size=2)
    batch = torch.export.Dim("batch", min=1, max=4096)
    logger.info("exporting with input %s to %s", tuple(traced_input.shape), output)
    program = torch.onnx.export(
        model,
        (traced_input,),
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_shapes={INPUT_NAME: {0: batch}},
        opset_version=opset,
        dynamo=True,
        verbose=False,
    )
    program.save(str(output))
    return tuple(traced_input.shape[1:])


def export_onnx(
    model_dir: str | Path,
    output_path: str | Path | None = None,
    *,
    input_kind: str | None = None,
    opset: int = 18,
    check: bool = True,
    atol: float = 1e-4,
    check_images: Sequence[str | Path] | None = None,
) -> ExportResult:
    """Export `model_dir`'s embedding to ONNX with a dynamic batch axis; check it with onnxruntime when `check`.

    The check runs batch sizes other than the one traced, so a batch axis frozen by the export fails it;
    `check_images` (image files) makes it run on real images through the checkpoint's image processor.
    """
    model, config = load_embedding_model(model_dir)
    output = Path(output_path) if output_path is not None else Path(model_dir) / "model.onnx"
    input_shape = trace_onnx(model, config, output, input_kind, opset)
    max_diff = None
    if check:
        max_diff = max(
            verify_onnx(output, model, inputs, atol)
            for inputs in check_inputs(model_dir, config, input_kind, check_images)
        )
    sidecar = write_sidecar(
        output,
        InputSpec.from_model(model_dir, config),
        export_format="onnx",
        input_kind=input_kind_of(config, input_kind),
        embedding_dim=embedding_dim_of(model, config),
        opset=opset,
    )
    return ExportResult(output, input_shape, max_diff, sidecar)


def embedding_dim_of(model: nn.Module, config: IAUnetConfig) -> int:
    with torch.no_grad():
        return int(model(example_input(config, None, batch_size=1)).shape[-1])
