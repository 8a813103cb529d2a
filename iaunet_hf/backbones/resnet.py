"""Deprecated path: ``iaunet_hf.model.backbones.resnet``."""

from .._deprecation import warn_moved
from ..model.backbones.resnet import (
    IMAGENET_BASE_CHANNELS,
    RESNET_LAYOUTS,
    STAGE_NAMES,
    ResNetStage,
    build_resnet,
    resnet_layout,
)

warn_moved("iaunet_hf.backbones.resnet", "iaunet_hf.model.backbones.resnet")

__all__ = [
    "IMAGENET_BASE_CHANNELS",
    "RESNET_LAYOUTS",
    "ResNetStage",
    "STAGE_NAMES",
    "build_resnet",
    "resnet_layout",
]
