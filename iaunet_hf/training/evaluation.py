"""Evaluation during and after training: the evaluation layer's feature extraction and metrics, as flat numbers.

The trainer logs scalars and picks the best checkpoint by one of them, so this module turns the evaluation
layer's results into ``{"eval/mAP": ..., "eval/rank-1": ...}`` (percent), adding re-ranked metrics on request.
"""

from __future__ import annotations

import datasets
import torch

from ..evaluation import evaluate_model

CMC_RANKS = (1, 5, 10, 20)


def reid_metrics_percent(result: dict, prefix: str = "eval/") -> dict[str, float]:
    """mAP, mINP and CMC rank-1/5/10/20 of an ``evaluate_reid`` result, in percent, with ``prefix``."""
    metrics = {f"{prefix}mAP": 100.0 * result["mAP"], f"{prefix}mINP": 100.0 * result["mINP"]}
    cmc = result["cmc"]
    for rank in CMC_RANKS:
        if rank <= len(cmc):
            metrics[f"{prefix}rank-{rank}"] = 100.0 * float(cmc[rank - 1])
    return metrics


def evaluate_retrieval(
    model: torch.nn.Module,
    dataset_dict: datasets.DatasetDict,
    batch_size: int,
    flip: bool = False,
    rerank: bool = False,
    clip_length: int = 4,
    autocast_dtype: torch.dtype | None = None,
) -> dict[str, float]:
    """Query/gallery metrics (percent) with cosine distance; with ``rerank`` also after k-reciprocal re-ranking.

    The model is evaluated at its config's ``image_size`` (the training size), under autocast to
    ``autocast_dtype`` when given (the training precision).
    """
    options = dict(
        batch_size=batch_size,
        flip=flip,
        clip_length=clip_length,
        autocast_dtype=autocast_dtype,
        progress=False,
    )
    metrics = reid_metrics_percent(evaluate_model(model, dataset_dict, **options))
    if rerank:
        metrics.update(
            reid_metrics_percent(evaluate_model(model, dataset_dict, rerank=True, **options), "eval/rerank/")
        )
    return metrics


@torch.no_grad()
def evaluate_classifier(
    model: torch.nn.Module, test: datasets.Dataset, height: int, width: int, batch_size: int
) -> dict[str, float]:
    """Top-1 accuracy and error (percent) of the identity classifier on a labelled test split (CIFAR-100)."""
    from torch.utils.data import DataLoader

    from ..data import build_eval_transform, collate_reid

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
    return {"eval/top-1 accuracy": accuracy, "eval/top-1 error": 100.0 - accuracy}
