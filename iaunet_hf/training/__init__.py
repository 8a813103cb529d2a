"""Training on ``accelerate``: versioned recipes, the loop, atomic checkpoints and the ``iaunet-train`` CLI.

Importing this package does no work; ``Trainer`` (and with it torch, timm, datasets) is imported on first use.
"""

from .checkpoints import TrainingProgress, latest_checkpoint, list_checkpoints, save_checkpoint
from .config import RECIPE_VERSION, TrainingConfig
from .recipes import (
    apply_overrides,
    available_recipes,
    config_from_dict,
    load_config,
    read_recipe,
    save_config,
)

_LAZY = {
    "Trainer": "trainer",
    "TrainingResult": "trainer",
    "NonFiniteLossError": "divergence",
    "ClassificationTrainer": "classification",
    "trainer_for": "classification",
}
__all__ = [
    "RECIPE_VERSION",
    "TrainingConfig",
    "TrainingProgress",
    "apply_overrides",
    "available_recipes",
    "config_from_dict",
    "latest_checkpoint",
    "list_checkpoints",
    "load_config",
    "read_recipe",
    "save_checkpoint",
    "save_config",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
