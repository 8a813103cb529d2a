"""Model cards for IAUnet checkpoints: a run's facts + a results document -> `huggingface_hub.ModelCard`.

A card is rendered from the package's template (`iaunet_hf/hub/model_cards/model_card.md`, package data read
with `importlib.resources`) by the library's own `ModelCard.from_template`, so the metadata block, including
the `model-index` built from `EvalResult`s, is produced by `ModelCardData` rather than by hand. Three sources:

- the results document (`iaunet_hf.evaluation.results`) fills the model-index and the results table;
- the run's `training_summary.json` (written by the trainer) gives the training facts actually run: recipe,
  steps taken, part masks, training sets;
- the `card:` section of the dataset's base training recipe (`iaunet_hf/training/recipes/<name>.yaml`) gives
  the dataset's display name, protocol, license terms and, for the paper's six datasets, the paper's numbers.

The Hub's own metadata check needs the network; `validate_model_card` does the parts that can be done offline.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData
from huggingface_hub.repocard_data import eval_results_to_model_index, model_index_to_eval_results

from ..evaluation.results import (
    CLASSIFICATION_METRIC_NAMES,
    CLASSIFICATION_PROTOCOL,
    METRIC_NAMES,
    dataset_type,
    validate_results,
)
from ..inference.model_folder import read_training_summary  # noqa: F401  (its public home before inference/)
from .card_facts import (
    CardFacts,
    card_facts_for_dataset,
    card_facts_from_dict,
    card_template,
    load_card_facts,
)
from .card_text import limitation_lines, training_data_text, training_lines

CARD_TAGS = ("image-feature-extraction", "person-reid", "timm", "transformers", "iaunet")
PLACEHOLDER_ORG = "your-org"


def _setting(entry: Mapping[str, Any]) -> str:
    settings = entry["settings"]
    parts = ["re-ranked" if settings.get("rerank") else "plain"]
    if settings.get("flip"):
        parts.append("flip")
    if settings.get("camera_filter") is False:
        parts.append("no camera filter")
    return " + ".join(parts)


def _eval_results(entries: list[Mapping[str, Any]], names: Mapping[str, str]) -> list[EvalResult]:
    results = []
    for entry in entries:
        classification = entry["protocol"] == CLASSIFICATION_PROTOCOL
        config = entry["protocol"] + (" + k-reciprocal re-ranking" if entry["settings"].get("rerank") else "")
        for metric, value in entry["metrics"].items():
            results.append(
                EvalResult(
                    task_type="image-classification" if classification else "image-feature-extraction",
                    task_name="Image classification" if classification else "Person re-identification",
                    dataset_type=entry["dataset_type"],
                    dataset_name=names[entry["dataset"]],
                    dataset_config=config,
                    dataset_split=entry["split"],
                    metric_type=metric,
                    metric_name=metric,
                    metric_value=round(float(value), 2),
                )
            )
    return results


def _paper_comparable(dataset: str, summary: Mapping[str, Any] | None) -> bool:
    """The paper's numbers sit beside ours only for a base-recipe run on that one paper dataset."""
    if dataset_type(dataset) == "custom":
        return False
    if summary is None:
        return True
    same_data = list(summary.get("train_datasets") or []) in ([], [dataset])
    base = summary.get("base_recipe")
    return same_data and (base is None or base == summary.get("recipe"))


def _result_table(
    entries: list[Mapping[str, Any]], names: Mapping[str, str], summary: Mapping[str, Any] | None
) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    """The results table: metric columns, one row per entry (ours) followed by the paper's where comparable,
    and the paper tables quoted."""
    present = {metric for entry in entries for metric in entry["metrics"]}
    columns = [metric for metric in (*METRIC_NAMES, *CLASSIFICATION_METRIC_NAMES) if metric in present]
    rows, tables = [], []
    for entry in entries:
        rows.append(
            {
                "label": f"{names[entry['dataset']]}, {_setting(entry)}",
                "cells": [_cell(entry["metrics"].get(metric), 2) for metric in columns],
            }
        )
        facts = card_facts_for_dataset(entry["dataset"])
        if (
            facts is not None
            and any(metric in facts.paper for metric in columns)
            and not entry["settings"].get("rerank")
            and _paper_comparable(entry["dataset"], summary)
        ):
            rows.append(
                {
                    "label": f"{names[entry['dataset']]}, paper ({facts.paper_table or 'IAUnet'})",
                    "cells": [_cell(facts.paper.get(metric), 1) for metric in columns],
                }
            )
            if facts.paper_table and facts.paper_table not in tables:
                tables.append(facts.paper_table)
    return columns, rows, tables


def _cell(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _training_facts(summary: Mapping[str, Any] | None, entries: list[Mapping[str, Any]]) -> CardFacts | None:
    """The facts of the one training set: its shipped base recipe's card when that recipe trains on it, the
    run's own recipe card for a recipe of the user's, else the shipped recipe of that dataset."""
    datasets_ = list((summary or {}).get("train_datasets") or [])
    if summary is None and entries:
        datasets_ = [entries[0]["dataset"]]
    if len(datasets_) != 1:
        return None
    recipe = (summary or {}).get("base_recipe") or (summary or {}).get("recipe")
    try:
        shipped = load_card_facts(recipe) if recipe else None
    except ValueError:  # a recipe file of the user's: its card (if any) describes its own data
        shipped = None
        if summary.get("card"):
            return card_facts_from_dict(
                summary["card"],
                recipe=str(recipe),
                dataset=datasets_[0],
                task=str(summary.get("task", "reid")),
            )
    if shipped is not None and shipped.dataset == datasets_[0]:
        return shipped
    return card_facts_for_dataset(datasets_[0])  # e.g. the synthetic recipe run on a folder set: not its card


def build_model_card(
    results: Mapping[str, Any] | None,
    *,
    repo_id: str | None = None,
    summary: Mapping[str, Any] | None = None,
    embedding_dim: int = 2048,
    input_size: tuple[int, int] = (256, 128),
    num_frames: int = 1,
    license: str = "apache-2.0",
) -> ModelCard:
    """Render the card of one checkpoint.

    ``results`` is a results document (its entries fill the model-index; None: a card without results, which
    ``validate_model_card`` and ``iaunet-push`` refuse). ``summary`` is the run's ``training_summary.json``
    dict (None when unknown: the card then says the training facts were not recorded). ``repo_id`` is the
    Hub repository; None writes a placeholder that ``iaunet-push --repo-id`` replaces.
    """
    if results is not None:
        validate_results(dict(results), where="model card results")
    entries = list(results["results"]) if results is not None else []
    recipe = (summary or {}).get("recipe")
    model_name = repo_id.split("/")[-1] if repo_id else f"iaunet-{recipe or 'reid'}"
    shown_repo_id = repo_id or f"{PLACEHOLDER_ORG}/{model_name}"
    facts = _training_facts(summary, entries)
    names = {}
    for entry in entries:
        own = card_facts_for_dataset(entry["dataset"]) if entry["dataset_type"] != "custom" else None
        names[entry["dataset"]] = own.dataset_name if own else entry["dataset"]
    task = (summary or {}).get("task") or (facts.task if facts else None)
    if task is None:
        task = "classification" if entries and entries[0]["protocol"] == CLASSIFICATION_PROTOCOL else "reid"
    reid = task != "classification"
    columns, rows, tables = _result_table(entries, names, summary)
    train_datasets = list((summary or {}).get("train_datasets") or ([facts.dataset] if facts else []))
    # Every training set's own facts (several sets: each one's display name and terms).
    train_facts = {
        name: facts if facts and name == facts.dataset else card_facts_for_dataset(name)
        for name in train_datasets
    }
    trained_on = ", ".join(
        train_facts[name].dataset_name if train_facts[name] else name for name in train_datasets
    )
    known_terms = [found.dataset_terms for found in train_facts.values() if found]
    unknown_terms = [name for name, found in train_facts.items() if not found]
    terms = " ".join(known_terms)
    if unknown_terms or not train_facts:
        terms += (
            f" The terms of {', '.join(unknown_terms) or 'the training data'} are those of its owner: check that "
            "they permit training and sharing a model."
        )
    evaluated = sorted(names)
    eval_facts = card_facts_for_dataset(evaluated[0]) if len(evaluated) == 1 else None
    architecture = (summary or {}).get("architecture")
    purpose = "person re-identification" if reid else "image classification"
    card_data = ModelCardData(
        model_name=model_name,
        library_name="transformers",
        pipeline_tag="image-feature-extraction" if reid else "image-classification",
        license=license,
        tags=list(CARD_TAGS),
        datasets=sorted({*train_datasets, *(entry["dataset"] for entry in entries)}) or None,
        metrics=sorted({metric for entry in entries for metric in entry["metrics"]}) or None,
        eval_results=_eval_results(entries, names) or None,
    )
    paper_note = (
        f"The paper rows quote IAUnet's published numbers ({', '.join(tables)} of the paper) for reference; "
        "the model-index holds only this checkpoint's results."
        if tables
        else "The model-index holds this checkpoint's results; no published number is comparable to them."
    )
    return ModelCard.from_template(
        card_data,
        template_str=card_template("model_card.md"),
        repo_id=shown_repo_id,
        placeholder_repo_id=repo_id is None,
        title=f"IAUnet{f' ({architecture})' if architecture else ''} for {purpose}"
        + (f" on {trained_on}" if trained_on else ""),
        summary=f"This checkpoint was trained with the `{recipe}` recipe." if recipe else "",
        modality="video" if num_frames > 1 else "image",
        embedding_dim=embedding_dim,
        input_height=input_size[0],
        input_width=input_size[1],
        protocol=eval_facts.protocol if eval_facts else _protocol_text(entries),
        result_columns=columns,
        result_rows=rows,
        paper_note=paper_note,
        training=training_lines(summary),
        training_data=training_data_text(summary, trained_on),
        limitations=limitation_lines(summary, entries),
        dataset_terms=terms.strip(),
        license=license,
    )


def _protocol_text(entries: list[Mapping[str, Any]]) -> str:
    if not entries:
        return ""
    return (
        "Each dataset is evaluated under its own query/gallery protocol: gallery items of the query's identity and "
        "camera are removed (unless the camera is unknown), mAP, mINP and CMC are averaged over valid queries."
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
