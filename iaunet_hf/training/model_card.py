"""The model card written next to a trained model: the hub layer's card, filled with this run's metrics.

Shipped recipes have their card facts in the project's ``model_cards/`` folder; any other run (the synthetic demo,
a custom YAML) gets the same facts derived from its training config.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from ..configuration_iaunet import IAUnetConfig
from ..hub.model_card import REID_METRICS, DatasetResult, available_recipes, build_model_card
from .config import TrainingConfig

RERANK_PREFIX = "eval/rerank/"
EVAL_PREFIX = "eval/"


def results_from_metrics(config: TrainingConfig, metrics: dict[str, float]) -> list[DatasetResult]:
    """``eval/...`` metrics (percent) as the card's results: plain cosine ranking and, if run, re-ranking."""
    plain = {key[len(EVAL_PREFIX) :]: value for key, value in metrics.items() if key.startswith(EVAL_PREFIX)}
    plain = {key: value for key, value in plain.items() if "/" not in key}
    reranked = {
        key[len(RERANK_PREFIX) :]: value for key, value in metrics.items() if key.startswith(RERANK_PREFIX)
    }
    if config.task == "classification":
        return [DatasetResult(dataset=config.data.dataset, metrics=plain, protocol="test")]
    keep = set(REID_METRICS)
    results = [
        DatasetResult(
            dataset=config.data.dataset,
            metrics={k: v for k, v in plain.items() if k in keep},
            protocol="single-query",
        )
    ]
    if reranked:
        results.append(
            DatasetResult(
                dataset=config.data.dataset,
                metrics={k: v for k, v in reranked.items() if k in keep},
                protocol="single-query + k-reciprocal re-ranking",
            )
        )
    return results


def recipe_facts(config: TrainingConfig) -> dict[str, Any]:
    """Card facts of a run without a shipped card recipe, written from its config."""
    data, optimizer = config.data, config.optimizer
    reid = config.task == "reid"
    return {
        "name": config.name,
        "title": f"IAUnet ({config.model.architecture}) trained with the {config.name} recipe",
        "dataset_name": data.dataset,
        "dataset_id": data.dataset,
        "task": "person-reid" if reid else "image-classification",
        "modality": "video" if config.model.num_frames > 1 else "image",
        "protocol": (
            "Market-1501 single-query protocol on the query/gallery splits; cosine distance on the post-BN embedding."
            if reid
            else "Top-1 accuracy on the test split."
        ),
        "training": [
            f"{config.model.architecture}, IAU stages {config.model.iau_stages}, ImageNet init: {config.model.pretrained}.",
            f"{data.batch_size} per batch ({data.batch_size // data.num_instances} identities x {data.num_instances}), "
            f"{data.height}x{data.width} input.",
            f"{optimizer.name} lr {optimizer.lr}, weight decay {optimizer.weight_decay}, x{config.scheduler.gamma} at "
            f"epochs {config.scheduler.milestones}, {config.train.epochs} epochs.",
        ],
        "dataset_terms": "",
        "paper": {},
    }


def write_model_card(
    folder: str | Path, config: TrainingConfig, metrics: dict[str, float], model_config: IAUnetConfig
) -> Path | None:
    """Write ``README.md`` (the model card) into ``folder``; warns and returns None without the card template."""
    try:
        recipe = config.name if config.name in available_recipes() else recipe_facts(config)
        card = build_model_card(
            recipe,
            results_from_metrics(config, metrics),
            repo_id=f"iaunet-{config.name}",
            embedding_dim=model_config.hidden_size,
            input_size=(config.data.height, config.data.width),
        )
    except FileNotFoundError as error:  # installed without the source checkout's model_cards/ folder
        warnings.warn(f"model card not written: {error}", stacklevel=2)
        return None
    path = Path(folder) / "README.md"
    card.save(path)
    return path
