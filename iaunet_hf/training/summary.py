"""``training_summary.json``: the facts of a run that the model card and a reader of the saved folder need.

The keys are part of the package's interfaces (the model card reads them): what was trained (recipe, model,
data), how (optimizer, schedule, loss as effectively used, precision, seed) and how far (epochs, steps).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checkpoints import write_json_atomic

SUMMARY_FILE = "training_summary.json"


@dataclass
class TrainingResult:
    """What a finished run produced, and where."""

    output_dir: Path
    model_dir: Path
    metrics: dict[str, float]
    history: list[dict[str, Any]] = field(default_factory=list)
    best_metric: float | None = None
    best_epoch: int | None = None
    train_seconds: float = 0.0
    results: dict[str, Any] | None = None  # the final results document (eval_results.json), None without eval


def training_summary(trainer: Any) -> dict[str, Any]:
    """The summary of ``trainer``'s run as it stands now (a ``Trainer`` or subclass)."""
    from .. import __version__

    config, progress = trainer.config, trainer.progress
    labels = trainer.labels
    return {
        "recipe": config.name,
        "base_recipe": config.base,
        "task": trainer.task,
        "architecture": config.model.architecture,
        "model_args": dict(config.model.options),
        "pretrained": bool(config.model.pretrained or config.model.pretrained_file),
        "train_datasets": list(config.data.datasets),
        "num_train_identities": len(set(labels)),
        "num_train_images": len(labels),
        "image_size": [config.data.height, config.data.width],
        "batch_size": config.data.batch_size,
        "num_instances": config.data.num_instances,
        "optimizer": {
            "name": config.optimizer.name,
            "lr": config.optimizer.lr,
            "weight_decay": config.optimizer.weight_decay,
        },
        "scheduler": dataclasses.asdict(config.scheduler),
        "epochs_planned": config.train.epochs,
        "epochs_completed": progress.epochs_done,
        "optimizer_steps": progress.global_step,
        "max_steps_per_epoch": config.train.max_steps_per_epoch,
        "part_masks_used": trainer.part_masks_used,
        "loss": trainer.loss_settings(),
        "precision": config.train.mixed_precision,
        "seed": config.train.seed,
        "package_version": __version__,
        "card": config.card,
    }


def write_summary(folder: str | Path, summary: dict[str, Any]) -> Path:
    path = Path(folder) / SUMMARY_FILE
    write_json_atomic(path, json.dumps(summary, indent=2))
    return path


def read_summary(folder: str | Path) -> dict[str, Any] | None:
    path = Path(folder) / SUMMARY_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
