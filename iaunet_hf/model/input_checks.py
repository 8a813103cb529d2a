"""The network's input contract, checked eagerly (never under tracing) with messages that say what was expected."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .attention_ops import is_tracing


def check_pixel_values(x: torch.Tensor, in_chans: int) -> None:
    """Raise a ValueError saying what was expected when ``x`` is not an input the network can take."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"IAUnet expects a torch.Tensor of pixel values, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(
            f"IAUnet expects float pixel values, got a {x.dtype} tensor; convert it to float and normalise it "
            "(x.float() / 255, then ImageNet mean/std), or prepare images with IAUnetImageProcessor "
            "(or timm.data.create_transform(**timm.data.resolve_model_data_config(model)))"
        )
    if x.dim() not in (4, 5):
        raise ValueError(
            f"IAUnet expects (B, {in_chans}, H, W) images or (B, T, {in_chans}, H, W) clips, "
            f"got a tensor of shape {tuple(x.shape)}"
        )
    channels, height, width = x.shape[-3:]
    if channels != in_chans:
        raise ValueError(f"IAUnet expects {in_chans} input channels, got {channels} (shape {tuple(x.shape)})")
    if height % 16 or width % 16:
        raise ValueError(f"IAUnet needs H and W divisible by 16, got {height}x{width}")
    if x.dim() == 5 and x.shape[1] == 0:
        raise ValueError(f"IAUnet got a clip of 0 frames (shape {tuple(x.shape)}); expected T >= 1 frames")


def flatten_clips(x: torch.Tensor, check: Callable[[torch.Tensor], None]) -> tuple[torch.Tensor, int]:
    """Check ``x`` (eagerly, never under tracing), then (B[, T], C, H, W) -> (B*T, C, H, W) and T.

    Written without Python control flow on shapes so that torch.fx can trace it.
    """
    if not is_tracing():
        check(x)
    return x.flatten(0, -4), x.shape[1:-3].numel()
