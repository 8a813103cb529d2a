"""``training_summary.json``: the facts of a run that the model card and a reader of the saved folder need.

The keys are part of the package's interfaces (the model card reads them): what was trained (recipe, model,
data), how (optimizer, schedule, loss as effectively used, precision, seed) and how far (epochs, steps).

What the loss was is recorded per epoch: ``epoch_segments`` lists runs of epochs that trained alike (``epochs``
``[first, last]``, ``part_masks_used``, ``loss``), kept in every checkpoint, so a resume that trains differently
adds a segment and never rewrites the earlier epochs. The run-wide ``part_masks_used`` and ``loss`` fields hold a
value only where every epoch agrees on it, else ``null`` (see ``epoch_segments``); epochs trained before the
package recorded segments count as unknown.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..version import __version__


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


@dataclass(frozen=True)
class RunFacts:
    """What the trainer set up that the summary records: the task, the training data's size and the loss as
    this run uses it (no part loss without part masks). Made once, when the trainer is set up."""

    task: str
    num_train_identities: int
    num_train_images: int
    part_masks_used: bool
    loss: dict[str, Any]

    def epoch_facts(self) -> dict[str, Any]:
        """What one epoch trains with: part masks used or not, and the loss as effectively used."""
        return {"part_masks_used": bool(self.part_masks_used), "loss": dict(self.loss)}


def training_summary(config: Any, progress: Any, facts: RunFacts) -> dict[str, Any]:
    """The summary of a run (its ``TrainingConfig``, ``TrainingProgress`` and facts) as it stands now."""
    segments = epoch_segments(progress)
    return {
        "recipe": config.name,
        "base_recipe": config.base,
        "task": facts.task,
        "architecture": config.model.architecture,
        "model_args": dict(config.model.options),
        "pretrained": bool(config.model.pretrained or config.model.pretrained_file),
        "train_datasets": list(config.data.datasets),
        "num_train_identities": facts.num_train_identities,
        "num_train_images": facts.num_train_images,
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
        **run_wide_loss(segments, facts.epoch_facts()),
        "epoch_segments": segments,
        "precision": config.train.mixed_precision,
        "seed": config.train.seed,
        "package_version": __version__,
        "card": config.card,
    }


def record_epoch(segments: list[dict[str, Any]], epoch_number: int, facts: dict[str, Any]) -> None:
    """Add epoch ``epoch_number`` to ``segments``: the last segment grows when the epoch follows it and trained
    alike, else a new segment starts. Earlier segments are never changed."""
    last = segments[-1] if segments else None
    if (
        last is not None
        and last["epochs"][1] == epoch_number - 1
        and all(last[k] == v for k, v in facts.items())
    ):
        last["epochs"][1] = epoch_number
    else:
        segments.append({"epochs": [epoch_number, epoch_number], **facts})


def epoch_segments(progress: Any) -> list[dict[str, Any]]:
    """The run's segments up to ``progress.epochs_done``; epochs before the first recorded one are unknown."""
    segments = [dict(segment) for segment in progress.epoch_segments]
    first = segments[0]["epochs"][0] if segments else progress.epochs_done + 1
    if first > 1:
        segments.insert(0, {"epochs": [1, first - 1], "part_masks_used": None, "loss": None})
    return segments


def run_wide_loss(segments: list[dict[str, Any]], current: dict[str, Any]) -> dict[str, Any]:
    """``part_masks_used`` and ``loss`` for the whole run: each field's value where every epoch agrees on it,
    else None; the part-loss fields are None too when some epochs are unknown. No epochs yet: ``current``."""
    known = [segment for segment in segments if segment["loss"] is not None]
    if not known:
        return current if not segments else {"part_masks_used": None, "loss": None}
    unknown = len(known) < len(segments)

    def agreed(values: list[Any], part_field: bool) -> Any:
        same = all(value == values[0] for value in values)
        return values[0] if same and not (unknown and part_field) else None

    loss = {
        key: agreed([s["loss"].get(key) for s in known], key == "part_loss_weight") for key in current["loss"]
    }
    return {"part_masks_used": agreed([s["part_masks_used"] for s in known], True), "loss": loss}
