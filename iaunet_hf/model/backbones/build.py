"""One entry point from the options to a backbone: its modules (ImageNet names), the layout that runs them, the
ImageNet head a plain checkpoint of it carries, and timm's parameter groups."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .googlenet import build_googlenet, googlenet_layout
from .layout import Backbone, BackboneLayout
from .resnet import build_resnet, resnet_layout
from .timm_backbone import build_timm_backbone

if TYPE_CHECKING:
    from ..options import IAUnetOptions

# The ImageNet heads a plain torchvision/timm ResNet or GoogLeNet file carries (GoogLeNet adds two auxiliary ones).
IMAGENET_HEAD_PREFIXES = ("fc.", "aux1.", "aux2.")


def build_backbone(options: IAUnetOptions, device=None, dtype=None) -> Backbone:
    """The backbone ``options`` describe: a timm CNN, GoogLeNet with BN, or the paper's ResNet (IBN-a optional)."""
    if options.use_timm_backbone:
        return build_timm_backbone(
            options.backbone, options.in_chans, options.last_stride, device=device, dtype=dtype
        )
    if options.backbone == "googlenet":
        modules = build_googlenet(options.in_chans, options.last_stride, device=device, dtype=dtype)
        return Backbone(modules, googlenet_layout(options.last_stride), IMAGENET_HEAD_PREFIXES)
    dd = dict(device=device, dtype=dtype)
    modules = build_resnet(
        options.depth, options.in_chans, options.last_stride, options.base_channels, ibn=options.ibn, **dd
    )
    layout = resnet_layout(options.depth, options.last_stride, options.base_channels)
    return Backbone(modules, layout, IMAGENET_HEAD_PREFIXES)


def group_matcher(options: IAUnetOptions, layout: BackboneLayout, coarse: bool = False) -> dict:
    """timm's parameter groups (stem, then blocks) of the backbone, for layer-wise learning-rate decay."""
    if options.use_timm_backbone:  # a group per stage, by the layout's module names

        def names(units) -> str:
            return "|".join(re.escape(unit) for unit in units)

        stages = [(rf"^(?:{names(units)})\.", (index,)) for index, units in enumerate(layout.stages)]
        return dict(stem=rf"^(?:{names(layout.stem)})\.", blocks=stages)
    if options.backbone == "googlenet":
        return dict(stem=r"^conv1", blocks=[(r"^conv[23]", (0,)), (r"^inception(\d)", None)])
    return dict(stem=r"^conv1|bn1", blocks=r"^layer(\d+)" if coarse else r"^layer(\d+)\.(\d+)")


def block_key(stage_end: str) -> str:
    """Key of the block after the stage ending in module ``stage_end`` (``blocks.4`` -> ``blocks_4``)."""
    return stage_end.replace(".", "_")
