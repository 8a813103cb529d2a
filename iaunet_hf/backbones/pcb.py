"""Deprecated path: ``iaunet_hf.model.backbones.pcb``."""

from .._deprecation import warn_moved
from ..model.backbones.pcb import (
    PCB_STRIPE_FEATURES,
    PCB_STRIPES,
    PCBHead,
    StripeClassifier,
    pcb_loss,
    stripe_cross_entropy,
)

warn_moved("iaunet_hf.backbones.pcb", "iaunet_hf.model.backbones.pcb")

__all__ = [
    "PCBHead",
    "PCB_STRIPES",
    "PCB_STRIPE_FEATURES",
    "StripeClassifier",
    "pcb_loss",
    "stripe_cross_entropy",
]
