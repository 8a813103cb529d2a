"""The inputs an export is traced and checked on: random batches of the checkpoint's size, or real images.

Parity checks run batch sizes other than the traced one, so a batch axis frozen by the export fails them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from PIL import Image
from torch import nn

from ..inference.preprocessing import load_image_processor
from ..inference.sidecar import graph_frames

if TYPE_CHECKING:
    from ..configuration_iaunet import IAUnetConfig

INPUT_KINDS = ("image", "clip")


def input_kind_of(config: IAUnetConfig, input_kind: str | None) -> str:
    """`input_kind`, or by default "clip" for video checkpoints and "image" otherwise."""
    kind = input_kind or ("clip" if config.num_frames > 1 else "image")
    if kind not in INPUT_KINDS:
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


def embedding_dim_of(model: nn.Module, config: IAUnetConfig) -> int:
    """D of the embedding, from one forward pass on a random input."""
    with torch.no_grad():
        return int(model(example_input(config, None, batch_size=1)).shape[-1])
