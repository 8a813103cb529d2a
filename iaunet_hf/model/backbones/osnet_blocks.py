"""OSNet's building blocks (Zhou et al., ICCV 2019), named as in torchreid so its weights load by identity.

An omni-scale block runs four streams of 1, 2, 3 and 4 lightweight 3x3 convs (1x1 linear + depthwise 3x3) on a
shared bottleneck and mixes them with one channel gate shared by the streams.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

BLOCKS_PER_STAGE = 2  # two omni-scale blocks in each of conv2, conv3, conv4 for every published width


class ConvBnAct(nn.Module):
    """conv -> BN -> ReLU (or no activation), named ``conv``/``bn``/``relu`` as in torchreid.

    A Module, not a Sequential: timm's ``flatten_sequential`` would otherwise split ``conv1``/``conv5`` into parts.
    """

    def __init__(self, in_chs, out_chs, kernel_size=1, stride=1, act=True, device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        padding = kernel_size // 2
        self.conv = nn.Conv2d(in_chs, out_chs, kernel_size, stride=stride, padding=padding, bias=False, **dd)
        self.bn = nn.BatchNorm2d(out_chs, **dd)
        self.relu = nn.ReLU(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class LightConv3x3(nn.Module):
    """1x1 linear conv then depthwise 3x3, BN, ReLU: a 3x3 receptive field at a fraction of a 3x3 conv's cost."""

    def __init__(self, channels: int, device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        self.conv1 = nn.Conv2d(channels, channels, 1, bias=False, **dd)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False, **dd)
        self.bn = nn.BatchNorm2d(channels, **dd)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv2(self.conv1(x))))


def _light_stream(channels: int, depth: int, device=None, dtype=None) -> nn.Module:
    """``depth`` stacked lightweight convs: receptive field 2*depth+1 (a bare module for depth 1, as torchreid)."""
    if depth == 1:
        return LightConv3x3(channels, device=device, dtype=dtype)
    return nn.Sequential(*(LightConv3x3(channels, device=device, dtype=dtype) for _ in range(depth)))


class ChannelGate(nn.Module):
    """The unified aggregation gate: per-channel sigmoid weights from the pooled stream (reduction 16)."""

    def __init__(self, channels: int, reduction: int = 16, device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, **dd)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, **dd)
        self.gate_activation = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gates = self.gate_activation(self.fc2(self.relu(self.fc1(self.global_avgpool(x)))))
        return x * gates


class OSBlock(nn.Module):
    """Omni-scale residual block: 1x1 reduce (by 4), four streams of scales 3/5/7/9 gated and summed, 1x1 expand."""

    def __init__(self, in_chs: int, out_chs: int, bottleneck_reduction: int = 4, device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        mid_chs = out_chs // bottleneck_reduction
        self.conv1 = ConvBnAct(in_chs, mid_chs, **dd)
        self.conv2a = _light_stream(mid_chs, 1, **dd)
        self.conv2b = _light_stream(mid_chs, 2, **dd)
        self.conv2c = _light_stream(mid_chs, 3, **dd)
        self.conv2d = _light_stream(mid_chs, 4, **dd)
        self.gate = ChannelGate(mid_chs, **dd)
        self.conv3 = ConvBnAct(mid_chs, out_chs, act=False, **dd)
        self.downsample = ConvBnAct(in_chs, out_chs, act=False, **dd) if in_chs != out_chs else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bottleneck = self.conv1(x)
        streams = (self.conv2a, self.conv2b, self.conv2c, self.conv2d)
        mixed = sum(self.gate(stream(bottleneck)) for stream in streams)
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(self.conv3(mixed) + identity)


def make_stage(in_chs: int, out_chs: int, transition: bool, device=None, dtype=None) -> nn.Sequential:
    """Two omni-scale blocks, then (conv2, conv3) a 1x1 conv + 2x2 average pool transition halving the map."""
    dd = dict(device=device, dtype=dtype)
    layers: list[nn.Module] = [OSBlock(in_chs, out_chs, **dd)]
    layers += [OSBlock(out_chs, out_chs, **dd) for _ in range(BLOCKS_PER_STAGE - 1)]
    if transition:
        layers.append(nn.Sequential(ConvBnAct(out_chs, out_chs, **dd), nn.AvgPool2d(2, stride=2)))
    return nn.Sequential(*layers)
