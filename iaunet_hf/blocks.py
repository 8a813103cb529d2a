"""Deprecated path of the IAU block: ``iaunet_hf.model.iau_block`` (ops in ``attention_ops``/``weight_init``)."""

from ._deprecation import warn_moved
from .model.attention_ops import *
from .model.block_options import *
from .model.iau_block import ChannelInteraction, IAUBlock, SpatialTemporalInteraction
from .model.weight_init import init_module_weights, mark_zero_init

# the names these choices had before the options were renamed
CHANNEL_RELATIONS, PART_RELATIONS, RELATION_KINDS = CHANNEL_AFFINITIES, PART_AFFINITIES, STIAU_CONTEXTS

warn_moved(
    "iaunet_hf.blocks", "iaunet_hf.model (IAUBlock, IAUBlockOptions) and iaunet_hf.model.attention_ops"
)


def check_iau_options(
    modules=IAU_MODULE_NAMES,
    arrangement="sequential",
    relations="both",
    num_parts=4,
    part_division="attention",
    channel_relation="dot",
    part_relation="subnet",
) -> None:
    """Deprecated: ``IAUBlockOptions(...)`` validates the same options when it is made."""
    if any(name not in IAU_MODULE_NAMES for name in modules):
        raise ValueError(
            f"iau_modules must be a non-empty ordered subset of {IAU_MODULE_NAMES} without repeats, got "
            f"{tuple(modules)!r}"
        )
    IAUBlockOptions(
        tuple(modules), arrangement, relations, num_parts, part_division, channel_relation, part_relation
    )


__all__ = [
    "CHANNEL_RELATIONS",
    "IAU_ARRANGEMENTS",
    "IAU_MODULE_NAMES",
    "PART_DIVISIONS",
    "PART_RELATIONS",
    "RELATION_KINDS",
    "ChannelInteraction",
    "IAUBlock",
    "SpatialTemporalInteraction",
    "at_least_float32",
    "autocast_off",
    "channel_aggregation",
    "check_iau_options",
    "fused_channel_aggregation",
    "init_module_weights",
    "is_tracing",
    "l2_relation_logits",
    "mark_zero_init",
    "masked_relation_softmax",
    "relation_mask",
]
