"""Backbones of the paper's tables (ResNet-18 to 152, GoogLeNet with BN) and the PCB head, run by a layout."""

from .googlenet import GOOGLENET_LAYOUT, build_googlenet, googlenet_layout
from .layout import BackboneLayout
from .pcb import PCBHead, StripeClassifier, pcb_loss, stripe_cross_entropy
from .resnet import RESNET_LAYOUTS, ResNetStage, build_resnet, resnet_layout

__all__ = [
    "GOOGLENET_LAYOUT",
    "RESNET_LAYOUTS",
    "BackboneLayout",
    "PCBHead",
    "ResNetStage",
    "StripeClassifier",
    "build_googlenet",
    "build_resnet",
    "googlenet_layout",
    "pcb_loss",
    "resnet_layout",
    "stripe_cross_entropy",
]
