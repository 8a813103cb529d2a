"""Model cards for IAUnet checkpoints: recipe facts + evaluation JSON -> `huggingface_hub.ModelCard`.

A card is rendered from `model_cards/template.md` and one recipe file (`model_cards/<recipe>.yaml`) with the
library's own `ModelCard.from_template`, so the metadata block is produced by `ModelCardData` (including the
`model-index` built from `EvalResult`s) rather than by hand. The Hub's own metadata check needs the network;
`validate_model_card` does the parts that can be done offline.

Evaluation JSON (written by the evaluation step; one entry per dataset and protocol)::

    {"results": [{"dataset": "market1501", "protocol": "single-query", "split": "test",
                  "metrics": {"mAP": 88.1, "mINP": 65.3, "rank-1": 95.0, "rank-5": 98.2, "rank-10": 98.9}}]}

A single entry without the `results` list is accepted too. Metric values are percentages; when every value of
an entry lies in [0, 1] the entry is read as fractions and scaled to percentages.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData
from huggingface_hub.repocard_data import eval_results_to_model_index, model_index_to_eval_results

CARD_TAGS = ("image-feature-extraction", "person-reid", "timm", "transformers", "iaunet")
REID_METRICS = ("mAP", "mINP", "rank-1", "rank-5", "rank-10", "rank-20")
CLASSIFICATION_METRICS = ("top-1 accuracy", "top-1 error", "top-5 accuracy")
RECIPE_FIELDS = ("name", "title", "dataset_name", "dataset_id", "task", "modality", "protocol", "training")
PAPER_URL = "https://arxiv.org/abs/2009.01035"


@dataclass
class DatasetResult:
    """The metrics of one checkpoint on one dataset under one protocol, in percent."""

    dataset: str
    metrics: dict[str, float]
    protocol: str = "default"
    split: str = "test"
    extra: dict[str, Any] = field(default_factory=dict)


def default_cards_dir() -> Path:
    """The project's `model_cards/` folder: the source checkout's, else the copy a wheel installs under
    `<prefix>/share/iaunet-hf/model_cards` (pyproject's data-files)."""
    checkout = Path(__file__).resolve().parents[2] / "model_cards"
    installed = Path(sys.prefix) / "share" / "iaunet-hf" / "model_cards"
    return checkout if checkout.is_dir() or not installed.is_dir() else installed


def resolve_cards_dir(cards_dir: str | Path | None = None) -> Path:
    """`cards_dir`, or the default folder, checked to hold the card template."""
    folder = Path(cards_dir) if cards_dir is not None else default_cards_dir()
    if not (folder / "template.md").is_file():
        raise FileNotFoundError(
            f"model card folder {folder} has no template.md; expected the project's model_cards/ folder "
            "(pass cards_dir= / --cards-dir to point at it)"
        )
    return folder


def available_recipes(cards_dir: str | Path | None = None) -> list[str]:
    """Names of the recipes that have a card file."""
    return sorted(p.stem for p in resolve_cards_dir(cards_dir).glob("*.yaml"))


def load_recipe(name: str, cards_dir: str | Path | None = None) -> dict[str, Any]:
    """Read `model_cards/<name>.yaml` and check it has every field the template uses."""
    folder = resolve_cards_dir(cards_dir)
    path = folder / f"{name}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no model card recipe {path}; expected one of {available_recipes(folder)}")
    recipe = yaml.safe_load(path.read_text(encoding="utf-8"))
    missing = [key for key in (*RECIPE_FIELDS, "paper") if key not in (recipe or {})]
    if missing:
        raise ValueError(
            f"model card recipe {path} lacks field(s) {missing}; expected all of {RECIPE_FIELDS}"
        )
    return recipe


def normalize_metric_name(name: str) -> str:
    """Map the spellings evaluation code uses ("rank1", "Rank-1", "top1_error", "map") to card names."""
    key = re.sub(r"[\s_\-@]", "", name.lower())
    if key == "map":
        return "mAP"
    if key == "minp":
        return "mINP"
    rank = re.fullmatch(r"(?:rank|r|cmc|cmcrank)(\d+)", key)
    if rank:
        return f"rank-{int(rank.group(1))}"
    classification = {
        "top1accuracy": "top-1 accuracy",
        "accuracy": "top-1 accuracy",
        "top1acc": "top-1 accuracy",
        "top1error": "top-1 error",
        "error": "top-1 error",
        "top5accuracy": "top-5 accuracy",
    }
    if key in classification:
        return classification[key]
    raise ValueError(
        f"unknown metric {name!r}; expected one of {REID_METRICS + CLASSIFICATION_METRICS} (any spelling)"
    )


def load_eval_results(path: str | Path) -> list[DatasetResult]:
    """Read an evaluation JSON file (see the module docstring for the layout)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"evaluation results file {path} does not exist")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"evaluation results file {path} is not valid JSON: {error}") from error
    entries = payload.get("results", [payload]) if isinstance(payload, dict) else payload
    if not isinstance(entries, list) or not entries:
        raise ValueError(
            f"evaluation results file {path} has no results; expected a 'results' list of entries"
        )
    results = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or "dataset" not in entry or not entry.get("metrics"):
            raise ValueError(
                f"evaluation results file {path}, entry {index}: found {entry!r}; "
                "expected an object with 'dataset' and a non-empty 'metrics' mapping"
            )
        try:
            metrics = {normalize_metric_name(k): float(v) for k, v in entry["metrics"].items()}
        except (TypeError, ValueError) as error:
            raise ValueError(f"evaluation results file {path}, entry {index}: {error}") from error
        if all(0.0 <= v <= 1.0 for v in metrics.values()):
            metrics = {k: v * 100.0 for k, v in metrics.items()}  # fractions -> percent
        extra = {k: v for k, v in entry.items() if k not in ("dataset", "metrics", "protocol", "split")}
        results.append(
            DatasetResult(
                dataset=str(entry["dataset"]),
                metrics=metrics,
                protocol=str(entry.get("protocol", "default")),
                split=str(entry.get("split", "test")),
                extra=extra,
            )
        )
    return results


def _eval_results(recipe: dict[str, Any], results: list[DatasetResult]) -> list[EvalResult]:
    reid = recipe["task"] == "person-reid"
    return [
        EvalResult(
            task_type="image-feature-extraction" if reid else "image-classification",
            task_name="Person re-identification" if reid else "Image classification",
            dataset_type=result.dataset,
            dataset_name=recipe["dataset_name"] if result.dataset == recipe["dataset_id"] else result.dataset,
            dataset_config=result.protocol,
            dataset_split=result.split,
            metric_type=metric,
            metric_name=metric,
            metric_value=round(value, 2),
        )
        for result in results
        for metric, value in result.metrics.items()
    ]


def _result_rows(recipe: dict[str, Any], results: list[DatasetResult]) -> list[dict[str, str]]:
    """Rows of the card's comparison table: this checkpoint beside the paper where the paper has the number."""
    paper = {normalize_metric_name(k): float(v) for k, v in recipe["paper"].items()}
    rows = []
    for result in results:
        own_dataset = result.dataset == recipe["dataset_id"]
        label = recipe["dataset_name"] if own_dataset else result.dataset
        for metric, value in result.metrics.items():
            published = paper.get(metric) if own_dataset else None
            rows.append(
                {
                    "metric": f"{label} ({result.protocol}) {metric}",
                    "ours": f"{value:.2f}",
                    "paper": f"{published:.1f}" if published is not None else "not reported",
                }
            )
    return rows


def build_model_card(
    recipe: str | dict[str, Any],
    results: list[DatasetResult],
    *,
    repo_id: str,
    embedding_dim: int = 2048,
    input_size: tuple[int, int] = (256, 128),
    license: str = "apache-2.0",
    cards_dir: str | Path | None = None,
) -> ModelCard:
    """Render the card of one checkpoint; `results` fill the model-index, the recipe the text."""
    if isinstance(recipe, str):
        recipe = load_recipe(recipe, cards_dir)
    if not results:
        raise ValueError(
            f"model card for {repo_id}: no evaluation results; expected at least one DatasetResult"
        )
    card_data = ModelCardData(
        model_name=repo_id.split("/")[-1],
        library_name="transformers",
        pipeline_tag="image-feature-extraction"
        if recipe["task"] == "person-reid"
        else "image-classification",
        license=license,
        tags=list(CARD_TAGS),
        datasets=sorted({recipe["dataset_id"], *(r.dataset for r in results)}),
        metrics=sorted({m for r in results for m in r.metrics}),
        eval_results=_eval_results(recipe, results),
    )
    template = resolve_cards_dir(cards_dir) / "template.md"
    return ModelCard.from_template(
        card_data,
        template_path=str(template),
        repo_id=repo_id,
        title=recipe["title"],
        summary=f"This checkpoint follows the paper's {recipe['dataset_name']} recipe.",
        modality=recipe["modality"],
        embedding_dim=embedding_dim,
        input_height=input_size[0],
        input_width=input_size[1],
        protocol=recipe["protocol"],
        result_rows=_result_rows(recipe, results),
        training=recipe["training"],
        dataset_name=recipe["dataset_name"],
        dataset_terms=recipe.get("dataset_terms", ""),
    )


def validate_model_card(card: ModelCard | str | Path) -> ModelCard:
    """Check offline what the Hub checks on upload, plus what our loaders need; return the parsed card.

    Raises `ValueError` when the YAML does not parse, a required key is missing, the card has no results, or
    the model-index does not survive a round trip through `huggingface_hub`'s own converters.
    """
    if isinstance(card, Path) or (isinstance(card, str) and "\n" not in card):  # a path, not card text
        path = Path(card)
        if not path.is_file():
            raise FileNotFoundError(f"model card {path} does not exist")
        text = path.read_text(encoding="utf-8")
        where = str(path)
    else:
        text = str(card)
        where = "model card"
    try:
        parsed = ModelCard(text, ignore_metadata_errors=False)
    except (ValueError, yaml.YAMLError) as error:
        raise ValueError(f"{where}: metadata does not parse: {error}") from error
    data = parsed.data
    for key in ("library_name", "license", "tags"):
        if not getattr(data, key, None):
            raise ValueError(f"{where}: metadata key {key!r} is missing; expected it to be set")
    missing_tags = [t for t in CARD_TAGS if t not in data.tags]
    if missing_tags:
        raise ValueError(f"{where}: tags {data.tags} lack {missing_tags}")
    if not data.eval_results:
        raise ValueError(
            f"{where}: no results (the metadata has no 'model-index'); expected the checkpoint's "
            "evaluation results, e.g. from --dataset-results results.json"
        )
    model_index = eval_results_to_model_index(data.model_name, data.eval_results)
    name, round_trip = model_index_to_eval_results(model_index)
    if name != data.model_name or round_trip != data.eval_results:
        raise ValueError(f"{where}: model-index does not round-trip through huggingface_hub's converters")
    reparsed = ModelCard(str(parsed))
    if reparsed.data.to_dict() != data.to_dict():
        raise ValueError(f"{where}: metadata changes when the card is written and read again")
    return parsed
