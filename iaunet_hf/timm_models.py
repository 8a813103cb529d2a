"""timm face of IAUnet: default pretrained cfgs, one builder, and a ``@register_model`` function per variant.

``pretrained=True`` starts the backbone from torchvision's ImageNet ResNet weights as published by timm (the
paper's starting point); the IAU blocks, BN neck and classifier keep their spec initialisation. The same filter
also reads checkpoints written by the transformers classes, so one ``save_pretrained`` folder serves both
``AutoModel.from_pretrained`` and ``timm.create_model("local-dir:...")`` / ``"hf-hub:..."``.
"""

from __future__ import annotations

from typing import Any

import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model

from .network import IAUnet

# Prefixes under which the transformers classes hold the network (IAUnetForReID, IAUnetModel).
_TRANSFORMERS_PREFIXES = ("iaunet.network.", "network.")
DEFAULT_INPUT_SIZE = (3, 256, 128)


def reid_pretrained_cfg(
    input_size: tuple[int, int, int] = DEFAULT_INPUT_SIZE, **kwargs: Any
) -> dict[str, Any]:
    """timm pretrained cfg of a reID model: pedestrian-shaped input, bicubic resize, no crop, ImageNet statistics."""
    return {
        "url": "",
        "num_classes": 0,
        "input_size": tuple(input_size),
        "pool_size": (input_size[1] // 16, input_size[2] // 16),
        "crop_pct": 1.0,
        "crop_mode": "center",
        "interpolation": "bicubic",
        "mean": IMAGENET_DEFAULT_MEAN,
        "std": IMAGENET_DEFAULT_STD,
        "first_conv": "conv1",
        "classifier": "classifier",
        "fixed_input_size": False,
        "license": "apache-2.0",
        **kwargs,
    }


def checkpoint_filter_fn(state_dict: dict[str, torch.Tensor], model: IAUnet) -> dict[str, torch.Tensor]:
    """Map a plain ImageNet ResNet or a transformers-saved IAUnet state dict onto the timm model's keys.

    A backbone-only checkpoint (no BN neck) loads into the ResNet stages; everything it lacks keeps the model's
    own initialisation. Any other checkpoint must match exactly, so a config/weights mismatch is an error.
    """
    mapped = {}
    for key, value in state_dict.items():
        for prefix in _TRANSFORMERS_PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix) :]
                break
        if key.startswith("fc."):  # the ImageNet classifier of a plain ResNet
            continue
        mapped[key] = value
    if "bnneck.weight" not in mapped:
        for key, value in model.state_dict().items():
            if not key.startswith("classifier."):
                mapped.setdefault(key, value)
    return mapped


def _create_iaunet(variant: str, pretrained: bool = False, **kwargs: Any) -> IAUnet:
    return build_model_with_cfg(
        IAUnet,
        variant,
        pretrained,
        pretrained_filter_fn=checkpoint_filter_fn,
        feature_cfg=dict(feature_cls="getter"),
        **kwargs,
    )


default_cfgs = generate_default_cfgs(
    {
        "iaunet_resnet18.tv_in1k": reid_pretrained_cfg(hf_hub_id="timm/resnet18.tv_in1k"),
        "iaunet_resnet34.tv_in1k": reid_pretrained_cfg(hf_hub_id="timm/resnet34.tv_in1k"),
        "iaunet_resnet50.tv_in1k": reid_pretrained_cfg(hf_hub_id="timm/resnet50.tv_in1k"),
        "iaunet_resnet50_video.tv_in1k": reid_pretrained_cfg(hf_hub_id="timm/resnet50.tv_in1k"),
    }
)


@register_model
def iaunet_resnet18(pretrained: bool = False, **kwargs: Any) -> IAUnet:
    """IAUnet on ResNet-18 (paper Table XI), IAU blocks after stages 2 and 3."""
    return _create_iaunet("iaunet_resnet18", pretrained, **dict(dict(depth=18), **kwargs))


@register_model
def iaunet_resnet34(pretrained: bool = False, **kwargs: Any) -> IAUnet:
    """IAUnet on ResNet-34 (paper Table XI), IAU blocks after stages 2 and 3."""
    return _create_iaunet("iaunet_resnet34", pretrained, **dict(dict(depth=34), **kwargs))


@register_model
def iaunet_resnet50(pretrained: bool = False, **kwargs: Any) -> IAUnet:
    """The paper's image IAUnet: ResNet-50, last stride 1, IAU blocks after stages 2 and 3."""
    return _create_iaunet("iaunet_resnet50", pretrained, **dict(dict(depth=50), **kwargs))


@register_model
def iaunet_resnet50_video(pretrained: bool = False, **kwargs: Any) -> IAUnet:
    """The paper's video IAUnet: ResNet-50, one STIAU+CIAU block after stage 2, 4-frame clips."""
    model_args = dict(depth=50, iau_stages=(2,), num_frames=4)
    return _create_iaunet("iaunet_resnet50_video", pretrained, **dict(model_args, **kwargs))
