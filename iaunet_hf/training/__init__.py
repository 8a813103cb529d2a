"""Training on ``accelerate``: versioned recipes, the loop, atomic checkpoints and the ``iaunet-train`` CLI.

Importing this package does no work; ``Trainer`` (and with it torch, timm, datasets) is imported on first use.
"""

from .checkpoints import TrainingProgress, latest_checkpoint, list_checkpoints, save_checkpoint
from .config import (
    RECIPE_VERSION,
    TrainingConfig,
    apply_overrides,
    available_recipes,
    config_from_dict,
    load_config,
    read_recipe,
    save_config,
)

__all__ = [
    "RECIPE_VERSION",
    "NonFiniteLossError",
    "Trainer",
    "TrainingConfig",
    "TrainingProgress",
    "TrainingResult",
    "apply_overrides",
    "available_recipes",
    "config_from_dict",
    "latest_checkpoint",
    "list_checkpoints",
    "load_config",
    "read_recipe",
    "save_checkpoint",
    "save_config",
]


def __getattr__(name: str):
    if name in ("Trainer", "TrainingResult", "NonFiniteLossError"):
        from . import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
