"""The spec's weight initialisation (§1c), written once for torch's and transformers' init namespaces."""

from __future__ import annotations

import math

import torch
from torch import nn

from .margin_classifiers import CosineClassifier
from .pooling import GlobalPool


def mark_zero_init(norm: nn.Module) -> nn.Module:
    """Flag a residual-branch norm whose gamma and beta start at zero, so the block starts as the identity."""
    norm.zero_init_residual = True
    return norm


def _default_bias_init(bias: torch.Tensor, weight: torch.Tensor, init) -> None:
    """PyTorch's own Conv/Linear bias init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (spec §1c: "default bias init")."""
    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(weight)
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    init.uniform_(bias, -bound, bound)


def init_module_weights(module: nn.Module, init=nn.init) -> None:
    """Initialise one module as the spec says (§1c); ``init`` is torch.nn.init or transformers.initialization.

    transformers re-initialises every module through ``_init_weights`` and needs its own init functions (they
    skip tensors already loaded), so the rule is written once here and parameterised by the init namespace.
    Conv/linear biases keep PyTorch's default uniform init; the identity classifier's bias starts at zero
    (the authors' classifier init, weight N(0, 0.001)).
    """
    if isinstance(module, nn.Conv2d):
        init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        if module.bias is not None:
            _default_bias_init(module.bias, module.weight, init)
    elif isinstance(module, nn.Linear):
        if getattr(module, "is_classifier", False):
            init.normal_(module.weight, std=0.001)
            if module.bias is not None:
                init.zeros_(module.bias)
        else:
            init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                _default_bias_init(module.bias, module.weight, init)
    elif isinstance(module, nn.InstanceNorm2d) and module.affine:  # IBN-a's instance-normalised half
        init.ones_(module.weight)
        init.zeros_(module.bias)
    elif isinstance(module, CosineClassifier):
        module.reset_parameters(init)
    elif isinstance(module, GlobalPool) and module.learnable_p:
        init.constant_(module.p, module.gem_p)
    elif isinstance(module, nn.modules.batchnorm._BatchNorm):
        if getattr(module, "zero_init_residual", False):
            init.zeros_(module.weight)
        else:
            init.ones_(module.weight)
        init.zeros_(module.bias)
        init.zeros_(module.running_mean)
        init.ones_(module.running_var)
        if module.num_batches_tracked is not None:
            init.zeros_(module.num_batches_tracked)
