"""transformers face of IAUnet's preprocessing: pedestrian-shaped bicubic resize and ImageNet normalisation.

Both transformers backends are provided; they differ slightly (up to ~0.02 per pixel), so pick one and keep it.
"""

from __future__ import annotations

from transformers.image_processing_backends import PilBackend, TorchvisionBackend
from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, PILImageResampling


class _ReIDPreprocessingDefaults:
    """Resize to 256x128 (height x width, bicubic), scale to [0, 1], normalise with ImageNet mean/std."""

    resample = PILImageResampling.BICUBIC
    image_mean = IMAGENET_DEFAULT_MEAN
    image_std = IMAGENET_DEFAULT_STD
    size = {"height": 256, "width": 128}
    do_resize = True
    do_rescale = True
    do_normalize = True


class IAUnetImageProcessor(_ReIDPreprocessingDefaults, TorchvisionBackend):
    """IAUnet's preprocessing on the torchvision backend (the default)."""


class IAUnetImageProcessorPil(_ReIDPreprocessingDefaults, PilBackend):
    """IAUnet's preprocessing on the PIL backend."""
