"""Deprecated path of the backbones: ``iaunet_hf.model.backbones``."""

from .._deprecation import warn_moved
from ..model.backbones import *  # noqa: F403
from ..model.backbones import __all__  # noqa: F401

warn_moved("iaunet_hf.backbones", "iaunet_hf.model.backbones")
