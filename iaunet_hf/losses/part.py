"""The part loss (spec §3): BCE between each IAU stage's part attention and the resized part masks."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def part_mask_loss(
    part_logits: Sequence[torch.Tensor],
    part_masks: torch.Tensor | None,
    mask_valid: torch.Tensor | None = None,
) -> torch.Tensor | None:
    """BCE between each stage's part attention and the part masks resized (bilinear) to that stage (spec §3).

    ``part_logits``: the part attention before its sigmoid, per stage (B, N, h, w) or (B, T, N, h, w) (the
    ``part_logits`` of the network's output); ``part_masks``: (B, N, H, W) or (B, T, N, H, W) in [0, 1];
    ``mask_valid``: (B,) bool, False for samples without masks, which contribute nothing. Returns the mean over
    stages of the mean over valid samples, parts and pixels, or None when there is nothing to supervise.

    ``binary_cross_entropy_with_logits`` is numerically stable and autocast-safe, and a non-finite logit gives a
    non-finite loss (for the trainer's guard to handle) instead of an error inside the BCE.
    """
    if part_masks is None or not part_logits:
        return None
    if mask_valid is None:
        mask_valid = torch.ones(part_masks.shape[0], dtype=torch.bool, device=part_masks.device)
    stage_losses = []
    for logits in part_logits:
        if logits.shape[:-2] != part_masks.shape[:-2]:
            raise ValueError(
                f"part_masks of shape {tuple(part_masks.shape)} do not match part attention of shape "
                f"{tuple(logits.shape)}: expected the same leading (B[, T], N) dimensions"
            )
        if not mask_valid.any():
            stage_losses.append(logits.sum() * 0.0)
            continue
        logits = logits[mask_valid].float().flatten(0, -4)  # (B'*T, N, h, w)
        masks = part_masks[mask_valid].float().flatten(0, -4)
        masks = F.interpolate(masks, size=logits.shape[-2:], mode="bilinear", align_corners=False)
        stage_losses.append(F.binary_cross_entropy_with_logits(logits, masks.clamp(0.0, 1.0)))
    return torch.stack(stage_losses).mean()
