"""Preprocessing: the image processor of a model folder, of a model without a folder, or of an export's sidecar.

A deployment must feed the embedding exactly what training fed it (size, interpolation, mean/std); every
consumer (export checks, sidecars, the tracker encoder) builds its processor here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn
from transformers import AutoConfig, AutoImageProcessor
from transformers.image_utils import PILImageResampling

from ..image_processing_iaunet import IAUnetImageProcessor
from .embedding import model_input_config
from .model_folder import PREPROCESSOR_FILE

if TYPE_CHECKING:
    from ..configuration_iaunet import IAUnetConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InputSpec:
    """What an exported graph expects: the checkpoint's preprocessing and input layout (the sidecar's core)."""

    image_size: tuple[int, int]  # (height, width)
    num_frames: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str  # PIL resampling name of the checkpoint's image processor, e.g. "bicubic"

    @classmethod
    def from_model(cls, model_dir: str | Path, config: IAUnetConfig | None = None) -> InputSpec:
        """Read `preprocessor_config.json` (AutoImageProcessor) or, without one, the package's defaults."""
        processor = load_image_processor(model_dir, config)
        if config is None:
            config = AutoConfig.from_pretrained(model_dir)
        return cls(
            image_size=(int(processor.size.height), int(processor.size.width)),
            num_frames=int(getattr(config, "num_frames", 1)),
            mean=tuple(float(v) for v in processor.image_mean),
            std=tuple(float(v) for v in processor.image_std),
            interpolation=PILImageResampling(processor.resample).name.lower(),
        )


def load_image_processor(model_dir: str | Path, config: IAUnetConfig | None = None) -> Any:
    """The checkpoint's image processor; one at the config's image size when the folder saved none."""
    folder = Path(model_dir)
    if not folder.is_dir() or (folder / PREPROCESSOR_FILE).is_file():
        return AutoImageProcessor.from_pretrained(model_dir)  # a Hub id, or a folder that saved one
    config = config or AutoConfig.from_pretrained(folder)
    height, width = config.image_size
    logger.info(
        "%s has no %s; using the package's defaults at %dx%d", folder, PREPROCESSOR_FILE, height, width
    )
    return IAUnetImageProcessor(size={"height": int(height), "width": int(width)})


def processor_of_model(model: nn.Module) -> Any:
    """The package's image processor at the model's own input size and mean/std (a model without a folder)."""
    config = model_input_config(model)
    height, width = config["image_size"]
    return IAUnetImageProcessor(
        size={"height": int(height), "width": int(width)},
        image_mean=list(config["mean"]),
        image_std=list(config["std"]),
    )


def processor_of_spec(spec: InputSpec) -> Any:
    """The image processor an export's sidecar describes."""
    height, width = spec.image_size
    return IAUnetImageProcessor(
        size={"height": height, "width": width},
        image_mean=list(spec.mean),
        image_std=list(spec.std),
        resample=PILImageResampling[spec.interpolation.upper()],
    )
