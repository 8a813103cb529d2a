"""Collation of transformed items into model batches: (B, 3, H, W) images or (B, T, 3, H, W) clips.

``torch``'s default collate would also stack tensors, but it turns string columns into tuples and
gives no hint when test tracklets of different lengths meet in one batch; this one keeps strings
as lists and says what to do instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .clip_sampling import test_clip_indices


def collate_reid(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack tensors (``pixel_values`` to (B, 3, H, W) or (B, T, 3, H, W)), tensorise numbers, list the rest."""
    if not items:
        raise ValueError("collate_reid: got an empty batch; expected at least one item")
    batch: dict[str, Any] = {}
    for key in items[0]:
        values = [item[key] for item in items]
        if isinstance(values[0], torch.Tensor):
            shapes = {tuple(value.shape) for value in values}
            if len(shapes) > 1:
                raise ValueError(
                    f"collate_reid: column {key!r} has items of shapes {sorted(shapes)}; expected one shape "
                    "(for whole test tracklets use batch_size=1 and tracklet_to_clips)"
                )
            if key == "part_masks" and "mask_valid" in items[0]:
                batch[key] = _stack_masks(values, [item["mask_valid"] for item in items])
            else:
                batch[key] = torch.stack(values)
        elif isinstance(values[0], (bool, int, float)):
            batch[key] = torch.tensor(values)
        else:
            batch[key] = values
    return batch


def _stack_masks(masks: list[torch.Tensor], valid: list[torch.Tensor]) -> torch.Tensor:
    """Stack part masks, copying only items that have them.

    A batch without any masks gets a read-only expanded zero view: allocating and zeroing
    (B, 4, H, W) floats for nothing was the largest cost of a mask-less batch.
    """
    has_masks = [bool(torch.as_tensor(is_valid).any()) for is_valid in valid]
    shape, dtype = (len(masks), *masks[0].shape), masks[0].dtype
    if not any(has_masks):
        return torch.zeros((), dtype=dtype).expand(shape)
    batch = torch.zeros(shape, dtype=dtype)
    for index, (mask, is_valid) in enumerate(zip(masks, has_masks)):
        if is_valid:
            batch[index] = mask
    return batch


def tracklet_to_clips(frames: torch.Tensor, clip_length: int = 4) -> torch.Tensor:
    """(num_frames, 3, H, W) -> (num_clips, clip_length, 3, H, W), consecutive clips, last padded by cycling."""
    indices = torch.tensor(test_clip_indices(frames.shape[0], clip_length))  # (num_clips, clip_length)
    return frames[indices]
