"""The one "embed a batch" function, and what input a model expects.

Extraction, the Hub checks, export and the tracker all embed through ``embed``, so every consumer gets the
post-BN-neck embedding of the network's one forward pass, whatever face (timm, transformers) or classifier.
"""

from __future__ import annotations

from typing import Any

import timm.data
import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from torch import nn
from transformers import PreTrainedModel

from ..model import IAUnet


def embed(model: nn.Module, pixel_values: torch.Tensor) -> torch.Tensor:
    """Retrieval embedding (B, D) of a batch, for any face of the model: the one function that embeds a batch.

    Extraction, the Hub checks, export and visualisation all call it, so every consumer gets the post-BN-neck
    embedding of the network's one forward pass (``IAUnet.forward_reid``), whatever classifier a model carries.
    Other timm models give their pre-logits features.
    """
    if isinstance(model, PreTrainedModel):
        # the base model (IAUnetModel inside IAUnetForReID) gives the embedding as pooler_output
        return model.base_model(pixel_values=pixel_values).pooler_output
    if isinstance(model, IAUnet):
        return model.forward_reid(pixel_values).embedding
    if hasattr(model, "forward_features") and hasattr(model, "forward_head"):
        return model.forward_head(model.forward_features(pixel_values), pre_logits=True)
    return model(pixel_values)


def model_input_config(model: nn.Module) -> dict[str, Any]:
    """Input height/width and normalisation of a model: transformers config or timm pretrained cfg."""
    config = getattr(model, "config", None)
    if isinstance(model, PreTrainedModel) and getattr(config, "image_size", None) is not None:
        height, width = config.image_size
        return {
            "image_size": (int(height), int(width)),
            "mean": IMAGENET_DEFAULT_MEAN,
            "std": IMAGENET_DEFAULT_STD,
        }
    data_config = timm.data.resolve_model_data_config(model)
    _, height, width = data_config["input_size"]
    return {"image_size": (height, width), "mean": data_config["mean"], "std": data_config["std"]}


class EmbeddingModel(nn.Module):
    """A timm IAUnet whose forward is always the retrieval embedding (classifier or not)."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return embed(self.network, pixel_values)
