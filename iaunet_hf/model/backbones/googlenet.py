"""GoogLeNet with BN in torchvision's layout (paper Table XI, ref. [77]), cut into four reID stages.

Module names equal torchvision's ``googlenet``, so its ImageNet weights load unchanged (their ``aux1``/``aux2``
/``fc`` heads are not used). The stage-2/stage-3 positions where IAU blocks go are after ``inception3b`` (480
channels, stride 8) and after ``inception4e`` (832 channels, stride 16); last stride 1 drops ``maxpool4``, so
``inception5b`` keeps stride 16 as the ResNets' layer4 does.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn
from torchvision.models.googlenet import BasicConv2d
from torchvision.models.googlenet import Inception as TorchvisionInception
from transformers.modeling_layers import GradientCheckpointingLayer

from .layout import BackboneLayout

# torchvision's ImageNet GoogLeNet was ported from TensorFlow and expects inputs in [-1, 1]; with
# ``transform_input`` it maps ImageNet-normalised inputs there, which keeps the package's one input contract.
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)

GOOGLENET_LAYOUT = BackboneLayout(
    stem=("transform_input", "conv1"),
    stages=(
        ("maxpool1", "conv2", "conv3"),
        ("maxpool2", "inception3a", "inception3b"),
        ("maxpool3", "inception4a", "inception4b", "inception4c", "inception4d", "inception4e"),
        ("maxpool4", "inception5a", "inception5b"),
    ),
    stem_channels=64,
    stage_channels=(192, 480, 832, 1024),
    stage_strides=(2, 2, 2, 2),
)


class Inception(TorchvisionInception, GradientCheckpointingLayer):
    """torchvision's inception module, as the unit gradient checkpointing recomputes (like a ResNet stage)."""


class InceptionInput(nn.Module):
    """torchvision's ``transform_input``: ImageNet-normalised RGB -> the [-1, 1] range the weights expect.

    The constants are made per call, not stored as buffers: nothing to save, load or initialise on meta devices.
    """

    def __init__(self, in_chans: int = 3) -> None:
        super().__init__()
        self.enabled = in_chans == 3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        scale = x.new_tensor([s / 0.5 for s in _IMAGENET_STD]).reshape(1, 3, 1, 1)
        shift = x.new_tensor([(m - 0.5) / 0.5 for m in _IMAGENET_MEAN]).reshape(1, 3, 1, 1)
        return x * scale + shift


def build_googlenet(in_chans: int = 3, last_stride: int = 1, device=None, dtype=None) -> dict[str, nn.Module]:
    """The GoogLeNet modules by torchvision name, in forward order (``GOOGLENET_LAYOUT`` says how to run them).

    torchvision's modules take no ``device``/``dtype``, so they are built under ``torch.device`` (meta included)
    and cast afterwards.
    """
    with torch.device(device) if device is not None else contextlib.nullcontext():
        modules = _googlenet_modules(in_chans, last_stride)
    if dtype is not None:
        for module in modules.values():
            module.to(dtype=dtype)
    return modules


def _googlenet_modules(in_chans: int, last_stride: int) -> dict[str, nn.Module]:
    return {
        "transform_input": InceptionInput(in_chans),
        "conv1": BasicConv2d(in_chans, 64, kernel_size=7, stride=2, padding=3),
        "maxpool1": nn.MaxPool2d(3, stride=2, ceil_mode=True),
        "conv2": BasicConv2d(64, 64, kernel_size=1),
        "conv3": BasicConv2d(64, 192, kernel_size=3, padding=1),
        "maxpool2": nn.MaxPool2d(3, stride=2, ceil_mode=True),
        "inception3a": Inception(192, 64, 96, 128, 16, 32, 32),
        "inception3b": Inception(256, 128, 128, 192, 32, 96, 64),
        "maxpool3": nn.MaxPool2d(3, stride=2, ceil_mode=True),
        "inception4a": Inception(480, 192, 96, 208, 16, 48, 64),
        "inception4b": Inception(512, 160, 112, 224, 24, 64, 64),
        "inception4c": Inception(512, 128, 128, 256, 24, 64, 64),
        "inception4d": Inception(512, 112, 144, 288, 32, 64, 64),
        "inception4e": Inception(528, 256, 160, 320, 32, 128, 128),
        "maxpool4": nn.MaxPool2d(2, stride=2, ceil_mode=True) if last_stride == 2 else nn.Identity(),
        "inception5a": Inception(832, 256, 160, 320, 32, 128, 128),
        "inception5b": Inception(832, 384, 192, 384, 48, 128, 128),
    }


def googlenet_layout(last_stride: int = 1) -> BackboneLayout:
    return GOOGLENET_LAYOUT.with_last_stride(last_stride)
