"""The torchvision-layout ResNets (18 to 152) cut into the four reID stages, with last stride 1 by default.

Parameter names equal torchvision's and timm's ResNet names, so ImageNet ResNet weights load unchanged.
"""

from __future__ import annotations

from timm.models.resnet import BasicBlock, Bottleneck, downsample_conv
from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer

from .ibn import IBN, IBN_A_STAGES
from .layout import BackboneLayout

RESNET_LAYOUTS: dict[int, tuple[type[nn.Module], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}
STAGE_NAMES = ("layer1", "layer2", "layer3", "layer4")


class ResNetStage(nn.Sequential, GradientCheckpointingLayer):
    """One ResNet stage (torchvision layout and names); the unit that gradient checkpointing recomputes.

    Subclassing transformers' ``GradientCheckpointingLayer`` lets ``gradient_checkpointing_enable()`` find and
    switch it; timm's ``set_grad_checkpointing`` sets the same two attributes, so both faces share one mechanism.
    """


def _make_stage(
    block: type[nn.Module],
    in_channels: int,
    channels: int,
    num_blocks: int,
    stride: int,
    device=None,
    dtype=None,
) -> ResNetStage:
    """A torchvision-style ResNet stage (stride on the first block's 3x3 conv, 1x1 projection shortcut)."""
    dd = dict(device=device, dtype=dtype)
    downsample = None
    out_channels = channels * block.expansion
    if stride != 1 or in_channels != out_channels:
        downsample = downsample_conv(in_channels, out_channels, kernel_size=1, stride=stride, **dd)
    blocks = [block(in_channels, channels, stride, downsample, **dd)]
    blocks += [block(out_channels, channels, **dd) for _ in range(num_blocks - 1)]
    return ResNetStage(*blocks)


# Channels of the stem and of stage 1's blocks in every published ResNet; each later stage doubles them.
IMAGENET_BASE_CHANNELS = 64


def resnet_layout(
    depth: int, last_stride: int = 1, base_channels: int = IMAGENET_BASE_CHANNELS
) -> BackboneLayout:
    """Stem conv1-bn1-act1; stage 1 is maxpool + layer1, stages 2-4 are layer2-4."""
    block, _ = RESNET_LAYOUTS[depth]
    return BackboneLayout(
        stem=("conv1", "bn1", "act1"),
        stages=(("maxpool", "layer1"), ("layer2",), ("layer3",), ("layer4",)),
        stem_channels=base_channels,
        stage_channels=tuple(base_channels * 2**index * block.expansion for index in range(4)),
        stage_strides=(2, 2, 2, last_stride),
    )


def build_resnet(
    depth: int,
    in_chans: int = 3,
    last_stride: int = 1,
    base_channels: int = IMAGENET_BASE_CHANNELS,
    ibn: str | None = None,
    device=None,
    dtype=None,
) -> dict[str, nn.Module]:
    """The ResNet modules by torchvision name, in forward order (``resnet_layout`` says how to run them).

    ``base_channels`` below 64 gives a narrow ResNet (e.g. 8: under 1M parameters at depth 18) for tests and quick
    experiments; ImageNet weights exist only for 64. ``ibn="a"`` builds IBN-Net's IBN-a: every block's first norm
    in layer1-3 is an ``IBN`` (its BN half keeps the name ``bn1.BN``; ``plain_resnet_to_ibn`` maps plain weights).
    """
    if ibn not in (None, "a"):
        raise ValueError(f"ibn={ibn!r} is not an IBN-Net design built here; expected None or 'a'")
    dd = dict(device=device, dtype=dtype)
    block, layers = RESNET_LAYOUTS[depth]
    modules: dict[str, nn.Module] = {
        "conv1": nn.Conv2d(in_chans, base_channels, kernel_size=7, stride=2, padding=3, bias=False, **dd),
        "bn1": nn.BatchNorm2d(base_channels, **dd),
        "act1": nn.ReLU(inplace=True),
        "maxpool": nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    }
    in_channels = base_channels
    for index, (name, num_blocks, stride) in enumerate(zip(STAGE_NAMES, layers, (1, 2, 2, last_stride))):
        channels = base_channels * 2**index
        modules[name] = _make_stage(block, in_channels, channels, num_blocks, stride, **dd)
        if ibn == "a" and name in IBN_A_STAGES:
            for residual_block in modules[name]:
                residual_block.bn1 = IBN(residual_block.bn1.num_features, **dd)
        in_channels = channels * block.expansion
    return modules
