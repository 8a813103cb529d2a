"""Deprecated path of the network option checks: ``iaunet_hf.model.options`` (``IAUnetOptions``)."""

from ._deprecation import warn_moved
from .model.backbones.resnet import IMAGENET_BASE_CHANNELS
from .model.options import BACKBONES, GLOBAL_POOLS, HEADS, IAUnetOptions, check_global_pool

warn_moved("iaunet_hf.network_options", "iaunet_hf.model.options (IAUnetOptions)")


def check_network_options(
    depth=50,
    in_chans=3,
    iau_stages=(2, 3),
    iau_modules=("ciau", "stiau"),
    iau_arrangement="sequential",
    relations="both",
    num_parts=4,
    part_division="attention",
    num_frames=1,
    last_stride=1,
    global_pool="avg",
    backbone="resnet",
    head="bnneck",
    channel_relation="dot",
    part_relation="subnet",
    base_channels=IMAGENET_BASE_CHANNELS,
) -> None:
    """Deprecated: ``IAUnetOptions(...)`` validates the same options when it is made."""
    options = dict(locals())
    check_global_pool(options.pop("global_pool"))
    for old, new in IAUnetOptions.former_keywords().items():
        options[new] = options.pop(old)
    IAUnetOptions.from_kwargs(**options)


def embedding_size(depth=50, backbone="resnet", head="bnneck", base_channels=IMAGENET_BASE_CHANNELS) -> int:
    """Deprecated: ``IAUnetOptions(...).embedding_size``."""
    return IAUnetOptions(
        depth=depth, backbone=backbone, head=head, base_channels=base_channels
    ).embedding_size


__all__ = ["BACKBONES", "GLOBAL_POOLS", "HEADS", "check_network_options", "embedding_size"]
