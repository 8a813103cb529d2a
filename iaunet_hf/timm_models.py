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

import logging
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.models import (
    build_model_with_cfg,
    generate_default_cfgs,
    load_pretrained,
    register_model,
    resolve_pretrained_cfg,
)

from .model import IAUnet, IAUnetOptions
from .model.options import BACKBONES
from .weights_file import check_safetensors_file, checkpoint_source, compare_state_dicts

# Prefixes under which the transformers classes hold the network (IAUnetForReID, IAUnetModel).
_TRANSFORMERS_PREFIXES = ("iaunet.network.", "network.")
# The BN neck's prefix; a converted reID backbone (scripts/convert_checkpoint.py --with-neck) may carry it.
_NECK_PREFIX = "bnneck."
TORCHVISION_GOOGLENET_URL = "https://download.pytorch.org/models/googlenet-1378be20.pth"
logger = logging.getLogger(__name__)


def _backbone_prefixes(model: IAUnet) -> tuple[str, ...]:
    """Parameter-name prefixes of the model's ImageNet backbone (its stem and stage modules)."""
    layout = model.layout
    post_pool = (model.post_pool,) if model.post_pool else ()
    return tuple(
        f"{name}." for name in (*layout.stem, *(n for names in layout.stages for n in names), *post_pool)
    )


def _is_imagenet_backbone(keys, model: IAUnet) -> bool:
    """True for a plain ImageNet classifier of the model's backbone, recognised by its key set."""
    keys = set(keys)
    prefixes = (*_backbone_prefixes(model), *model.imagenet_head_prefixes)
    return bool(keys) and all(key.startswith(prefixes) for key in keys)


def _is_converted_backbone(keys, model: IAUnet) -> bool:
    """True for a converted reID backbone with its BN neck: only stem/stage and ``bnneck.`` keys, some of each."""
    keys = set(keys)
    backbone = _backbone_prefixes(model)
    return (
        any(key.startswith(_NECK_PREFIX) for key in keys)
        and any(key.startswith(backbone) for key in keys)
        and all(key.startswith((*backbone, _NECK_PREFIX)) for key in keys)
    )


def _backbone_state(mapped: dict[str, torch.Tensor], model: IAUnet, source: str) -> dict[str, torch.Tensor]:
    """The model's own state with the checkpoint's backbone (and BN neck, when it has one) in it, strictly.

    The file must hold exactly the backbone's tensors (plus the neck's when it has any neck key); BN's
    ``num_batches_tracked`` may be absent (torchvision's ResNet files predate it; it starts at zero either way).
    Everything else (IAU blocks, the neck when absent) keeps the model's own initialisation, and a message
    names those parts: a warning for a converted reID checkpoint, which one expects to be a reID model.
    """
    own = model.state_dict()
    loaded = {k: v for k, v in mapped.items() if not k.startswith(model.imagenet_head_prefixes)}
    with_neck = any(key.startswith(_NECK_PREFIX) for key in loaded)
    prefixes = (*_backbone_prefixes(model), *((_NECK_PREFIX,) if with_neck else ()))
    expected = {k: tuple(v.shape) for k, v in own.items() if k.startswith(prefixes)}
    found = {k: tuple(v.shape) for k, v in loaded.items()}
    for key in expected.keys() - found.keys():
        if key.endswith("num_batches_tracked"):
            found[key] = expected[key]
    compare_state_dicts(source, found, expected)
    kept = sorted(
        {".".join(k.split(".")[:3]) for k in own if k.startswith("iau.")}
        | ({"bnneck"} if not with_neck and any(k.startswith(_NECK_PREFIX) for k in own) else set())
    )
    if kept:
        logger.log(
            logging.WARNING if with_neck else logging.INFO,
            "%s holds the backbone%s and no IAU blocks; initialised by the model instead: %s (the IAU blocks "
            "start as the identity: the network computes the checkpoint's features until it is trained)",
            source,
            " and the BN neck" if with_neck else "",
            ", ".join(kept),
        )
    return {**{k: v for k, v in own.items() if not k.startswith("classifier.")}, **loaded}


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
    """Map a plain ImageNet ResNet or a transformers-saved IAUnet state dict onto the timm model's keys, strictly.

    A plain ResNet (only stem/stage keys and its ``fc``) must match the backbone exactly; the IAU blocks, BN neck
    and classifier keep the model's own initialisation. A converted reID backbone with its BN neck (only stem,
    stage and ``bnneck.`` keys; not when the pretrained cfg asks for its classifier) must match backbone and neck
    exactly; the IAU blocks and classifier keep theirs. Any other checkpoint must match the whole model, except
    the classifier when the caller asked for a different ``num_classes`` (timm then drops it). A mismatch is a
    ValueError naming the checkpoint and the keys.
    """
    source = checkpoint_source(getattr(model, "pretrained_cfg", None))
    mapped = {}
    for key, value in state_dict.items():
        for prefix in _TRANSFORMERS_PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix) :]
                break
        mapped[key] = value
    keeps_classifier = model.num_classes == (model.pretrained_cfg or {}).get("num_classes", 0) > 0
    if _is_imagenet_backbone(mapped, model) or (
        not keeps_classifier and _is_converted_backbone(mapped, model)
    ):
        return _backbone_state(mapped, model, source)
    own = model.state_dict()
    found = {
        k: tuple(v.shape) for k, v in mapped.items() if keeps_classifier or not k.startswith("classifier.")
    }
    expected = {
        k: tuple(v.shape) for k, v in own.items() if keeps_classifier or not k.startswith("classifier.")
    }
    compare_state_dicts(source, found, expected)
    if not keeps_classifier:  # timm drops only ``classifier.weight``/``.bias``; PCB has one per stripe
        return {k: v for k, v in mapped.items() if not k.startswith("classifier.")}
    return mapped


def _check_local_weights(pretrained_cfg: Any) -> None:
    """A local .safetensors file is checked for truncation before timm reads it (a ValueError naming it)."""
    source = checkpoint_source(pretrained_cfg)
    if source.endswith(".safetensors") and Path(source).is_file():
        check_safetensors_file(source)


def _truncated(variant: str, error: SafetensorError) -> ValueError:
    return ValueError(
        f"pretrained weights of {variant} are truncated or not a safetensors file: {error}; expected an intact "
        "model.safetensors (re-download it)"
    )


def backbone_pretrained_cfg(
    backbone: str, input_size: tuple[int, int, int] = DEFAULT_INPUT_SIZE
) -> dict[str, Any]:
    """The pretrained cfg of an ``iaunet`` on timm backbone ``backbone``: the backbone's own weights (Hub id, URL
    or file, classifier name, statistics) with the reID input size; timm's loader reads it."""
    cfg = resolve_pretrained_cfg(backbone).to_dict()
    keep = ("url", "hf_hub_id", "hf_hub_filename", "file", "state_dict", "num_classes", "classifier",
            "first_conv", "mean", "std", "license", "tag")  # fmt: skip
    return reid_pretrained_cfg(input_size, **{k: cfg[k] for k in keep if cfg.get(k) is not None})


def _create_iaunet(variant: str, pretrained: bool = False, **kwargs: Any) -> IAUnet:
    if variant == "iaunet" and kwargs.get("pretrained_cfg") is None:  # not a saved iaunet: the backbone's cfg
        kwargs["pretrained_cfg"] = backbone_pretrained_cfg(
            kwargs.get("backbone", ARCHITECTURE_OPTIONS[variant]["backbone"])
        )
    if pretrained:
        _check_local_weights(kwargs.get("pretrained_cfg"))
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
        raise _truncated(variant, error) from error


def load_pretrained_backbone(
    network: IAUnet, architecture: str, pretrained_cfg_overlay: dict | None = None
) -> None:
    """Load the pretrained weights of ``architecture`` (ImageNet, or ``pretrained_cfg_overlay``'s file) into a
    network built elsewhere (the transformers model's), through timm's own loader and ``checkpoint_filter_fn``:
    the same weights, checks and messages as ``timm.create_model(architecture, pretrained=True)``."""
    own = backbone_pretrained_cfg(network.options.backbone) if network.options.use_timm_backbone else None
    pretrained_cfg = resolve_pretrained_cfg(
        architecture, pretrained_cfg=own, pretrained_cfg_overlay=pretrained_cfg_overlay
    ).to_dict()
    _check_local_weights(pretrained_cfg)
    network.pretrained_cfg = pretrained_cfg  # what the filter reads (the checkpoint's name, its classes)
    try:
        load_pretrained(
            network,
            pretrained_cfg=pretrained_cfg,
            num_classes=network.num_classes,
            in_chans=network.in_chans,
            filter_fn=checkpoint_filter_fn,
        )
    except SafetensorError as error:
        raise _truncated(architecture, error) from error
    finally:
        del network.pretrained_cfg


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
