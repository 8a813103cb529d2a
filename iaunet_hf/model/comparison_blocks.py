"""The blocks the paper compares IAU with, each usable wherever an IAU block goes (Tables VI and VII).

- ``"nl"``: Non-local, embedded Gaussian (Wang et al., CVPR 2018). θ, φ, g are 1×1 convs C→C/2 with bias;
  f = softmax_j(θ(x_i)ᵀφ(x_j)) with no scaling and no subsampling; z = x + BN(W(f·g(x))), W a 1×1 conv C/2→C,
  BN zero-initialised so the block starts as the identity. A clip is one graph over all its T·H·W positions
  (the video NL of Table VI).
- ``"se"``: Squeeze-and-Excitation, reduction 16 (Hu et al., CVPR 2018): s = σ(FC₂(ReLU(FC₁(GAP(x))))),
  y = x·s per channel and frame. SE is not residual, so it cannot start as the identity; it is initialised as
  timm's SE-ResNets are (He normal, fan-out), like the rest of the network.
- ``"sia"``: IANet's spatial interaction-aggregation (Hou et al., "Interaction-and-Aggregation Network for
  Person Re-identification", CVPR 2019, the paper's ref. [16]), in the formulation of IANet's released code
: a fixed location prior L_ij = softmax_j(−(Δx²/2αx² + Δy²/2αy²)) over the grid offsets
  between positions i and j, with (αx, αy) = 0.625 × the map's (width, height), which is IANet's (10, 20) on
  a 32×16 map and (5, 10) on 16×8; a semantic relation S = softmax_j(x_iᵀx_j / √C) without projections;
  R = softmax_j(L ⊙ S); z = x + BN(R·x) with BN zero-initialised. IANet builds L for one fixed map size; here it
  is built for the input's size. Frames of a clip are treated one by one (IANet is an image model).
- ``"cia"``: the channel step of IANet's IA block: CIAU without its 1×1 conv, z = x + BN(softmax(XXᵀ)·X) with
  X one row per channel per frame. ``("sia", "cia")`` is IANet's whole IA block.

Every unit maps a (B*T, C, H, W) map to its output and one relation map; ``ComparisonBlock`` chains them with
``IAUBlock.forward``'s signature. Affinities and softmaxes run in at least float32, outside autocast.
"""

from __future__ import annotations

import math

import torch
import torch.fx
from torch import nn

from .attention_ops import at_least_float32, autocast_off, channel_aggregation, is_tracing
from .options import check_comparison_modules
from .weight_init import init_module_weights, mark_zero_init

# A leaf for torch.fx here too (torch.fx.wrap patches the calling module's own global name).
torch.fx.wrap("channel_aggregation")

# Key of each unit's map in the block's relations dict.
RELATION_KEYS = {"nl": "position", "se": "excitation", "sia": "position", "cia": "channel"}
SE_REDUCTION = 16
SIA_PRIOR_SCALE = 0.625  # IANet's alpha = 0.625 x the map's width/height


@torch.fx.wrap  # a leaf for torch.fx: autocast and dtype promotion need concrete tensors
def position_aggregation(
    queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax_j(q_i·k_j) v over (B, P, C') rows, in at least float32 (autocast off); v's dtype comes back."""
    with autocast_off(queries.device):
        compute = at_least_float32(queries.dtype)
        relation = torch.bmm(queries.to(compute), keys.to(compute).transpose(1, 2)).softmax(dim=-1)
        aggregated = torch.bmm(relation, values.to(compute))  # (B, P, C')
    return aggregated.to(values.dtype), relation


class NonLocal(nn.Module):
    """Embedded-Gaussian Non-local block; a clip's T·H·W positions form one graph (module docstring)."""

    def __init__(self, channels: int, device=None, dtype=None) -> None:
        super().__init__()
        factory = dict(device=device, dtype=dtype)
        inter = channels // 2
        self.channels, self.inter_channels = channels, inter
        self.theta = nn.Conv2d(channels, inter, kernel_size=1, **factory)
        self.phi = nn.Conv2d(channels, inter, kernel_size=1, **factory)
        self.g = nn.Conv2d(channels, inter, kernel_size=1, **factory)
        self.out = nn.Conv2d(inter, channels, kernel_size=1, **factory)
        self.norm = mark_zero_init(nn.BatchNorm2d(channels, **factory))
        self.apply(init_module_weights)

    def _clip_positions(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        """(B*T, C', H, W) -> (B, T*H*W, C'): one row per position of the clip."""
        frames_times_batch, inter, height, width = x.shape
        x = x.reshape(frames_times_batch // num_frames, num_frames, inter, height * width)
        return x.permute(0, 1, 3, 2).reshape(frames_times_batch // num_frames, -1, inter)

    def forward(self, x: torch.Tensor, num_frames: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """Return z (B*T, C, H, W) and the (B, THW, THW) position relation."""
        frames_times_batch, _, height, width = x.shape
        theta = self._clip_positions(self.theta(x), num_frames)
        phi = self._clip_positions(self.phi(x), num_frames)
        g = self._clip_positions(self.g(x), num_frames)
        aggregated, relation = position_aggregation(theta, phi, g)  # (B, THW, C'), (B, THW, THW)
        aggregated = aggregated.reshape(-1, num_frames, height * width, self.inter_channels)
        aggregated = aggregated.permute(0, 1, 3, 2).reshape(frames_times_batch, -1, height, width)
        return x + self.norm(self.out(aggregated)), relation


class SqueezeExcitation(nn.Module):
    """SE with reduction 16, applied to every frame; not residual (module docstring)."""

    def __init__(self, channels: int, reduction: int = SE_REDUCTION, device=None, dtype=None) -> None:
        super().__init__()
        factory = dict(device=device, dtype=dtype)
        self.channels = channels
        self.fc1 = nn.Linear(channels, channels // reduction, **factory)
        self.fc2 = nn.Linear(channels // reduction, channels, **factory)
        self.apply(init_module_weights)

    def forward(self, x: torch.Tensor, num_frames: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """Return x·s (B*T, C, H, W) and the channel weights s (B*T, C)."""
        weights = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean(dim=(2, 3))))))
        return x * weights[:, :, None, None], weights


def location_prior(height: int, width: int, device=None, dtype=None) -> torch.Tensor:
    """IANet's (HW, HW) location prior: row-softmax of −(Δx²/2αx² + Δy²/2αy²), α = 0.625 × (width, height)."""
    rows = torch.arange(height, device=device, dtype=dtype).repeat_interleave(width)  # y of each position
    cols = torch.arange(width, device=device, dtype=dtype).repeat(height)  # x of each position
    alpha_y, alpha_x = SIA_PRIOR_SCALE * height, SIA_PRIOR_SCALE * width
    dy = rows[:, None] - rows[None, :]
    dx = cols[:, None] - cols[None, :]
    return (-(dx**2) / (2 * alpha_x**2) - dy**2 / (2 * alpha_y**2)).softmax(dim=-1)


@torch.fx.wrap  # a leaf for torch.fx: autocast and dtype promotion need concrete tensors
def prior_weighted_aggregation(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """SIA's R = softmax_j(L ⊙ softmax_j(x_iᵀx_j/√C)) and R·x per frame, in at least float32 (autocast off)."""
    frames_times_batch, channels, height, width = x.shape
    with autocast_off(x.device):
        compute = at_least_float32(x.dtype)
        positions = x.to(compute).flatten(2).transpose(1, 2)  # (B*T, HW, C)
        semantic = torch.bmm(positions, positions.transpose(1, 2)) / math.sqrt(channels)
        prior = location_prior(height, width, device=x.device, dtype=compute)
        relation = (prior * semantic.softmax(dim=-1)).softmax(dim=-1)  # (B*T, HW, HW)
        aggregated = torch.bmm(relation, positions)  # (B*T, HW, C)
    aggregated = aggregated.transpose(1, 2).to(x.dtype).reshape(frames_times_batch, channels, height, width)
    return aggregated, relation


class SpatialInteraction(nn.Module):
    """IANet's SIA: position-to-position aggregation under a fixed location prior (module docstring)."""

    def __init__(self, channels: int, device=None, dtype=None) -> None:
        super().__init__()
        self.channels = channels
        self.norm = mark_zero_init(nn.BatchNorm2d(channels, device=device, dtype=dtype))
        self.apply(init_module_weights)

    def forward(self, x: torch.Tensor, num_frames: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """Return z (B*T, C, H, W) and the (B*T, HW, HW) relation R; frames are independent."""
        aggregated, relation = prior_weighted_aggregation(x)  # (B*T, C, H, W), (B*T, HW, HW)
        return x + self.norm(aggregated), relation


class ChannelAggregation(nn.Module):
    """IANet's channel step: CIAU without the 1×1 conv (softmax of the raw channel Gram, zero-init BN)."""

    def __init__(self, channels: int, device=None, dtype=None) -> None:
        super().__init__()
        self.channels = channels
        self.norm = mark_zero_init(nn.BatchNorm2d(channels, device=device, dtype=dtype))
        self.apply(init_module_weights)

    def forward(self, x: torch.Tensor, num_frames: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """Return z (B*T, C, H, W) and the (B, TC, TC) channel relation."""
        frames_times_batch, channels, height, width = x.shape
        rows = x.reshape(-1, num_frames * channels, height * width)
        aggregated, relation = channel_aggregation(rows)  # (B, TC, HW), (B, TC, TC)
        return x + self.norm(aggregated.reshape(frames_times_batch, channels, height, width)), relation


COMPARISON_MODULES: dict[str, type[nn.Module]] = {
    "nl": NonLocal,
    "se": SqueezeExcitation,
    "sia": SpatialInteraction,
    "cia": ChannelAggregation,
}


class ComparisonBlock(nn.Module):
    """One or more comparison units in sequence, with ``IAUBlock.forward``'s inputs and outputs."""

    def __init__(
        self, channels: int, modules: tuple[str, ...] | list[str] = ("nl",), device=None, dtype=None
    ) -> None:
        super().__init__()
        modules = tuple(modules)
        check_comparison_modules(modules)
        self.channels = channels
        self.order = modules
        for name in modules:
            self.add_module(name, COMPARISON_MODULES[name](channels, device=device, dtype=dtype))

    def forward(
        self, x: torch.Tensor, num_frames: int = 1, return_relations: bool = True
    ) -> tuple[torch.Tensor, None, dict[str, torch.Tensor]]:
        """Return the updated map (B*T, C, H, W), no part attention, and each unit's relation map.

        ``return_relations`` is accepted for ``IAUBlock``'s interface; the comparison units compute their
        relation maps either way (they are research baselines, not the deployed path).
        """
        if not is_tracing():
            if x.dim() != 4 or x.shape[1] != self.channels:
                raise ValueError(
                    f"{type(self).__name__} expects a (B*T, {self.channels}, H, W) tensor, got shape {tuple(x.shape)}"
                )
            if x.shape[0] % num_frames:
                raise ValueError(
                    f"{type(self).__name__} got {x.shape[0]} frames, not a multiple of {num_frames}"
                )
        relations: dict[str, torch.Tensor] = {}
        for name in self.order:
            x, relations[RELATION_KEYS[name]] = getattr(self, name)(x, num_frames)
        return x, None, relations
