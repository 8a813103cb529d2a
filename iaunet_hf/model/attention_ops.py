"""The tensor operations of the IAU and comparison blocks: relation masks, attention in at least float32.

Kept apart from the modules so both block families share them; the ``torch.fx.wrap`` leaves are registered again
by name in each module that calls them (torch.fx patches the calling module's own global name).
"""

from __future__ import annotations

import contextlib

import torch
import torch.fx
import torch.nn.functional as F

# Masked relation logits are filled with this before the row softmax (the authors' choice, spec §1b.6).
_MASKED_LOGIT = -1e8


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
def relation_mask(num_frames: int, num_parts: int, context: str = "both", device=None) -> torch.Tensor:
    """Boolean (T*N, T*N) mask of the node pairs STIAU may relate (spec §1b.6).

    Node i is part ``i % N`` of frame ``i // N``. Spatial pairs share the frame and differ in part; temporal pairs
    share the part and differ in frame. A clip shorter than configured simply gets the mask of its own length,
    which is the top-left block of the longer one. ``context`` is ``IAUBlockOptions.stiau_context``.
    """
    node = torch.arange(num_frames * num_parts, device=device)
    frame, part = node // num_parts, node % num_parts
    same_frame = frame[:, None] == frame[None, :]
    same_part = part[:, None] == part[None, :]
    spatial = same_frame & ~same_part
    temporal = ~same_frame & same_part
    if context == "spatial":
        return spatial
    if context == "temporal":
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
