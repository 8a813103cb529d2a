"""Backbones of the paper's tables (ResNet-18 to 152, GoogLeNet with BN) and the PCB head, run by a layout;
IBN-Net's IBN-a ResNets and OSNet (a timm model) for the any-CNN path."""

from .googlenet import GOOGLENET_LAYOUT, build_googlenet, googlenet_layout
from .ibn import IBN, fresh_ibn_keys, plain_resnet_to_ibn
from .layout import BackboneLayout
from .osnet import OSNET_WIDTHS, OSNet
from .pcb import PCBHead, StripeClassifier, pcb_loss, stripe_cross_entropy
from .resnet import RESNET_LAYOUTS, ResNetStage, build_resnet, resnet_layout

__all__ = [
    "GOOGLENET_LAYOUT",
    "IBN",
    "OSNET_WIDTHS",
    "RESNET_LAYOUTS",
    "BackboneLayout",
    "OSNet",
    "PCBHead",
    "ResNetStage",
    "StripeClassifier",
    "build_googlenet",
    "build_resnet",
    "fresh_ibn_keys",
    "googlenet_layout",
    "pcb_loss",
    "plain_resnet_to_ibn",
    "resnet_layout",
    "stripe_cross_entropy",
]
