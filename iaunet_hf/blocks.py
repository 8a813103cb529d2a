"""The IAU block of IAUnet (CIAU then STIAU, each residual), in plain torch.

This is the only definition of the block: the timm and transformers classes wrap the network that uses it.
Every tensor that crosses a clip boundary is laid out as (B*T, C, H, W) with the T frames of a clip
contiguous, so images are simply clips of one frame.
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

IAU_MODULE_NAMES = ("ciau", "stiau")
IAU_ARRANGEMENTS = ("sequential", "parallel")
RELATION_KINDS = ("both", "spatial", "temporal")
PART_DIVISIONS = ("attention", "patches")
# Relation strategies (paper Table IX): CIAU's Gram "dot" or "l2", STIAU's relation "subnet" or "l2".
CHANNEL_RELATIONS = ("dot", "l2")
PART_RELATIONS = ("subnet", "l2")

# Masked relation logits are filled with this before the row softmax (the authors' choice, spec §1b.6).
_MASKED_LOGIT = -1e8


def check_iau_options(
    modules: tuple[str, ...] | list[str] = IAU_MODULE_NAMES,
    arrangement: str = "sequential",
    relations: str = "both",
    num_parts: int = 4,
    part_division: str = "attention",
    channel_relation: str = "dot",
    part_relation: str = "subnet",
) -> None:
    """Raise a ValueError naming the option when an IAU block setting is not one the paper defines."""
    modules = tuple(modules)
    unknown = [name for name in modules if name not in IAU_MODULE_NAMES]
    if not modules or unknown or len(set(modules)) != len(modules):
        raise ValueError(
            f"iau_modules must be a non-empty ordered subset of {IAU_MODULE_NAMES} without repeats, got {modules!r}"
        )
    if arrangement not in IAU_ARRANGEMENTS:
        raise ValueError(f"iau_arrangement must be one of {IAU_ARRANGEMENTS}, got {arrangement!r}")
    if relations not in RELATION_KINDS:
        raise ValueError(f"relations must be one of {RELATION_KINDS}, got {relations!r}")
    if part_division not in PART_DIVISIONS:
        raise ValueError(f"part_division must be one of {PART_DIVISIONS}, got {part_division!r}")
    if channel_relation not in CHANNEL_RELATIONS:
        raise ValueError(f"channel_relation must be one of {CHANNEL_RELATIONS}, got {channel_relation!r}")
    if part_relation not in PART_RELATIONS:
        raise ValueError(f"part_relation must be one of {PART_RELATIONS}, got {part_relation!r}")
    if num_parts < 1:
        raise ValueError(f"num_parts must be >= 1, got {num_parts}")
    if part_division == "patches" and num_parts != 4:
        raise ValueError(
            f"part_division='patches' splits the map into a 2x2 grid, so num_parts must be 4, got {num_parts}"
        )


def mark_zero_init(norm: nn.Module) -> nn.Module:
    """Flag a residual-branch norm whose gamma and beta start at zero, so the block starts as the identity."""
    norm.zero_init_residual = True
    return norm


def _default_bias_init(bias: torch.Tensor, weight: torch.Tensor, init) -> None:
    """PyTorch's own Conv/Linear bias init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (spec §1c: "default bias init")."""
    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(weight)
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    init.uniform_(bias, -bound, bound)


def init_module_weights(module: nn.Module, init=nn.init) -> None:
    """Initialise one module as the spec says (§1c); ``init`` is torch.nn.init or transformers.initialization.

    transformers re-initialises every module through ``_init_weights`` and needs its own init functions (they
    skip tensors already loaded), so the rule is written once here and parameterised by the init namespace.
    Conv/linear biases keep PyTorch's default uniform init; the identity classifier's bias starts at zero
    (the authors' classifier init, weight N(0, 0.001)).
    """
    if isinstance(module, nn.Conv2d):
        init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        if module.bias is not None:
            _default_bias_init(module.bias, module.weight, init)
    elif isinstance(module, nn.Linear):
        if getattr(module, "is_classifier", False):
            init.normal_(module.weight, std=0.001)
            if module.bias is not None:
                init.zeros_(module.bias)
        else:
            init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                _default_bias_init(module.bias, module.weight, init)
    elif isinstance(module, nn.modules.batchnorm._BatchNorm):
        if getattr(module, "zero_init_residual", False):
            init.zeros_(module.weight)
        else:
            init.ones_(module.weight)
        init.zeros_(module.bias)
        init.zeros_(module.running_mean)
        init.ones_(module.running_var)
        if module.num_batches_tracked is not None:
            init.zeros_(module.num_batches_tracked)


def is_tracing() -> bool:
    """True while torch.jit or torch.fx traces the model: shapes are symbolic, so Python checks on them are skipped."""
    return torch.jit.is_tracing() or torch.fx._symbolic_trace.is_fx_symbolic_tracing()


def autocast_off(device: torch.device) -> contextlib.AbstractContextManager:
    """Autocast switched off on ``device``; a no-op where autocast does not exist (the meta device timm builds on)."""
    if torch.amp.is_autocast_available(device.type):
        return torch.autocast(device_type=device.type, enabled=False)
    return contextlib.nullcontext()


def at_least_float32(dtype: torch.dtype) -> torch.dtype:
    """float32 for half types and float32, float64 for float64: the precision the attention softmaxes need."""
    return torch.promote_types(dtype, torch.float32)


@torch.fx.wrap  # a leaf for torch.fx: it builds a tensor from the (symbolic under tracing) clip length
def relation_mask(num_frames: int, num_parts: int, relations: str = "both", device=None) -> torch.Tensor:
    """Boolean (T*N, T*N) mask of the node pairs STIAU may relate (spec §1b.6).

    Node i is part ``i % N`` of frame ``i // N``. Spatial pairs share the frame and differ in part; temporal pairs
    share the part and differ in frame. A clip shorter than configured simply gets the mask of its own length,
    which is the top-left block of the longer one.
    """
    node = torch.arange(num_frames * num_parts, device=device)
    frame, part = node // num_parts, node % num_parts
    same_frame = frame[:, None] == frame[None, :]
    same_part = part[:, None] == part[None, :]
    spatial = same_frame & ~same_part
    temporal = ~same_frame & same_part
    if relations == "spatial":
        return spatial
    if relations == "temporal":
        return temporal
    return spatial | temporal


@torch.fx.wrap  # a leaf for torch.fx: autocast and dtype promotion need concrete tensors
def channel_aggregation(rows: torch.Tensor, strategy: str = "dot") -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(rows rows^T) rows for (B, TC, HW) rows, in at least float32; returns (aggregated, relation).

    The raw Gram entries are far outside fp16/bf16 range, so under autocast they are computed in float32, and a
    float64 model stays float64. ``aggregated`` comes back in the dtype of ``rows``. ``strategy="l2"`` (CIAU-L2,
    Table IX) relates rows by softmax_j(-||r_i - r_j||^2), computed as softmax_j(2 r_i.r_j - ||r_j||^2): the
    dropped -||r_i||^2 is constant along a softmax row, so the relation is the same with smaller logits.
    """
    with autocast_off(rows.device):
        wide = rows.to(at_least_float32(rows.dtype))
        gram = torch.bmm(wide, wide.transpose(1, 2))  # (B, TC, TC)
        if strategy == "l2":
            gram = 2.0 * gram - wide.pow(2).sum(dim=-1)[:, None, :]
        relation = gram.softmax(dim=-1)
        aggregated = torch.bmm(relation, wide)  # (B, TC, HW)
    return aggregated.to(rows.dtype), relation


@torch.fx.wrap  # a leaf for torch.fx, for the same reason as channel_aggregation
def fused_channel_aggregation(rows: torch.Tensor) -> torch.Tensor:
    """``channel_aggregation(rows, "dot")[0]`` as one fused attention kernel: the relation is never built.

    The Gram logits and their softmax must be float32 (spec §1a). bf16 rows on the CPU go to the kernel as they
    are: torch's CPU flash-attention kernel accumulates the Gram and runs the softmax in float32 for bf16 inputs
    (tested against a float32 reference in ``test_model_blocks``), and upcasting rows that are already bf16 adds
    no precision, only time. Everything else (fp16, other devices, whose fallback kernels may keep the scores in
    the input type) is upcast to at least float32 first.
    """
    with autocast_off(rows.device):
        keep_bf16 = rows.dtype == torch.bfloat16 and rows.device.type == "cpu"
        wide = rows if keep_bf16 else rows.to(at_least_float32(rows.dtype))
        wide = wide[:, None]  # one head: the ONNX exporter needs 4D
        fused = F.scaled_dot_product_attention(wide, wide, wide, scale=1.0)
    return fused[:, 0].to(rows.dtype)


@torch.fx.wrap  # a leaf for torch.fx, for the same reason as channel_aggregation
def masked_relation_softmax(logits: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """Row softmax of (B, TN, TN) logits over the allowed pairs, in at least float32; rows with none give 0."""
    with autocast_off(logits.device):
        wide = logits.to(at_least_float32(logits.dtype)).masked_fill(~allowed, _MASKED_LOGIT)
        # A node with no allowed partner (temporal-only relations on one frame) receives no context.
        return wide.softmax(dim=-1) * allowed.any(dim=-1, keepdim=True)


def l2_relation_logits(nodes: torch.Tensor) -> torch.Tensor:
    """STIAU-L2 logits (B, M, M) (Table IX): r_ij = -||p'_i - p'_j||^2 between node vectors (B, M, D).

    Computed in at least float32 (squared distances of summed part features lose too much in bf16)."""
    wide = nodes.to(at_least_float32(nodes.dtype))
    return -(wide[:, :, None, :] - wide[:, None, :, :]).pow(2).sum(dim=-1)


class ChannelInteraction(nn.Module):
    """CIAU: channels (one row per channel per frame) attend to each other through their Gram matrix (spec §1a)."""

    def __init__(self, channels: int, channel_relation: str = "dot", device=None, dtype=None) -> None:
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        self.channels = channels
        self.channel_relation = channel_relation
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
        if return_relation or self.channel_relation != "dot":
            aggregated, relation = channel_aggregation(rows, self.channel_relation)
        else:
            aggregated, relation = fused_channel_aggregation(rows), None
        aggregated = aggregated.reshape(-1, self.channels, height, width)
        return self.norm(self.update(aggregated)), relation


class SpatialTemporalInteraction(nn.Module):
    """STIAU (SIAU for T=1): part nodes of all frames exchange context under the spatial/temporal mask (spec §1b)."""

    def __init__(
        self,
        channels: int,
        num_parts: int = 4,
        relations: str = "both",
        part_division: str = "attention",
        part_relation: str = "subnet",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        check_iau_options(
            ("stiau",), "sequential", relations, num_parts, part_division, part_relation=part_relation
        )
        if channels % 2:
            raise ValueError(f"STIAU halves the channels, so channels must be even, got {channels}")
        dd = dict(device=device, dtype=dtype)
        reduced = channels // 2
        self.channels = channels
        self.num_parts = num_parts
        self.relations = relations
        self.part_division = part_division
        self.part_relation = part_relation
        if part_division == "attention":
            self.part_conv = nn.Conv2d(channels, num_parts, kernel_size=1, bias=True, **dd)
            self.part_norm = nn.BatchNorm2d(num_parts, **dd)
        self.embed = nn.Linear(channels, reduced, **dd)  # g, shared by part nodes and the global node
        if part_relation == "subnet":  # STIAU-L2 has no relation sub-network
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

        if self.part_relation == "l2":
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

        allowed = relation_mask(num_frames, self.num_parts, self.relations, device=x.device)
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
        modules: tuple[str, ...] | list[str] = IAU_MODULE_NAMES,
        arrangement: str = "sequential",
        relations: str = "both",
        num_parts: int = 4,
        part_division: str = "attention",
        channel_relation: str = "dot",
        part_relation: str = "subnet",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        modules = tuple(modules)
        check_iau_options(
            modules, arrangement, relations, num_parts, part_division, channel_relation, part_relation
        )
        self.channels = channels
        self.order = modules
        self.arrangement = arrangement
        self.num_parts = num_parts
        if "ciau" in modules:
            self.ciau = ChannelInteraction(channels, channel_relation, device=device, dtype=dtype)
        if "stiau" in modules:
            self.stiau = SpatialTemporalInteraction(
                channels, num_parts, relations, part_division, part_relation, device=device, dtype=dtype
            )

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
