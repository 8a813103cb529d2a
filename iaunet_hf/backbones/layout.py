"""Deprecated path: ``iaunet_hf.model.backbones.layout``."""

from .._deprecation import warn_moved
from ..model.backbones.layout import BackboneLayout

warn_moved("iaunet_hf.backbones.layout", "iaunet_hf.model.backbones.layout")

__all__ = ["BackboneLayout"]
