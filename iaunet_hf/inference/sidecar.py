"""The export sidecar: the JSON beside an exported graph that says how to feed it (the same keys for every format).

The export pipeline writes it and the runtimes read it, so its names and layout are defined once, here.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..version import __version__
from .preprocessing import InputSpec

INPUT_NAME = "pixel_values"
OUTPUT_NAME = "embedding"
SIDECAR_NAME = "iaunet_export.json"  # inside folder exports (OpenVINO's `<name>_openvino_model/`)
_SPEC_KEYS = ("image_size", "num_frames", "mean", "std", "interpolation")


def graph_frames(num_frames: int, input_kind: str) -> int:
    """T of the exported graph's input: 1 for images; for clips the config's `num_frames`, at least 2.

    The clip axis is fixed in the graph at the traced length, so an image checkpoint (`num_frames` 1) exported
    with clip input takes clips of exactly 2 frames, and its sidecar's `num_frames` says 2.
    """
    return max(int(num_frames), 2) if input_kind == "clip" else 1


def clip_frames(sidecar: dict[str, Any]) -> int | None:
    """T of a clip graph (sidecar input_shape ["batch", T, 3, H, W]); None for image graphs."""
    shape = sidecar["input_shape"]
    return int(shape[1]) if len(shape) == 5 else None


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
    missing = [key for key in _SPEC_KEYS if key not in document]
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
