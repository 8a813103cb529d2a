"""The optimizer of a recipe: Adam, AdamW or SGD with momentum, over parameter groups with their own settings.

fast-reid's ``get_default_optimizer_params``: norm layers' weights and biases may take their own weight decay
(``weight_decay_norm``), biases a learning-rate factor and weight decay of their own (``bias_lr_factor``,
``weight_decay_bias``; BoT's and fast-reid's bias lr x2 in some configs), and the head (pooling, embedding
reduction, BN neck, classifier) a learning-rate factor (``head_lr_factor``). Each group records its
``lr_factor`` and ``decay_kind``, so the schedule and a resume set its learning rate and weight decay again.
With every factor at 1 and no separate decays the optimizer has the one group it had before these settings.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

OPTIMIZERS = ("adam", "adamw", "sgd")
# Network modules added on top of the backbone: the head (``HEAD_MODULES``) and the IAU (or comparison) blocks.
HEAD_MODULES = ("pooling", "reduction", "bnneck", "pcb", "classifier")
NEW_MODULES = (*HEAD_MODULES, "iau")
# Wrapper prefixes in front of the network's own module names (transformers' classes, DDP, torch.compile).
_WRAPPER_NAMES = ("iaunet", "network", "module", "_orig_mod")


def network_module(parameter_name: str) -> str:
    """The network's top-level module a parameter belongs to: ``iaunet.network.bnneck.weight`` -> ``bnneck``."""
    parts = parameter_name.split(".")
    while len(parts) > 1 and parts[0] in _WRAPPER_NAMES:
        parts = parts[1:]
    return parts[0]


def _norm_parameter_names(model: nn.Module) -> set[str]:
    norms = (
        nn.modules.batchnorm._BatchNorm,
        nn.GroupNorm,
        nn.LayerNorm,
        nn.modules.instancenorm._InstanceNorm,
    )
    return {
        f"{module_name}.{name}" if module_name else name
        for module_name, module in model.named_modules()
        if isinstance(module, norms)
        for name, _ in module.named_parameters(recurse=False)
    }


def uses_parameter_groups(opt: Any) -> bool:
    return (opt.bias_lr_factor, opt.head_lr_factor, opt.weight_decay_norm, opt.weight_decay_bias) != (
        1.0,
        1.0,
        None,
        None,
    )


def group_weight_decay(opt: Any, decay_kind: str) -> float:
    """The weight decay of a group's kind: "norm", "bias" or "default" (unset decays fall back to the default)."""
    specific = {"norm": opt.weight_decay_norm, "bias": opt.weight_decay_bias}.get(decay_kind)
    return opt.weight_decay if specific is None else specific


def parameter_groups(model: nn.Module, opt: Any) -> list[dict[str, Any]]:
    """Trainable parameters grouped by (lr factor, weight-decay kind), in the model's parameter order."""
    norm_names = _norm_parameter_names(model)
    groups: dict[tuple[float, str], dict[str, Any]] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        is_bias = name.endswith("bias")
        decay_kind = "norm" if name in norm_names else "bias" if is_bias else "default"
        lr_factor = (opt.bias_lr_factor if is_bias else 1.0) * (
            opt.head_lr_factor if network_module(name) in HEAD_MODULES else 1.0
        )
        group = groups.setdefault(
            (lr_factor, decay_kind),
            {"params": [], "lr": opt.lr * lr_factor, "lr_factor": lr_factor, "decay_kind": decay_kind,
             "weight_decay": group_weight_decay(opt, decay_kind)},
        )  # fmt: skip
        group["params"].append(parameter)
    return list(groups.values())


def build_optimizer(model: nn.Module, opt: Any) -> torch.optim.Optimizer:
    """The recipe's optimizer (an ``OptimizerConfig``) over the model's parameters or their groups."""
    params = parameter_groups(model, opt) if uses_parameter_groups(opt) else model.parameters()
    if opt.name == "sgd":
        return torch.optim.SGD(params, lr=opt.lr, momentum=opt.momentum, weight_decay=opt.weight_decay)
    if opt.name == "adamw":
        return torch.optim.AdamW(params, lr=opt.lr, weight_decay=opt.weight_decay)
    return torch.optim.Adam(params, lr=opt.lr, weight_decay=opt.weight_decay)


def apply_weight_decay(optimizer: torch.optim.Optimizer, opt: Any) -> None:
    """Set every group's weight decay and momentum from ``opt`` (a resume may change them)."""
    for group in optimizer.param_groups:
        group["weight_decay"] = group_weight_decay(opt, group.get("decay_kind", "default"))
        if "momentum" in group:
            group["momentum"] = opt.momentum
