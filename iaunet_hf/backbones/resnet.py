"""Deprecated path: ``iaunet_hf.model.backbones.resnet``."""

from .._deprecation import warn_moved
from ..model.backbones.resnet import IMAGENET_BASE_CHANNELS, RESNET_LAYOUTS, ResNetStage, STAGE_NAMES, build_resnet, resnet_layout  # noqa: F401

warn_moved("iaunet_hf.backbones.resnet", "iaunet_hf.model.backbones.resnet")
