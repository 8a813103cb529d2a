"""IBN-Net's instance-batch normalisation (Pan et al., ECCV 2018, "Two at Once"), design IBN-a.

IBN-a replaces the first norm of every residual block in ResNet layers 1-3 by ``IBN``: instance normalisation on
the first half of the channels (appearance invariance), batch normalisation on the rest (content
discrimination); layer 4 keeps plain BN. Children are named ``IN`` and ``BN`` as in the authors' code, so their
released ``resnet*_ibn_a`` weights load unchanged.
"""

from __future__ import annotations

import re

import torch
from torch import nn

# The stages whose blocks get an IBN as first norm, in design IBN-a.
IBN_A_STAGES = ("layer1", "layer2", "layer3")
# The instance-normalised share of an IBN's channels in the published IBN-a networks (the first half).
IN_RATIO = 0.5
# A block's first norm in those stages: layer1.0.bn1.weight, layer3.5.bn1.running_var, ...
_FIRST_NORM_KEY = re.compile(
    r"^(layer[123]\.\d+\.bn1)\.(weight|bias|running_mean|running_var|num_batches_tracked)$"
)


class IBN(nn.Module):
    """InstanceNorm2d (affine) on the first ``int(channels * in_ratio)`` channels, BatchNorm2d on the rest."""

    def __init__(self, channels: int, in_ratio: float = IN_RATIO, device=None, dtype=None) -> None:
        super().__init__()
        self.half = int(channels * in_ratio)
        self.IN = nn.InstanceNorm2d(self.half, affine=True, device=device, dtype=dtype)
        self.BN = nn.BatchNorm2d(channels - self.half, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        instance_part, batch_part = torch.split(x, [self.half, x.shape[1] - self.half], dim=1)
        return torch.cat((self.IN(instance_part.contiguous()), self.BN(batch_part.contiguous())), dim=1)


def plain_resnet_to_ibn(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Plain (torchvision/timm) ResNet weights -> the IBN-a names, for starting an IBN-a ResNet from ImageNet.

    Each ``layer1-3.*.bn1`` becomes ``bn1.BN`` with the second-half channels of the plain norm (those channels
    keep batch normalisation, so their learned affine and running statistics stay valid). The first half is
    instance-normalised: ``bn1.IN.weight``/``bn1.IN.bias`` are not produced and start fresh (ones and zeros).
    Keys already in IBN form (the authors' checkpoints) and all other keys pass through unchanged.
    """
    converted: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        match = _FIRST_NORM_KEY.match(key)
        if match is None:
            converted[key] = value
            continue
        prefix, field = match.groups()
        if field == "num_batches_tracked":
            converted[f"{prefix}.BN.{field}"] = value
        else:
            converted[f"{prefix}.BN.{field}"] = value[int(value.shape[0] * IN_RATIO) :].clone()
    return converted


def fresh_ibn_keys(state_dict_keys) -> list[str]:
    """The keys of an IBN-a ResNet that ``plain_resnet_to_ibn`` cannot supply: every ``bn1.IN`` affine."""
    return [key for key in state_dict_keys if ".bn1.IN." in key]
