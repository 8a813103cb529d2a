"""Deprecated path: ``iaunet_hf.model.backbones.layout``."""

from .._deprecation import warn_moved
from ..model.backbones.layout import BackboneLayout  # noqa: F401

warn_moved("iaunet_hf.backbones.layout", "iaunet_hf.model.backbones.layout")
