"""The training model's start: ImageNet backbone weights (a local file or the Hub, through timm's own loader) and
what to do when the Hub cannot give them; and whether the network has the part attention the part loss trains."""

from __future__ import annotations

from pathlib import Path

import torch
from timm.models import get_pretrained_cfg

from ..timm_models import load_pretrained_backbone
from .config import ModelConfig


def has_part_attention(model: torch.nn.Module) -> bool:
    """Whether the network predicts learned part attention (an STIAU block with ``part_division="attention"``),
    which the part loss trains; read from the model's ``IAUnetConfig`` rather than from its modules."""
    config = getattr(model, "config", None)
    if getattr(config, "model_type", None) != "iaunet":
        return True  # not an IAUnet: let the model decide
    return config.options.has_part_attention


def hub_weights_unavailable(architecture: str, error: BaseException) -> str:
    """What to do when the ImageNet weights of ``architecture`` cannot come from the Hub."""
    cfg = get_pretrained_cfg(architecture)
    hub_id = getattr(cfg, "hf_hub_id", None) or "(no Hub repository)"
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return (
        f"model.pretrained is true, so {architecture} starts from the ImageNet weights of the Hub repository "
        f"{hub_id}, which could not be loaded ({type(error).__name__}: {first_line}). Either pass "
        "--model.pretrained_file PATH (local ImageNet weights of the backbone, .safetensors or .pth), or start from random "
        f"weights with --model.pretrained false, or put a copy of {hub_id} in the Hugging Face cache while online "
        f"(hf download {hub_id}; HF_HUB_OFFLINE=1 then uses the cached copy)"
    )


def load_imagenet_backbone(network: torch.nn.Module, model_cfg: ModelConfig) -> None:
    """ImageNet weights of the recipe's architecture from ``model.pretrained_file`` or the Hub; weights the Hub
    cannot give (offline, no network, no cached copy) are a ``ValueError`` naming the Hub repository and the
    options that train without it."""
    overlay = None
    if model_cfg.pretrained_file is not None:
        if not Path(model_cfg.pretrained_file).is_file():
            raise FileNotFoundError(
                f"model.pretrained_file {model_cfg.pretrained_file} does not exist; expected ImageNet ResNet "
                "weights (.safetensors or .pth) there, or start from random weights with "
                "--model.pretrained_file null --model.pretrained false"
            )
        overlay = dict(file=str(model_cfg.pretrained_file))
    try:
        load_pretrained_backbone(network, model_cfg.architecture, overlay)
    except OSError as error:  # huggingface_hub's errors (offline, not cached, HTTP) are OSErrors
        if overlay is not None or not model_cfg.pretrained:
            raise
        options = network.options
        weights_of = options.backbone if options.use_timm_backbone else model_cfg.architecture
        raise ValueError(hub_weights_unavailable(weights_of, error)) from error
