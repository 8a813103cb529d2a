"""Evaluation during and after training, as entries of the package's results format and as flat log scalars.

The trainer picks the best model by one scalar and logs scalars, so every evaluation gives both: the
``results.evaluation_entry`` entries (written as ``eval_results.json``) and ``{"eval/mAP": ..., "eval/rank-1": ...}``
(percent, the same numbers), re-ranked ones under ``eval/rerank/``.
"""

from __future__ import annotations

from typing import Any

import datasets
import torch

from ..data import build_eval_transform, collate_reid
from ..evaluation import evaluate_model
from ..evaluation.results import classification_entry, evaluation_entry

RERANK_PREFIX = "eval/rerank/"


def flat_metrics(entries: list[dict[str, Any]]) -> dict[str, float]:
    """``eval/<metric>`` of the plain entry and ``eval/rerank/<metric>`` of the re-ranked one."""
    flat = {}
    for entry in entries:
        prefix = RERANK_PREFIX if entry["settings"].get("rerank") else "eval/"
        flat.update({f"{prefix}{name}": value for name, value in entry["metrics"].items()})
    return flat


def evaluate_retrieval(
    model: torch.nn.Module,
    dataset_dict: datasets.DatasetDict,
    dataset_name: str,
    batch_size: int,
    flip: bool = False,
    rerank: bool = False,
    clip_length: int = 4,
    autocast_dtype: torch.dtype | None = None,
) -> list[dict[str, Any]]:
    """Results entries of query/gallery retrieval with cosine distance, plus a re-ranked entry with ``rerank``.

    The model is evaluated at its config's ``image_size`` (the training size), under autocast to
    ``autocast_dtype`` when given (the training precision).
    """
    options = dict(batch_size=batch_size, flip=flip, clip_length=clip_length, autocast_dtype=autocast_dtype)
    image_size = list(getattr(getattr(model, "config", None), "image_size", None) or [])
    entries = []
    for rerank_now in (False, True) if rerank else (False,):
        result = evaluate_model(model, dataset_dict, rerank=rerank_now, progress=False, **options)
        entries.append(
            evaluation_entry(
                dataset_name,
                result,
                dataset_dict,
                flip=flip,
                rerank=rerank_now,
                metric="cosine",
                ap="standard",
                image_size=image_size,
            )
        )
    return entries


@torch.no_grad()
def evaluate_classifier(
    model: torch.nn.Module,
    test: datasets.Dataset,
    dataset_name: str,
    height: int,
    width: int,
    batch_size: int,
) -> list[dict[str, Any]]:
    """The results entry of the identity classifier's top-1 accuracy on a labelled test split (CIFAR-100)."""
    from torch.utils.data import DataLoader

    device = next(model.parameters()).device
    loader = DataLoader(
        test.with_transform(build_eval_transform(height, width)), batch_size, collate_fn=collate_reid
    )
    was_training = model.training
    model.eval()
    correct = total = 0
    try:
        for batch in loader:
            logits = model(pixel_values=batch["pixel_values"].to(device)).logits
            correct += int((logits.argmax(dim=1).cpu() == batch["fine_label"]).sum())
            total += len(batch["fine_label"])
    finally:
        model.train(was_training)
    accuracy = 100.0 * correct / max(total, 1)
    return [
        classification_entry(dataset_name, accuracy, num_test=total, settings={"image_size": [height, width]})
    ]
