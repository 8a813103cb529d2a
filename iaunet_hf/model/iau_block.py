"""The IAU block of IAUnet (CIAU then STIAU, each residual), in plain torch.

This is the only definition of the block: the timm and transformers classes wrap the network that uses it.
Every tensor that crosses a clip boundary is laid out as (B*T, C, H, W) with the T frames of a clip
contiguous, so images are simply clips of one frame. Options arrive validated (``IAUBlockOptions``).
"""

from __future__ import annotations

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

from .attention_ops import (
    channel_aggregation,
    fused_channel_aggregation,
    is_tracing,
    l2_relation_logits,
    masked_relation_softmax,
    relation_mask,
)
from .options import IAUBlockOptions
from .weight_init import init_module_weights, mark_zero_init

# the paper's block: CIAU then STIAU, spatial and temporal context, 4 parts
DEFAULT_OPTIONS = IAUBlockOptions()

# Leaves for torch.fx here too (torch.fx.wrap patches the calling module's own global name).
for _leaf in ("relation_mask", "channel_aggregation", "fused_channel_aggregation", "masked_relation_softmax"):
    torch.fx.wrap(_leaf)


class ChannelInteraction(nn.Module):
    """CIAU: channels (one row per channel per frame) attend to each other through their Gram matrix (spec §1a)."""

    def __init__(self, channels: int, channel_affinity: str = "dot", device=None, dtype=None) -> None:
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        self.channels = channels
        self.channel_affinity = channel_affinity
        self.update = nn.Conv2d(channels, channels, kernel_size=1, bias=True, **dd)
        self.norm = mark_zero_init(nn.BatchNorm2d(channels, **dd))
        self.apply(init_module_weights)

    def forward(
        self, x: torch.Tensor, num_frames: int = 1, return_relation: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the residual update for ``x`` (B*T, C, H, W) and the (B, T*C, T*C) channel relation.

        ``return_relation=False`` returns None for the relation and, for the "dot" relation, runs
        softmax(X X^T) X as one fused ``scaled_dot_product_attention`` with scale 1 (the TC x TC matrix is
        never materialised), in at least float32 like ``channel_aggregation``.
        """
        height, width = x.shape[-2], x.shape[-1]
        # (B*T, C, H, W) -> (B, T*C, H*W): one row per channel per frame.
        rows = x.reshape(-1, num_frames * self.channels, height * width)
        if return_relation or self.channel_affinity != "dot":
            aggregated, relation = channel_aggregation(rows, self.channel_affinity)
        else:
            aggregated, relation = fused_channel_aggregation(rows), None
        aggregated = aggregated.reshape(-1, self.channels, height, width)
        return self.norm(self.update(aggregated)), relation


class SpatialTemporalInteraction(nn.Module):
    """STIAU (SIAU for T=1): part nodes of all frames exchange context under the spatial/temporal mask (spec §1b)."""

    def __init__(
        self, channels: int, options: IAUBlockOptions = DEFAULT_OPTIONS, device=None, dtype=None
    ) -> None:
        super().__init__()
        if channels % 2:
            raise ValueError(f"STIAU halves the channels, so channels must be even, got {channels}")
        dd = dict(device=device, dtype=dtype)
        reduced = channels // 2
        self.channels = channels
        num_parts, part_affinity = options.num_parts, options.part_affinity
        self.num_parts = num_parts
        self.context = options.stiau_context
        self.part_division = options.part_division
        self.part_affinity = part_affinity
        if self.part_division == "attention":
            self.part_conv = nn.Conv2d(channels, num_parts, kernel_size=1, bias=True, **dd)
            self.part_norm = nn.BatchNorm2d(num_parts, **dd)
        self.embed = nn.Linear(channels, reduced, **dd)  # g, shared by part nodes and the global node
        if part_affinity == "subnet":  # STIAU-L2 has no relation sub-network
            self.relation = nn.Linear(2 * reduced, 1, **dd)  # w_r and b over [|p'_i - p'_j| ; u']
            # one-channel BN over all logits: a learned temperature
            self.relation_norm = nn.BatchNorm1d(1, **dd)
        self.part_update = nn.Linear(2 * reduced, reduced, **dd)
        self.part_update_norm = nn.BatchNorm1d(reduced, **dd)
        self.frame_update = nn.Linear(channels, channels, **dd)
        self.frame_update_norm = mark_zero_init(nn.BatchNorm1d(channels, **dd))
        self.apply(init_module_weights)

    def divide_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Part features (B*T, N, C) and the part attention logits (B*T, N, H, W) (None for fixed patches).

        The attention is ``sigmoid(logits)``; the logits are returned so the part-mask loss can use the
        numerically stable ``binary_cross_entropy_with_logits``.
        """
        if self.part_division == "patches":
            # CIFAR-100 has no body parts: four equal patches, each average-pooled (paper §IV-B).
            pooled = F.adaptive_avg_pool2d(x, (2, 2))  # (B*T, C, 2, 2)
            return pooled.flatten(2).transpose(1, 2), None
        part_logits = self.part_norm(self.part_conv(x))  # (B*T, N, H, W)
        # A plain sum over H*W, not a mean (spec §1b.3, code).
        parts = torch.bmm(torch.sigmoid(part_logits).flatten(2), x.flatten(2).transpose(1, 2))  # (B*T, N, C)
        return parts, part_logits

    def forward(
        self, x: torch.Tensor, num_frames: int = 1
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Return the residual update (broadcastable to ``x``), the part logits and the (B, TN, TN) relation."""
        channels, reduced = self.channels, self.channels // 2
        num_nodes = num_frames * self.num_parts

        global_node = x.reshape(-1, num_frames, channels, x.shape[-2] * x.shape[-1]).mean(
            dim=(1, 3)
        )  # (B, C)
        parts, part_logits = self.divide_parts(x)
        part_nodes = self.embed(parts.reshape(-1, num_nodes, channels))  # (B, TN, C')
        global_embedded = self.embed(global_node)  # (B, C')

        if self.part_affinity == "l2":
            logits = l2_relation_logits(part_nodes)  # (B, TN, TN)
        else:
            # r_ij = w_r . [|p'_i - p'_j| ; u'] + b, split so the (B, TN, TN, 2C') concatenation is never built.
            weight_diff, weight_global = self.relation.weight[0, :reduced], self.relation.weight[0, reduced:]
            pair_diff = (part_nodes[:, :, None, :] - part_nodes[:, None, :, :]).abs()  # (B, TN, TN, C')
            logits = (
                pair_diff @ weight_diff
                + (global_embedded @ weight_global)[:, None, None]
                + self.relation.bias
            )
            logits = self.relation_norm(logits.reshape(-1, 1)).reshape(-1, num_nodes, num_nodes)

        allowed = relation_mask(num_frames, self.num_parts, self.context, device=x.device)
        relation = masked_relation_softmax(logits, allowed)  # (B, TN, TN), at least float32
        context = torch.bmm(relation.to(part_nodes.dtype), part_nodes)  # (B, TN, C')

        updated = self.part_update(torch.cat([part_nodes, context], dim=-1)).reshape(-1, reduced)
        updated = F.relu(self.part_update_norm(updated)).reshape(-1, num_frames, self.num_parts, reduced)

        frame_context = torch.cat(
            [updated.mean(dim=2), global_embedded[:, None, :].expand(-1, num_frames, reduced)], dim=-1
        )  # (B, T, C)
        frame_delta = self.frame_update_norm(self.frame_update(frame_context).reshape(-1, channels))
        return frame_delta[:, :, None, None], part_logits, relation


class IAUBlock(nn.Module):
    """CIAU and/or STIAU on one stage's output, sequential (either order) or in parallel (paper Table X)."""

    def __init__(
        self,
        channels: int,
        options: IAUBlockOptions = DEFAULT_OPTIONS,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.channels = channels
        self.order = options.modules
        self.arrangement = options.arrangement
        self.num_parts = options.num_parts
        if "ciau" in self.order:
            self.ciau = ChannelInteraction(channels, options.channel_affinity, device=device, dtype=dtype)
        if "stiau" in self.order:
            self.stiau = SpatialTemporalInteraction(channels, options, device=device, dtype=dtype)

    def forward(
        self, x: torch.Tensor, num_frames: int = 1, return_relations: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, torch.Tensor]]:
        """Return the updated map (B*T, C, H, W), the part logits (B*T, N, H, W) or None, and the relations.

        The part attention is ``sigmoid`` of the logits. ``return_relations=False`` leaves CIAU's channel
        relation out (CIAU then runs its fused attention path); STIAU's small part relation is always returned.
        """
        if not is_tracing():
            if x.dim() != 4 or x.shape[1] != self.channels:
                raise ValueError(
                    f"IAUBlock expects a (B*T, {self.channels}, H, W) tensor, got shape {tuple(x.shape)}"
                )
            if num_frames < 1 or x.shape[0] % num_frames:
                raise ValueError(
                    f"IAUBlock got {x.shape[0]} frames, not a multiple of num_frames={num_frames}"
                )
        part_logits = None
        relations: dict[str, torch.Tensor] = {}
        block_input = x
        for name in self.order:
            source = block_input if self.arrangement == "parallel" else x
            if name == "ciau":
                delta, relation = self.ciau(source, num_frames, return_relations)
                if relation is not None:
                    relations["channel"] = relation
            else:
                delta, part_logits, relations["part"] = self.stiau(source, num_frames)
            x = x + delta
        return x, part_logits, relations
