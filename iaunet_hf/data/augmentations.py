"""The strong baselines' augmentations on uint8 clips (T, 3, H, W): AutoAugment that moves the part masks with its
geometric operations, colour jitter, and random patch. Each draws once per clip, so a clip's frames stay
consistent; ``transforms.build_train_transform`` applies them between the joint geometry and the normalisation.
"""

from __future__ import annotations

import math

import torch
from torchvision.transforms import v2


class JointAutoAugment(v2.AutoAugment):
    """torchvision's AutoAugment (Cubuk et al., CVPR 2019; ImageNet policy) on a clip, replaying its geometric
    operations on the part masks (nearest). torchvision refuses masks in AutoAugment, so this subclass records
    the operations its ``forward`` applies and re-applies the shears, translations and rotations to the masks."""

    GEOMETRIC = ("ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate")

    def forward(self, video: torch.Tensor, masks: torch.Tensor | None = None):  # type: ignore[override]
        self._applied: list[tuple[str, float]] = []
        video = super().forward(video)
        for transform_id, magnitude in self._applied if masks is not None else ():
            if transform_id in self.GEOMETRIC:
                masks = super()._apply_image_or_video_transform(
                    masks,
                    transform_id,
                    magnitude,
                    interpolation=v2.InterpolationMode.NEAREST,
                    fill=self._fill,
                )
        return video, masks

    def _apply_image_or_video_transform(self, image, transform_id, magnitude, interpolation, fill):
        self._applied.append((transform_id, magnitude))
        return super()._apply_image_or_video_transform(image, transform_id, magnitude, interpolation, fill)


class AppearanceAugment:
    """AutoAugment (with probability ``autoaugment_prob``) then colour jitter (``color_jitter_prob``; fast-reid's
    brightness/contrast 0.15, saturation/hue 0.1) on a uint8 clip (T, 3, H, W), one draw for all its frames.
    Draws no random number when both are 0, so the paper's pipeline is unchanged."""

    def __init__(self, autoaugment_prob: float = 0.0, color_jitter_prob: float = 0.0) -> None:
        self.autoaugment_prob, self.color_jitter_prob = autoaugment_prob, color_jitter_prob
        self.autoaugment = JointAutoAugment(v2.AutoAugmentPolicy.IMAGENET)
        self.color_jitter = v2.ColorJitter(brightness=0.15, contrast=0.15, saturation=0.1, hue=0.1)

    def __call__(
        self, pixels: torch.Tensor, masks: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.autoaugment_prob > 0 and torch.rand(()) < self.autoaugment_prob:
            pixels, masks = self.autoaugment(pixels, masks)
        if self.color_jitter_prob > 0 and torch.rand(()) < self.color_jitter_prob:
            pixels = self.color_jitter(pixels)
        return pixels, masks


def paste_random_patches(
    pixel_values: list[torch.Tensor], prob: float, area: tuple[float, float] = (0.01, 0.5)
) -> list[torch.Tensor]:
    """Random patch (Zhou et al., "Omni-Scale Feature Learning for Person Re-Identification", ICCV 2019): with
    probability ``prob``, a patch of another item of the batch is pasted at a random place of an item (of every
    frame of a clip alike). Zhou et al. draw patches from a pool of recently seen images; here the pool is the
    batch, so the augmentation keeps no state between batches and a resumed run replays it exactly."""
    if len(pixel_values) < 2 or prob <= 0:
        return pixel_values
    result = list(pixel_values)
    height, width = pixel_values[0].shape[-2:]
    for index in range(len(result)):
        if not torch.rand(()) < prob:
            continue
        source = int(torch.randint(len(result) - 1, ()))
        source += source >= index  # another item
        fraction = area[0] + float(torch.rand(())) * (area[1] - area[0])
        aspect = math.exp(float(torch.empty(()).uniform_(math.log(0.3), math.log(3.3))))
        h = max(1, min(height, round(math.sqrt(fraction * height * width * aspect))))
        w = max(1, min(width, round(math.sqrt(fraction * height * width / aspect))))
        top, left = int(torch.randint(height - h + 1, ())), int(torch.randint(width - w + 1, ()))
        from_top, from_left = int(torch.randint(height - h + 1, ())), int(torch.randint(width - w + 1, ()))
        patched = result[index].clone()
        patch = pixel_values[source][..., from_top : from_top + h, from_left : from_left + w]
        patched[..., top : top + h, left : left + w] = patch
        result[index] = patched
    return result
