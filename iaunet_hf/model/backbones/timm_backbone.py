"""Any timm CNN as the backbone: its stem and four reID stages, read from the model's own ``feature_info``.

timm's feature wrappers run a model's top-level modules in order and tap the ones ``feature_info`` names; this
does the same split, so that IAU blocks can run *between* stages (no hooks). Stage k is the feature level of
reduction 2^(k+1) (ResNet's numbering: IAU after stages 2 and 3 = reductions 8 and 16). A top-level
``nn.Sequential`` that holds taps (EfficientNet's ``blocks``, DenseNet's ``features``) is run child by child.
Modules after the last tap belong to stage 4 up to the first head module (pooling, classifier), so stage 4's
output is the model's own ``forward_features``. Module names stay timm's, so its ImageNet weights load unchanged.

Last stride 1 (the reID convention) is timm's ``output_stride=16``, which *dilates* the last stage; the paper's
and BoT's last stride 1 (and the ``iaunet_resnet*`` models) instead drops the stride without dilation.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

import timm
import torch
from torch import nn

from .layout import BackboneLayout

# Top-level modules that start a timm model's head: what follows the feature map, never part of a stage.
HEAD_MODULE_NAMES = ("global_pool", "head", "fc", "classifier", "head_drop", "flatten", "pre_logits")
STAGE_REDUCTIONS = (4, 8, 16)  # stages 1-3; stage 4 is 32, or 16 with last stride 1


@dataclass
class TimmBackbone:
    """A timm model cut into stem and stages: the modules to register (timm's names), how to run them, and the
    prefixes of the ImageNet head that a plain timm checkpoint carries besides them."""

    modules: dict[str, nn.Module]
    layout: BackboneLayout
    head_prefixes: tuple[str, ...]
    post_pool: str | None  # a module applied after pooling, before the BN neck (OSNet's 512-d ``fc``)


def _create(name: str, in_chans: int, last_stride: int, device=None, dtype=None) -> nn.Module:
    kwargs = dict(pretrained=False, num_classes=0, in_chans=in_chans)
    if last_stride == 1:
        kwargs["output_stride"] = 16
    try:
        with torch.device(device) if device is not None else contextlib.nullcontext():
            model = timm.create_model(name, **kwargs)
    except RuntimeError as error:
        if "Unknown model" in str(error):
            raise ValueError(f"backbone {name!r} is not a timm model ({error})") from None
        raise
    except (TypeError, AssertionError, NotImplementedError) as error:
        if last_stride == 1:
            raise ValueError(
                f"backbone {name!r} cannot keep its last stage at stride 1 (timm's output_stride=16 is not "
                f"supported by this model: {error}); pass last_stride=2"
            ) from None
        raise
    return model if dtype is None else model.to(dtype)


def _run_units(model: nn.Module, taps: list[str]) -> list[str]:
    """Module paths in forward order: top-level children, a top-level Sequential holding taps by its children."""
    units = []
    for name, child in model.named_children():
        inner = [tap for tap in taps if tap.startswith(name + ".")]
        if not inner:
            units.append(name)
            continue
        if not isinstance(child, nn.Sequential) or any(tap.count(".") > 1 for tap in inner):
            raise ValueError(f"{type(model).__name__}: feature taps {inner} are not modules run in sequence")
        units += [f"{name}.{child_name}" for child_name, _ in child.named_children()]
    return units


def _split(model: nn.Module, name: str, last_stride: int) -> tuple[list[str], list[list[str]], list[str]]:
    """(stem units, the four stages' units, the head's top-level names) of ``model``."""
    info = getattr(model, "feature_info", None)
    info = [dict(entry) for entry in (info.get_dicts() if hasattr(info, "get_dicts") else info or [])]
    levels = [entry for entry in info if entry["reduction"] >= 4][-4:]
    expected = (*STAGE_REDUCTIONS, 16 if last_stride == 1 else 32)
    if tuple(entry["reduction"] for entry in levels) != expected:
        found = [(entry["module"], entry["reduction"]) for entry in info]
        raise ValueError(
            f"backbone {name!r} cannot be split into four CNN stages of reductions {expected} (its feature_info: "
            f"{found}); a CNN with timm feature_info at reductions 4, 8, 16 and 32 is expected (a ViT is not one)"
        )
    taps = [entry["module"] for entry in levels]
    units = _run_units(model, taps)
    if any(tap not in units for tap in taps):
        raise ValueError(f"backbone {name!r}: feature taps {taps} are not among its modules run in order")
    ends = [units.index(tap) for tap in taps]
    stem = units[: ends[0]]
    stages = [units[start + 1 : end + 1] for start, end in zip([ends[0] - 1, *ends[:3]], ends, strict=True)]
    for unit in units[ends[-1] + 1 :]:
        if unit.split(".")[0] in HEAD_MODULE_NAMES or "pool" in unit:
            break
        stages[-1].append(unit)
    kept = {unit.split(".")[0] for unit in stem + sum(stages, [])}
    head = [child for child, _ in model.named_children() if child not in kept]
    return stem, stages, head


def build_timm_backbone(
    name: str, in_chans: int = 3, last_stride: int = 1, device=None, dtype=None
) -> TimmBackbone:
    """Build timm's ``name`` (random weights; ``IAUnet`` loads ImageNet ones through timm's loader) and split it."""
    model = _create(name, in_chans, last_stride, device, dtype)
    stem, stages, head = _split(model, name, last_stride)
    post_pool = getattr(model, "reid_post_pool", None)
    if post_pool is not None:
        head = [child for child in head if child != post_pool]
    modules = {child: module for child, module in model.named_children() if child not in head}
    # shapes by one probe through the stem and stages (meta tensors on a meta model): channels and strides
    probe = nn.Module()
    for child, module in modules.items():
        probe.add_module(child, module)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        x = torch.zeros(1, in_chans, 64, 64, device=next(model.parameters()).device, dtype=dtype)
        for unit in stem:
            x = probe.get_submodule(unit)(x)
        stem_channels, stem_size, channels, strides, size = x.shape[1], x.shape[-1], [], [], x.shape[-1]
        for units in stages:
            for unit in units:
                x = probe.get_submodule(unit)(x)
            channels.append(x.shape[1])
            strides.append(size // x.shape[-1])
            size = x.shape[-1]
    model.train(was_training)
    layout = BackboneLayout(
        stem=tuple(stem),
        stages=tuple(tuple(units) for units in stages),
        stem_channels=int(stem_channels),
        stage_channels=tuple(int(c) for c in channels),
        stage_strides=tuple(int(s) for s in strides),
        stem_reduction=64 // int(stem_size),
    )
    return TimmBackbone(modules, layout, tuple(f"{child}." for child in head), post_pool)


@functools.lru_cache(maxsize=64)
def timm_backbone_channels(name: str, in_chans: int = 3) -> int:
    """Channels of the backbone's last feature map (its ``num_features``), from a meta-device build: the
    embedding size a config states without building the network."""
    with torch.device("meta"):
        model = _create(name, in_chans, last_stride=2)
    return int(model.num_features)
