"""How a backbone is run: which named modules form the stem and each of the four reID stages.

IAU (and comparison) blocks go after a stage, whatever the backbone; module names stay the ImageNet model's own,
so its weights load unchanged, and timm's ``feature_info`` points at the last module of each stage.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class BackboneLayout:
    """Stem and stage module names in forward order, their output channels and per-stage strides."""

    stem: tuple[str, ...]
    stages: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]
    stem_channels: int
    stage_channels: tuple[int, int, int, int]
    stage_strides: tuple[int, int, int, int]
    stem_reduction: int = 2  # the stem's own stride (4 where it ends in a max-pool or a patchify stem)

    def with_last_stride(self, last_stride: int) -> BackboneLayout:
        return dataclasses.replace(self, stage_strides=(*self.stage_strides[:3], last_stride))

    def feature_info(self) -> list[dict]:
        """timm ``feature_info``: the stem tap, then each stage's output (taken after the IAU block that follows it)."""
        info = [dict(num_chs=self.stem_channels, reduction=self.stem_reduction, module=self.stem[-1])]
        reduction = self.stem_reduction
        for names, channels, stride in zip(self.stages, self.stage_channels, self.stage_strides, strict=True):
            reduction *= stride
            info.append(dict(num_chs=channels, reduction=reduction, module=names[-1]))
        return info
