"""The prose of a model card that comes from the run itself (``training_summary.json``), one fact per line.

Every key of the summary is optional: a card states only what the run recorded, and says so when it recorded
nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NOT_RECORDED = (
    "The training facts of this checkpoint were not recorded (its folder has no training_summary.json)."
)


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _loss_line(loss: Mapping[str, Any], part_masks_used: bool | None) -> str:
    parts = [f"cross-entropy (label smoothing {loss.get('label_smoothing', 0)})"]
    if loss.get("triplet_weight"):
        parts.append(
            f"{loss['triplet_weight']} x batch-hard triplet ({loss.get('triplet_distance', 'cosine')}, "
            f"margin {loss.get('triplet_margin')})"
        )
    if loss.get("part_loss_weight"):
        parts.append(f"{loss['part_loss_weight']} x part-mask loss")
    elif part_masks_used is False:
        parts.append("no part loss (no part masks were used)")
    return "Loss: " + " + ".join(parts) + "."


def training_lines(summary: Mapping[str, Any] | None) -> list[str]:
    """The training-procedure bullets: recipe, model, data, batches, optimisation, loss, length, precision."""
    if not summary:
        return [NOT_RECORDED]
    lines = [_recipe_line(summary), _model_line(summary), _data_line(summary), _batch_line(summary)]
    lines += [_optimizer_line(summary), _loss_line(summary["loss"], summary.get("part_masks_used"))
              if summary.get("loss") else None, _length_line(summary), _extras_line(summary)]  # fmt: skip
    return [line for line in lines if line] or [NOT_RECORDED]


def _recipe_line(summary: Mapping[str, Any]) -> str | None:
    recipe, base = summary.get("recipe"), summary.get("base_recipe")
    if not recipe:
        return None
    return f"Recipe `{recipe}`" + (
        f", an override of the base recipe `{base}`." if base and base != recipe else "."
    )


def _model_line(summary: Mapping[str, Any]) -> str | None:
    if not summary.get("architecture"):
        return None
    shown = ", ".join(f"{key}={value!r}" for key, value in (summary.get("model_args") or {}).items())
    init = {True: "ImageNet initialisation", False: "trained from scratch"}.get(summary.get("pretrained"))
    return (
        f"Model `{summary['architecture']}`"
        + (f" ({shown})" if shown else "")
        + (f"; {init}." if init else ".")
    )


def _data_line(summary: Mapping[str, Any]) -> str | None:
    if not summary.get("train_datasets"):
        return None
    counts = [
        f"{_number(summary[key])} {label}"
        for key, label in (("num_train_identities", "identities"), ("num_train_images", "images"))
        if summary.get(key) is not None
    ]
    names = ", ".join(f"`{name}`" for name in summary["train_datasets"])
    return "Training sets: " + names + (f" ({', '.join(counts)})." if counts else ".")


def _batch_line(summary: Mapping[str, Any]) -> str | None:
    if not summary.get("batch_size"):
        return None
    batch = f"Batches of {summary['batch_size']}"
    if summary.get("task", "reid") == "reid" and summary.get("num_instances"):
        k = summary["num_instances"]
        batch += f" ({summary['batch_size'] // k} identities x {k} images)"
    if summary.get("image_size"):
        height, width = summary["image_size"]
        batch += f", input {height}x{width}"
    return batch + "."


def _optimizer_line(summary: Mapping[str, Any]) -> str | None:
    optimizer = summary.get("optimizer") or {}
    if not optimizer:
        return None
    line = f"Optimizer {optimizer.get('name')}, lr {optimizer.get('lr')}, weight decay {optimizer.get('weight_decay')}"
    scheduler = summary.get("scheduler") or {}
    if scheduler:
        line += "; scheduler " + ", ".join(f"{key} {value}" for key, value in scheduler.items())
    return line + "."


def _length_line(summary: Mapping[str, Any]) -> str | None:
    if summary.get("epochs_completed") is None:
        return None
    line = f"Length: {summary['epochs_completed']} of {summary.get('epochs_planned', '?')} planned epochs"
    if summary.get("optimizer_steps") is not None:
        line += f", {_number(summary['optimizer_steps'])} optimizer steps"
    if summary.get("max_steps_per_epoch"):
        line += f" (at most {summary['max_steps_per_epoch']} per epoch)"
    return line + "."


def _extras_line(summary: Mapping[str, Any]) -> str | None:
    extras = [
        f"{label} {summary[key]}"
        for key, label in (("precision", "precision"), ("seed", "seed"), ("package_version", "iaunet-hf"))
        if summary.get(key) is not None
    ]
    return ", ".join(extras).capitalize() + "." if extras else None


def training_data_text(summary: Mapping[str, Any] | None, trained_on: str) -> str:
    """One sentence naming the training data."""
    if trained_on:
        return f"Trained on {trained_on}."
    if summary is None:
        return "The training data of this checkpoint was not recorded."
    return "The training data was not recorded in the run's summary."


def limitation_lines(summary: Mapping[str, Any] | None, entries: list[Mapping[str, Any]]) -> list[str]:
    """Limitations that follow from this run: a cut-short schedule, no part masks, custom or unknown data."""
    lines = []
    if summary is None:
        lines.append(NOT_RECORDED)
        return lines
    completed, planned = summary.get("epochs_completed"), summary.get("epochs_planned")
    if summary.get("max_steps_per_epoch") or (completed is not None and planned and completed < planned):
        lines.append(
            f"This is a short run ({_number(summary.get('optimizer_steps', '?'))} optimizer steps, "
            f"{completed} of {planned} planned epochs"
            + (
                f", at most {summary['max_steps_per_epoch']} steps per epoch"
                if summary.get("max_steps_per_epoch")
                else ""
            )
            + "), not the recipe's full schedule: do not read its numbers as the recipe's."
        )
    if summary.get("part_masks_used") is False:
        lines.append("Trained without part masks, so the part loss that guides the part attention was off.")
    if any(entry.get("dataset_type") == "custom" for entry in entries):
        lines.append("Results on custom datasets are not comparable with published benchmark numbers.")
    return lines
