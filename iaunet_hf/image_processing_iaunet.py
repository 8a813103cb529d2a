"""transformers face of IAUnet's preprocessing: pedestrian-shaped bicubic resize and ImageNet normalisation.

Both transformers backends are provided. Pillow and torchvision run bicubic's two passes in a different order with
different rounding, so they differ slightly: about 1.5 uint8 levels on average on random noise (less on photographs),
up to ~20 at single pixels. The PIL backend matches the training pipeline's resize; pick one and keep it.
"""

from __future__ import annotations

from typing import Any

from transformers.image_processing_backends import PilBackend, TorchvisionBackend
from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, PILImageResampling

_TIMM_INTERPOLATIONS = {
    "bicubic": PILImageResampling.BICUBIC,
    "bilinear": PILImageResampling.BILINEAR,
    "nearest": PILImageResampling.NEAREST,
}


def settings_from_timm_cfg(pretrained_cfg: dict[str, Any]) -> dict[str, Any]:
    """The image processor settings a timm ``pretrained_cfg`` describes (input size, mean/std, interpolation)."""
    _, height, width = pretrained_cfg["input_size"]
    return {
        "size": {"height": int(height), "width": int(width)},
        "image_mean": list(pretrained_cfg.get("mean", IMAGENET_DEFAULT_MEAN)),
        "image_std": list(pretrained_cfg.get("std", IMAGENET_DEFAULT_STD)),
        "resample": _TIMM_INTERPOLATIONS[pretrained_cfg.get("interpolation", "bicubic")],
    }


class _ReIDPreprocessingDefaults:
    """Resize to 256x128 (height x width, bicubic), scale to [0, 1], normalise with ImageNet mean/std."""

    resample = PILImageResampling.BICUBIC
    image_mean = IMAGENET_DEFAULT_MEAN
    image_std = IMAGENET_DEFAULT_STD
    size = {"height": 256, "width": 128}
    do_resize = True
    do_rescale = True
    do_normalize = True

    @classmethod
    def from_dict(cls, image_processor_dict: dict[str, Any], **kwargs: Any):
        """Read a preprocessor_config.json, or a model folder's config.json with timm's ``pretrained_cfg``.

        From transformers 5.25, ``AutoImageProcessor.from_pretrained(folder)`` treats a folder whose config.json
        carries ``pretrained_cfg`` (ours does, for timm's ``local-dir:`` loader) as a timm checkpoint and builds the
        processor from config.json instead of preprocessor_config.json. Both are written from the same config, so
        the timm cfg's input size, mean, std and interpolation are this model's own preprocessing.
        """
        if "pretrained_cfg" in image_processor_dict and "size" not in image_processor_dict:
            image_processor_dict = settings_from_timm_cfg(image_processor_dict["pretrained_cfg"])
        return super().from_dict(image_processor_dict, **kwargs)


class IAUnetImageProcessor(_ReIDPreprocessingDefaults, TorchvisionBackend):
    """IAUnet's preprocessing on the torchvision backend (the default)."""


class IAUnetImageProcessorPil(_ReIDPreprocessingDefaults, PilBackend):
    """IAUnet's preprocessing on the PIL backend."""
