"""Pictures of what the model retrieves and where it looks, as PNG-ready PIL images.

* ``rank_strip``: a query and its top-k gallery images, green/red borders for right/wrong identity.
* ``attention_overlay_grid``: the part attention maps of each IAU stage over the input (paper Fig. 6).
* ``relation_figure``: a relation matrix (channel, spatial or temporal part relations, Fig. 7-9).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn
from transformers import PreTrainedModel

from ..model import IAUnet
from .metrics import ArrayLike, as_tensor

CORRECT_COLOUR = (0, 170, 0)
WRONG_COLOUR = (220, 0, 0)
QUERY_COLOUR = (40, 40, 40)
PART_NAMES = ("head", "upper body", "lower body", "shoes")


def _framed(
    image: Image.Image, size: tuple[int, int], colour: tuple[int, int, int], border: int
) -> Image.Image:
    """The image resized to (height, width) inside a coloured border."""
    height, width = size
    inner = image.convert("RGB").resize((width, height), Image.Resampling.BICUBIC)
    framed = Image.new("RGB", (width + 2 * border, height + 2 * border), colour)
    framed.paste(inner, (border, border))
    return framed


def rank_strip(
    query_image: Image.Image,
    gallery_images: Sequence[Image.Image],
    correct: Sequence[bool],
    size: tuple[int, int] = (128, 64),
    border: int = 4,
    gap: int = 12,
) -> Image.Image:
    """One row: the query (dark border), then the ranked gallery images (green correct, red wrong)."""
    if len(gallery_images) != len(correct):
        raise ValueError(
            f"correct: expected one flag per gallery image ({len(gallery_images)}), found {len(correct)}"
        )
    tiles = [_framed(query_image, size, QUERY_COLOUR, border)]
    tiles += [
        _framed(image, size, CORRECT_COLOUR if is_correct else WRONG_COLOUR, border)
        for image, is_correct in zip(gallery_images, correct)
    ]
    tile_width, tile_height = tiles[0].size
    label_height = 14
    strip = Image.new("RGB", (len(tiles) * (tile_width + 2) + gap, tile_height + label_height), "white")
    draw = ImageDraw.Draw(strip)
    for position, tile in enumerate(tiles):
        left = position * (tile_width + 2) + (gap if position else 0)
        strip.paste(tile, (left, label_height))
        draw.text((left + 2, 1), "query" if position == 0 else f"#{position}", fill=(0, 0, 0))
    return strip


def ranked_gallery(
    distances: ArrayLike,
    q_pid: int,
    q_camid: int,
    g_pids: ArrayLike,
    g_camids: ArrayLike,
    topk: int,
) -> tuple[list[int], list[bool]]:
    """The query's top-k valid gallery indices (same pid + same camera removed) and whether each is correct."""
    row = as_tensor(distances, "distances").double().flatten()
    pids = as_tensor(g_pids, "g_pids").flatten()
    camids = as_tensor(g_camids, "g_camids").flatten()
    invalid = (pids == q_pid) & (camids == q_camid)
    row = torch.where(invalid, torch.tensor(float("inf"), dtype=row.dtype), row)
    count = min(topk, int((~invalid).sum()))
    order = torch.topk(row, count, largest=False, sorted=True).indices
    return order.tolist(), (pids[order] == q_pid).tolist()


def _jet(values: np.ndarray) -> np.ndarray:
    """(H, W) values in [0, 1] -> (H, W, 3) uint8 with the jet colour map (blue low, red high)."""
    values = np.clip(values, 0.0, 1.0)
    red = np.clip(1.5 - np.abs(4 * values - 3), 0, 1)
    green = np.clip(1.5 - np.abs(4 * values - 2), 0, 1)
    blue = np.clip(1.5 - np.abs(4 * values - 1), 0, 1)
    return (np.stack([red, green, blue], axis=-1) * 255).astype(np.uint8)


def attention_overlay(image: Image.Image, attention: ArrayLike, alpha: float = 0.5) -> Image.Image:
    """One (h, w) attention map in [0, 1], upsampled to the image and blended over it in jet colours."""
    base = image.convert("RGB")
    heat = as_tensor(attention, "attention").detach().float().cpu()
    if heat.dim() != 2:
        raise ValueError(f"attention: expected one (h, w) map, found shape {tuple(heat.shape)}")
    heat = nn.functional.interpolate(
        heat[None, None], size=(base.height, base.width), mode="bilinear", align_corners=False
    )
    overlay = Image.fromarray(_jet(heat[0, 0].numpy()))
    return Image.blend(base, overlay, alpha)


def iau_stage_numbers(model: torch.nn.Module, with_part_attention: bool = False) -> list[int]:
    """The ResNet stages followed by an IAU block, in forward order (only those with learned part attention
    when ``with_part_attention``): the order of ``part_attention`` and ``relations`` outputs."""
    network = next((module for module in model.modules() if isinstance(module, IAUnet)), None)
    if network is None:
        return []
    return [
        int(name.removeprefix("layer"))
        for name, block in network.iau.items()
        if not with_part_attention
        or getattr(getattr(block, "stiau", None), "part_division", None) == "attention"
    ]


def part_attention_stage_labels(model: torch.nn.Module) -> list[str]:
    """Row labels for ``attention_overlay_grid``: the ResNet stage each part-attention map follows."""
    return [f"after stage {stage}" for stage in iau_stage_numbers(model, with_part_attention=True)]


def attention_overlay_grid(
    image: Image.Image,
    part_attention: Sequence[ArrayLike],
    size: tuple[int, int] = (256, 128),
    alpha: float = 0.5,
    stage_labels: Sequence[str] | None = None,
) -> Image.Image:
    """Rows = IAU stages; columns = the input, then one overlay per part (paper Fig. 6).

    ``part_attention`` holds one (N, h, w) tensor per stage, for one image (or one frame);
    ``stage_labels`` names the rows (see ``part_attention_stage_labels``).
    """
    height, width = size
    base = image.convert("RGB").resize((width, height), Image.Resampling.BICUBIC)
    stages = [as_tensor(maps, "part_attention").detach().float().cpu() for maps in part_attention]
    if not stages or any(maps.dim() != 3 for maps in stages):
        raise ValueError(
            f"part_attention: expected (N, h, w) maps per stage, found {[tuple(m.shape) for m in stages]}"
        )
    num_parts = stages[0].shape[0]
    label_height = 14
    grid = Image.new(
        "RGB", ((num_parts + 1) * (width + 4), len(stages) * (height + label_height + 4)), "white"
    )
    draw = ImageDraw.Draw(grid)
    for row, maps in enumerate(stages):
        top = row * (height + label_height + 4)
        label = stage_labels[row] if stage_labels else f"IAU block {row + 1}"
        draw.text((2, top + 1), label, fill=(0, 0, 0))
        grid.paste(base, (0, top + label_height))
        for part in range(num_parts):
            left = (part + 1) * (width + 4)
            name = PART_NAMES[part] if num_parts == len(PART_NAMES) else f"part {part}"
            draw.text((left + 2, top + 1), name, fill=(0, 0, 0))
            grid.paste(attention_overlay(base, maps[part], alpha), (left, top + label_height))
    return grid


def relation_figure(relation: ArrayLike, title: str, tick_labels: Sequence[str] | None = None) -> Image.Image:
    """A relation matrix (K, K) drawn as a heat map with a colour bar (matplotlib, Agg backend)."""
    # imported here: matplotlib is only needed for these plots; the Agg canvas renders without a display
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    matrix = as_tensor(relation, "relation").detach().float().cpu().numpy()
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"relation: expected a square (K, K) matrix, found shape {matrix.shape}")
    figure = Figure(figsize=(5, 4.4), dpi=100)
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    shown = axes.imshow(matrix, cmap="viridis", interpolation="nearest")
    figure.colorbar(shown, ax=axes)
    axes.set_title(title)
    if tick_labels is not None and len(tick_labels) == matrix.shape[0]:
        axes.set_xticks(range(len(tick_labels)), tick_labels, rotation=90, fontsize=7)
        axes.set_yticks(range(len(tick_labels)), tick_labels, fontsize=7)
    figure.tight_layout()
    canvas.draw()
    return Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3].copy())


def part_node_labels(num_frames: int, num_parts: int) -> list[str]:
    """Labels of the T*N part nodes in STIAU order (frame-major)."""
    names = PART_NAMES if num_parts == len(PART_NAMES) else [f"p{n}" for n in range(num_parts)]
    return [
        f"t{t}:{names[n]}" if num_frames > 1 else names[n]
        for t in range(num_frames)
        for n in range(num_parts)
    ]


def split_part_relation(relation: torch.Tensor, num_frames: int, num_parts: int) -> dict[str, torch.Tensor]:
    """Split a (T*N, T*N) STIAU relation into its spatial (same frame) and temporal (same part) entries.

    Returns ``spatial`` (T, N, N), one part-to-part matrix per frame, and ``temporal`` (N, T, T), one
    frame-to-frame matrix per part.
    """
    blocks = relation.reshape(num_frames, num_parts, num_frames, num_parts)  # (t, n, t', n')
    frames = torch.arange(num_frames)
    parts = torch.arange(num_parts)
    spatial = blocks[frames, :, frames, :]  # (T, N, N)
    temporal = blocks[:, parts, :, parts]  # (N, T, T)
    return {"spatial": spatial, "temporal": temporal}


def attention_and_relations(model: nn.Module, pixel_values: torch.Tensor) -> tuple[tuple, tuple]:
    """Part attention maps and relation matrices of one forward pass, for either model face."""
    with torch.inference_mode():
        if isinstance(model, PreTrainedModel):
            # the base model (IAUnetModel inside IAUnetForReID) is the one that returns relations
            output = model.base_model(pixel_values=pixel_values, output_relations=True)
            return tuple(output.part_attentions or ()), tuple(output.relations or ())
        output = model.forward_reid(pixel_values, return_relations=True)
        return tuple(output.part_attention), tuple(output.relations)


def save_png(image: Image.Image, path: str | Path) -> Path:
    """Saves a PNG, creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")
    return path
