"""timm face of IAUnet: default pretrained cfgs, one builder, and a ``@register_model`` function per variant.

``pretrained=True`` starts the backbone from torchvision's ImageNet ResNet weights as published by timm (the
paper's starting point); the IAU blocks, BN neck and classifier keep their spec initialisation. The same filter
also reads checkpoints written by the transformers classes, so one ``save_pretrained`` folder serves both
``AutoModel.from_pretrained`` and ``timm.create_model("local-dir:...")`` / ``"hf-hub:..."``. Loading is strict:
anything but an exact match (or a plain ImageNet ResNet, recognised by its key set) is a ValueError.

A converted reID backbone (``scripts/convert_checkpoint.py``: the ResNet, with ``--with-neck`` also the BN neck,
no IAU blocks) loads the same way, by its key set: the backbone (and the neck, when the file has one) must match
exactly, the IAU blocks keep their identity initialisation and a logged message names them.

A trained reID checkpoint carries its identity classifier, so ``create_model("local-dir:...", pretrained=True)``
returns identity logits; pass ``num_classes=0`` for the retrieval embedding (the timm idiom).
"""

from __future__ import annotations

from typing import Any

from safetensors import SafetensorError
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model

from .model import IAUnet, IAUnetOptions
from .model.options import BACKBONES
from .timm_weights import (
    backbone_pretrained_cfg,
    check_local_weights,
    checkpoint_filter_fn,
    load_pretrained_backbone,
    reid_pretrained_cfg,
    truncated_weights_error,
)

TORCHVISION_GOOGLENET_URL = "https://download.pytorch.org/models/googlenet-1378be20.pth"
# re-exported: the pretrained cfgs and loading live in timm_weights
__all__ = ["ARCHITECTURE_OPTIONS", "architecture_options", "backbone_pretrained_cfg", "checkpoint_filter_fn",
           "load_pretrained_backbone", "reid_pretrained_cfg"]  # fmt: skip


def _create_iaunet(variant: str, pretrained: bool = False, **kwargs: Any) -> IAUnet:
    if variant == "iaunet" and kwargs.get("pretrained_cfg") is None:  # not a saved iaunet: the backbone's cfg
        kwargs["pretrained_cfg"] = backbone_pretrained_cfg(
            kwargs.get("backbone", ARCHITECTURE_OPTIONS[variant]["backbone"])
        )
    if pretrained:
        check_local_weights(kwargs.get("pretrained_cfg"))
    try:
        return build_model_with_cfg(
            IAUnet,
            variant,
            pretrained,
            pretrained_filter_fn=checkpoint_filter_fn,
            feature_cfg=dict(feature_cls="getter"),
            **{**ARCHITECTURE_OPTIONS[variant], **kwargs},
        )
    except SafetensorError as error:  # e.g. a truncated file fetched from the Hub
        raise truncated_weights_error(variant, error) from error


# The options each registered name starts from; keywords of ``timm.create_model`` override them.
ARCHITECTURE_OPTIONS: dict[str, dict[str, Any]] = {
    "iaunet_resnet18": dict(depth=18),
    "iaunet_resnet34": dict(depth=34),
    "iaunet_resnet50": dict(depth=50),
    "iaunet_resnet50_video": dict(depth=50, iau_stages=(2,), num_frames=4),
    "iaunet_resnet101": dict(depth=101),
    "iaunet_resnet152": dict(depth=152),
    "iaunet_googlenet": dict(backbone="googlenet"),
    "iaunet_resnet50_pcb": dict(depth=50, head="pcb"),
    # any timm CNN: timm.create_model("iaunet", backbone="convnext_tiny.fb_in1k", pretrained=True)
    "iaunet": dict(backbone="resnet50.tv_in1k", use_timm_backbone=True),
}


def architecture_options(architecture: str, **kwargs: Any) -> IAUnetOptions:
    """The validated options ``timm.create_model(architecture, **kwargs)`` builds, without building anything."""
    if architecture not in ARCHITECTURE_OPTIONS:
        raise ValueError(
            f"{architecture!r} is not an IAUnet architecture; expected one of {list(ARCHITECTURE_OPTIONS)}"
        )
    if kwargs.get("backbone") not in (None, *BACKBONES) and "use_timm_backbone" not in kwargs:
        kwargs["use_timm_backbone"] = True  # a recipe's --model.backbone convnext_tiny: the timm backbone
    return IAUnetOptions.from_kwargs(**{**ARCHITECTURE_OPTIONS[architecture], **kwargs})


default_cfgs = generate_default_cfgs(
    {
        "iaunet_resnet18.tv_in1k": reid_pretrained_cfg(hf_hub_id="timm/resnet18.tv_in1k"),
        "iaunet_resnet34.tv_in1k": reid_pretrained_cfg(hf_hub_id="timm/resnet34.tv_in1k"),
        "iaunet_resnet50.tv_in1k": reid_pretrained_cfg(hf_hub_id="timm/resnet50.tv_in1k"),
        "iaunet_resnet50_video.tv_in1k": reid_pretrained_cfg(hf_hub_id="timm/resnet50.tv_in1k"),
        "iaunet_resnet101.tv_in1k": reid_pretrained_cfg(hf_hub_id="timm/resnet101.tv_in1k"),
        "iaunet_resnet152.tv_in1k": reid_pretrained_cfg(hf_hub_id="timm/resnet152.tv_in1k"),
        "iaunet_resnet50_pcb.tv_in1k": reid_pretrained_cfg(hf_hub_id="timm/resnet50.tv_in1k"),
        "iaunet": reid_pretrained_cfg(),  # the weights are the backbone's own (backbone_pretrained_cfg)
        # torchvision's own ImageNet GoogLeNet (timm publishes none); a .pth read with weights_only=True
        "iaunet_googlenet.tv_in1k": reid_pretrained_cfg(
            url=TORCHVISION_GOOGLENET_URL, first_conv="conv1.conv"
        ),
    }
)


@register_model
def iaunet_resnet18(pretrained: bool = False, **kwargs: Any) -> IAUnet:
    """IAUnet on ResNet-18 (paper Table XI), IAU blocks after stages 2 and 3."""
    return _create_iaunet("iaunet_resnet18", pretrained, **kwargs)


@register_model
def iaunet_resnet34(pretrained: bool = False, **kwargs: Any) -> IAUnet:
    """IAUnet on ResNet-34 (paper Table XI), IAU blocks after stages 2 and 3."""
    return _create_iaunet("iaunet_resnet34", pretrained, **kwargs)


@register_model
def iaunet_resnet50(pretrained: bool = False, **kwargs: Any) -> IAUnet:
    """The paper's image IAUnet: ResNet-50, last stride 1, IAU blocks after stages 2 and 3."""
    return _create_iaunet("iaunet_resnet50", pretrained, **kwargs)


@register_model
def iaunet_resnet50_video(pretrained: bool = False, **kwargs: Any) -> IAUnet:
    """The paper's video IAUnet: ResNet-50, one STIAU+CIAU block after stage 2, 4-frame clips."""
    return _create_iaunet("iaunet_resnet50_video", pretrained, **kwargs)


@register_model
def iaunet_resnet101(pretrained: bool = False, **kwargs: Any) -> IAUnet:
    """IAUnet on ResNet-101, last stride 1, IAU blocks after stages 2 and 3."""
    return _create_iaunet("iaunet_resnet101", pretrained, **kwargs)


@register_model
def iaunet_resnet152(pretrained: bool = False, **kwargs: Any) -> IAUnet:
    """IAUnet on ResNet-152, last stride 1, IAU blocks after stages 2 and 3."""
    return _create_iaunet("iaunet_resnet152", pretrained, **kwargs)


@register_model
def iaunet_googlenet(pretrained: bool = False, **kwargs: Any) -> IAUnet:
    """IAUnet on GoogLeNet with BN (paper Table XI's Inception): IAU after inception3b and inception4e."""
    return _create_iaunet("iaunet_googlenet", pretrained, **kwargs)


@register_model
def iaunet(pretrained: bool = False, **kwargs: Any) -> IAUnet:
    """IAUnet on any timm CNN (``backbone="convnext_tiny.fb_in1k"``): the backbone's stages, IAU blocks after
    stages 2 and 3 (``iau_stages=()``: the plain reID baseline), BN neck; ``pretrained`` loads the backbone's own
    ImageNet weights through timm's loader (the IAU blocks start as the identity)."""
    return _create_iaunet("iaunet", pretrained, **kwargs)


@register_model
def iaunet_resnet50_pcb(pretrained: bool = False, **kwargs: Any) -> IAUnet:
    """PCB-IAU (paper Table XII): ResNet-50 with IAU blocks after stages 2 and 3 and PCB's six-stripe head."""
    return _create_iaunet("iaunet_resnet50_pcb", pretrained, **kwargs)
