"""Backbones beyond the ResNets (paper Tables XI and XII): GoogLeNet with BN, and the PCB head."""

from .googlenet import GOOGLENET_LAYOUT, build_googlenet, googlenet_layout
from .layout import BackboneLayout
from .pcb import PCBHead, StripeClassifier, stripe_cross_entropy

__all__ = [
    "GOOGLENET_LAYOUT",
    "BackboneLayout",
    "PCBHead",
    "StripeClassifier",
    "build_googlenet",
    "googlenet_layout",
    "stripe_cross_entropy",
]
