"""Relation strategies: how a block turns feature rows or part nodes into a relation map (paper Table IX).

The paper compares IAU's default relations with an L2-distance alternative and gives no more detail than the
name, so the L2 forms here are the plain reading: a relation logit is minus the squared Euclidean distance.
CIAU's channel relation is ``"dot"`` (softmax of the raw Gram matrix, spec §1a) or ``"l2"`` (softmax of
−‖x_c − x_c'‖² between channel rows); STIAU's part relation is ``"subnet"`` (the learned relation sub-network,
spec §1b.5) or ``"l2"`` (r_ij = −‖p'_i − p'_j‖², under the same mask and softmax).
"""

from __future__ import annotations

import torch

CHANNEL_RELATIONS = ("dot", "l2")
PART_RELATIONS = ("subnet", "l2")


def at_least_float32(dtype: torch.dtype) -> torch.dtype:
    """float32 for half/bfloat16 inputs, the input's own dtype when it is already float32 or float64."""
    return torch.promote_types(dtype, torch.float32)


def check_relation_options(channel_relation: str = "dot", part_relation: str = "subnet") -> None:
    """Raise a ValueError naming the option when a relation strategy is not one of the paper's."""
    if channel_relation not in CHANNEL_RELATIONS:
        raise ValueError(f"channel_relation must be one of {CHANNEL_RELATIONS}, got {channel_relation!r}")
    if part_relation not in PART_RELATIONS:
        raise ValueError(f"part_relation must be one of {PART_RELATIONS}, got {part_relation!r}")


def channel_relation(rows: torch.Tensor, strategy: str = "dot") -> torch.Tensor:
    """Row-softmax relation (B, R, R) between the rows of ``rows`` (B, R, D), in at least float32.

    ``"dot"``: softmax_j(r_i · r_j). ``"l2"``: softmax_j(−‖r_i − r_j‖²), computed as softmax_j(2 r_i · r_j −
    ‖r_j‖²): the dropped −‖r_i‖² is constant along the softmax row, so the relation is the same and the logits
    stay an order of magnitude smaller. Callers run this outside autocast: Gram entries overflow fp16/bf16.
    """
    rows = rows.to(at_least_float32(rows.dtype))
    gram = torch.bmm(rows, rows.transpose(1, 2))  # (B, R, R)
    if strategy == "dot":
        return gram.softmax(dim=-1)
    if strategy == "l2":
        squared_norms = rows.pow(2).sum(dim=-1)  # (B, R)
        return (2.0 * gram - squared_norms[:, None, :]).softmax(dim=-1)
    raise ValueError(f"channel relation strategy must be one of {CHANNEL_RELATIONS}, got {strategy!r}")


def l2_relation_logits(nodes: torch.Tensor) -> torch.Tensor:
    """STIAU-L2 logits (B, M, M): r_ij = −‖p'_i − p'_j‖² between the node vectors (B, M, D), at least float32."""
    nodes = nodes.to(at_least_float32(nodes.dtype))
    return -(nodes[:, :, None, :] - nodes[:, None, :, :]).pow(2).sum(dim=-1)
