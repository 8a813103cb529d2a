"""Overlay each IAU stage's four part attention maps on input images (paper Fig. 6) and plot the
spatial, temporal and channel relation maps (Fig. 7-9), as PNG files.

Example:
    python scripts/visualize_attention.py --model ./iaunet-market --images a.jpg b.jpg --output-dir attention/
    python scripts/visualize_attention.py --model ./iaunet-mars --frames tracklet/*.jpg --output-dir attention/
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from PIL import Image

from iaunet_hf.data import build_eval_transform
from iaunet_hf.evaluation.visualization import (
    attention_and_relations,
    attention_overlay_grid,
    iau_stage_numbers,
    part_attention_stage_labels,
    part_node_labels,
    relation_figure,
    save_png,
    split_part_relation,
)
from iaunet_hf.inference import load_reid_model, model_input_config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--images", type=Path, nargs="+", help="images, each drawn on its own")
    group.add_argument("--frames", type=Path, nargs="+", help="frames of one tracklet, fed as one clip")
    parser.add_argument("--image-size", type=int, nargs=2, default=None, metavar=("HEIGHT", "WIDTH"))
    parser.add_argument(
        "--channels", type=int, default=64, help="leading rows/columns of the channel relation to plot"
    )
    parser.add_argument("--output-dir", type=Path, default=Path("attention"))
    return parser


def part_relation_figures(part: torch.Tensor, stage: int, num_frames: int, output_dir: Path) -> list[Path]:
    """One stage's part relation (T*N, T*N), its spatial block of frame 0 and, for a clip, each part's temporal one."""
    num_parts = part.shape[0] // num_frames
    labels = part_node_labels(num_frames, num_parts)
    figure = relation_figure(part, f"stage {stage}: part relations", labels)
    written = [save_png(figure, output_dir / f"stage{stage}_part_relation.png")]
    split = split_part_relation(part, num_frames, num_parts)
    spatial = relation_figure(
        split["spatial"][0], f"stage {stage}: spatial relations (frame 0)", labels[:num_parts]
    )
    written.append(save_png(spatial, output_dir / f"stage{stage}_spatial_relation.png"))
    if num_frames > 1:
        frame_labels = [f"t{t}" for t in range(num_frames)]
        for index in range(num_parts):
            temporal = relation_figure(
                split["temporal"][index],
                f"stage {stage}: temporal relations, {labels[index]}",
                frame_labels,
            )
            written.append(save_png(temporal, output_dir / f"stage{stage}_temporal_relation_part{index}.png"))
    return written


def relation_figures(model, relations: list, num_frames: int, channels: int, output_dir: Path) -> list[Path]:
    """Every stage's part and channel relation plots, of the first image or the clip."""
    written = []
    sample = 0  # relations of the first image / the clip
    for stage, relation in zip(iau_stage_numbers(model), relations, strict=True):
        if "part" in relation:
            written += part_relation_figures(relation["part"][sample], stage, num_frames, output_dir)
        if "channel" in relation:
            channel = relation["channel"][sample][:channels, :channels]
            figure = relation_figure(
                channel, f"stage {stage}: channel relations (first {channel.shape[0]} rows)"
            )
            written.append(save_png(figure, output_dir / f"stage{stage}_channel_relation.png"))
    return written


def main(argv: list[str] | None = None) -> list[Path]:
    args = build_parser().parse_args(argv)
    paths = args.images or args.frames
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"input images not found: {missing}")
    model = load_reid_model(args.model)
    config = model_input_config(model)
    height, width = args.image_size or config["image_size"]
    transform = build_eval_transform(height, width, mean=config["mean"], std=config["std"])
    images = [Image.open(path).convert("RGB") for path in paths]
    pixels = torch.stack(
        [transform({"image": [image]})["pixel_values"][0] for image in images]
    )  # (K, 3, H, W)
    is_clip = args.frames is not None
    batch = pixels[None] if is_clip else pixels  # a clip (1, T, 3, H, W) or images (B, 3, H, W)
    part_attention, relations = attention_and_relations(model, batch)
    if not part_attention:
        raise ValueError(
            f"model: {args.model} has no STIAU part attention to draw (iau_modules without 'stiau')"
        )
    written = []
    for position, (path, image) in enumerate(zip(paths, images)):
        # per stage: (B, N, h, w) for images, (1, T, N, h, w) for a clip
        maps = [stage[0, position] if is_clip else stage[position] for stage in part_attention]
        grid = attention_overlay_grid(
            image, maps, size=(height, width), stage_labels=part_attention_stage_labels(model)
        )
        written.append(save_png(grid, args.output_dir / f"{path.stem}_attention.png"))
    num_frames = len(paths) if is_clip else 1
    written += relation_figures(model, relations, num_frames, args.channels, args.output_dir)
    for path in written:
        print(path)
    return written


if __name__ == "__main__":
    main()
