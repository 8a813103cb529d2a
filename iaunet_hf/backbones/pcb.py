"""Deprecated path: ``iaunet_hf.model.backbones.pcb``."""

from .._deprecation import warn_moved
from ..model.backbones.pcb import PCBHead, PCB_STRIPES, PCB_STRIPE_FEATURES, StripeClassifier, pcb_loss, stripe_cross_entropy  # noqa: F401

warn_moved("iaunet_hf.backbones.pcb", "iaunet_hf.model.backbones.pcb")
