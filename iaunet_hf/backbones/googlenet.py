"""Deprecated path: ``iaunet_hf.model.backbones.googlenet``."""

from .._deprecation import warn_moved
from ..model.backbones.googlenet import (
    GOOGLENET_LAYOUT,
    Inception,
    InceptionInput,
    build_googlenet,
    googlenet_layout,
)

warn_moved("iaunet_hf.backbones.googlenet", "iaunet_hf.model.backbones.googlenet")

__all__ = ["GOOGLENET_LAYOUT", "Inception", "InceptionInput", "build_googlenet", "googlenet_layout"]
