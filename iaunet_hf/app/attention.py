"""The Attention view: one image's part-attention maps per IAU stage over it (paper Fig. 6), and each stage's
STIAU part relations and CIAU channel relations as heat maps (Fig. 7-9), drawn by ``evaluation.visualization``
as ``scripts/visualize_attention.py`` draws them."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from ..evaluation import visualization
from .engine import ReidEngine

CHANNELS_SHOWN = 64  # leading rows/columns of a CIAU channel relation (C can be 2048)
OVERLAY_HEIGHT = 256  # pixels of one overlay tile: the model input (often 64 or 128 high) is too small to see


@dataclass
class AttentionPictures:
    overlays: Image.Image | None  # rows = IAU stages, columns = the input and one overlay per part
    relations: list[tuple[Image.Image, str]]  # (heat map, caption)


def relation_pictures(model, relations: tuple) -> list[tuple[Image.Image, str]]:
    """Each stage's part relation (N, N) and channel relation (first CHANNELS_SHOWN rows) of the image."""
    pictures = []
    for stage, relation in zip(visualization.iau_stage_numbers(model), relations, strict=True):
        if "part" in relation:
            part = relation["part"][0]
            title = f"stage {stage}: STIAU part relations"
            pictures.append(
                (
                    visualization.relation_figure(
                        part, title, visualization.part_node_labels(1, part.shape[0])
                    ),
                    title,
                )
            )
        if "channel" in relation:
            channel = relation["channel"][0][:CHANNELS_SHOWN, :CHANNELS_SHOWN]
            title = f"stage {stage}: CIAU channel relations (first {channel.shape[0]} channels)"
            pictures.append((visualization.relation_figure(channel, title), title))
    return pictures


def attention_pictures(engine: ReidEngine, image: Image.Image) -> AttentionPictures:
    """The overlays and relation heat maps of one image; ``overlays`` is None for a model without learned
    part attention (``iau_modules`` without ``stiau`` or ``part_division="patches"``)."""
    part_attention, relations = visualization.attention_and_relations(
        engine.model, engine.pixel_values([image])
    )
    overlays = None
    if part_attention:
        maps = [stage[0] for stage in part_attention]  # (N, h, w) per stage
        labels = visualization.part_attention_stage_labels(engine.model)
        height, width = engine.image_size
        size = (OVERLAY_HEIGHT, round(OVERLAY_HEIGHT * width / height))
        overlays = visualization.attention_overlay_grid(image, maps, size=size, stage_labels=labels)
    return AttentionPictures(overlays, relation_pictures(engine.model, relations))
