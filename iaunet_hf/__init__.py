"""iaunet-hf: IAUnet person re-identification (Hou et al., IEEE TNNLS 2020) for timm and Hugging Face.

Importing the package registers the timm models (``iaunet_resnet18/34/50``, ``iaunet_resnet50_video``) and the
transformers classes with ``AutoConfig``, ``AutoModel``, ``AutoModelForImageClassification`` and
``AutoImageProcessor``. The data, inference, evaluation, export, tracking, training and hub layers are
imported on demand (``iaunet_hf.data``, ``iaunet_hf.inference``, ``iaunet_hf.export``, ...).
"""

from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoModelForImageClassification

from . import timm_models
from .configuration_iaunet import IAUnetConfig
from .image_processing_iaunet import IAUnetImageProcessor, IAUnetImageProcessorPil
from .losses import (
    ReIDLoss,
    ReIDLossConfig,
    batch_hard_triplet_loss,
    label_smoothing_cross_entropy,
    part_mask_loss,
)
from .model import (
    ChannelInteraction,
    IAUBlock,
    IAUBlockOptions,
    IAUnet,
    IAUnetOptions,
    IAUnetOutput,
    SpatialTemporalInteraction,
)
from .modeling_iaunet import IAUnetForReID, IAUnetModel, IAUnetPreTrainedModel, config_from_network
from .version import __version__ as __version__

AutoConfig.register(IAUnetConfig.model_type, IAUnetConfig, exist_ok=True)
AutoModel.register(IAUnetConfig, IAUnetModel, exist_ok=True)
AutoModelForImageClassification.register(IAUnetConfig, IAUnetForReID, exist_ok=True)
AutoImageProcessor.register(
    IAUnetConfig,
    image_processor_classes={"torchvision": IAUnetImageProcessor, "pil": IAUnetImageProcessorPil},
    exist_ok=True,
)

__all__ = [
    "ChannelInteraction",
    "IAUBlock",
    "IAUBlockOptions",
    "IAUnet",
    "IAUnetConfig",
    "IAUnetForReID",
    "IAUnetImageProcessor",
    "IAUnetImageProcessorPil",
    "IAUnetModel",
    "IAUnetOptions",
    "IAUnetOutput",
    "IAUnetPreTrainedModel",
    "ReIDLoss",
    "ReIDLossConfig",
    "SpatialTemporalInteraction",
    "batch_hard_triplet_loss",
    "config_from_network",
    "label_smoothing_cross_entropy",
    "part_mask_loss",
    "timm_models",
]
