"""Deprecated path of the comparison blocks: ``iaunet_hf.model.comparison_blocks``."""

from ._deprecation import warn_moved
from .model.comparison_blocks import (
    RELATION_KEYS,
    SE_REDUCTION,
    SIA_PRIOR_SCALE,
    ChannelAggregation,
    ComparisonBlock,
    NonLocal,
    SpatialInteraction,
    SqueezeExcitation,
    location_prior,
    position_aggregation,
    prior_weighted_aggregation,
)
from .model.options import COMPARISON_MODULE_NAMES, check_comparison_modules

warn_moved("iaunet_hf.comparison_blocks", "iaunet_hf.model.comparison_blocks")

__all__ = [
    "COMPARISON_MODULE_NAMES",
    "RELATION_KEYS",
    "SE_REDUCTION",
    "SIA_PRIOR_SCALE",
    "ChannelAggregation",
    "ComparisonBlock",
    "NonLocal",
    "SpatialInteraction",
    "SqueezeExcitation",
    "check_comparison_modules",
    "location_prior",
    "position_aggregation",
    "prior_weighted_aggregation",
]
