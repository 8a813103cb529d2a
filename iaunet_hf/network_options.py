"""What an IAUnet can be built as: the option checks shared by the network and its transformers config.

Kept apart from ``network`` so the config can validate settings and size the embedding without building a model.
"""

from __future__ import annotations

from collections.abc import Sequence

from .backbones import RESNET_LAYOUTS, PCBHead, googlenet_layout, resnet_layout
from .backbones.resnet import IMAGENET_BASE_CHANNELS
from .blocks import IAU_MODULE_NAMES, check_iau_options
from .comparison_blocks import COMPARISON_MODULE_NAMES, check_comparison_modules

# "avg": average over space and time; "": timm's idiom for no pooling (forward returns the last feature map).
GLOBAL_POOLS = ("avg", "")
BACKBONES = ("resnet", "googlenet")
HEADS = ("bnneck", "pcb")


def check_network_options(
    depth: int = 50,
    in_chans: int = 3,
    iau_stages: Sequence[int] = (2, 3),
    iau_modules: Sequence[str] = ("ciau", "stiau"),
    iau_arrangement: str = "sequential",
    relations: str = "both",
    num_parts: int = 4,
    part_division: str = "attention",
    num_frames: int = 1,
    last_stride: int = 1,
    global_pool: str = "avg",
    backbone: str = "resnet",
    head: str = "bnneck",
    channel_relation: str = "dot",
    part_relation: str = "subnet",
    base_channels: int = IMAGENET_BASE_CHANNELS,
) -> None:
    """Raise a ValueError naming the option when an IAUnet setting is invalid (shared by the model and config)."""
    if backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {BACKBONES}, got {backbone!r}")
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    if global_pool not in GLOBAL_POOLS:
        raise ValueError(
            f"global_pool must be one of {GLOBAL_POOLS} (average over space and time, or '' for the unpooled "
            f"feature map), got {global_pool!r}"
        )
    if backbone == "resnet" and depth not in RESNET_LAYOUTS:
        raise ValueError(f"depth must be one of {sorted(RESNET_LAYOUTS)}, got {depth}")
    if base_channels < 1 or (backbone != "resnet" and base_channels != IMAGENET_BASE_CHANNELS):
        raise ValueError(
            f"base_channels must be >= 1 and applies to the ResNet backbone only (GoogLeNet has "
            f"{IMAGENET_BASE_CHANNELS}), got {base_channels} with backbone={backbone!r}"
        )
    if in_chans < 1:
        raise ValueError(f"in_chans must be >= 1, got {in_chans}")
    stages = tuple(iau_stages)
    if any(stage not in (1, 2, 3, 4) for stage in stages) or len(set(stages)) != len(stages):
        raise ValueError(f"iau_stages must be distinct stage numbers among 1..4, got {stages}")
    if last_stride not in (1, 2):
        raise ValueError(f"last_stride must be 1 or 2, got {last_stride}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    modules = tuple(iau_modules)
    if stages and modules and all(name in COMPARISON_MODULE_NAMES for name in modules):
        check_comparison_modules(modules)
        if iau_arrangement != "sequential":
            raise ValueError(
                f"iau_arrangement={iau_arrangement!r} applies to CIAU and STIAU only; comparison blocks "
                f"{modules!r} run in sequence"
            )
    elif stages:
        if any(name in COMPARISON_MODULE_NAMES for name in modules):
            raise ValueError(
                f"iau_modules mixes IAU sub-modules {IAU_MODULE_NAMES} and comparison blocks "
                f"{COMPARISON_MODULE_NAMES}; choose from one of them, got {modules!r}"
            )
        check_iau_options(
            modules, iau_arrangement, relations, num_parts, part_division, channel_relation, part_relation
        )


def embedding_size(
    depth: int = 50,
    backbone: str = "resnet",
    head: str = "bnneck",
    base_channels: int = IMAGENET_BASE_CHANNELS,
) -> int:
    """Size of the retrieval embedding: the backbone's last channels, or PCB's 6 x 256 stripe features."""
    if head == "pcb":
        return PCBHead.embedding_size()
    layout = (
        googlenet_layout() if backbone == "googlenet" else resnet_layout(depth, base_channels=base_channels)
    )
    return layout.stage_channels[-1]
