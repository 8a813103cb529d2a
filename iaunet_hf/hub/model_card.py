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
from huggingface_hub import ModelCard, ModelCardData
from huggingface_hub.repocard_data import eval_results_to_model_index, model_index_to_eval_results

from ..evaluation.results import (
    CLASSIFICATION_PROTOCOL,
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
from .card_results import eval_results, paper_note, protocol_text, result_table
from .card_text import limitation_lines, training_data_text, training_lines

CARD_TAGS = ("image-feature-extraction", "person-reid", "timm", "transformers", "iaunet")
PLACEHOLDER_ORG = "your-org"


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
    facts = _training_facts(summary, entries)
    names = _display_names(entries)
    reid = _card_task(summary, facts, entries) != "classification"
    columns, rows, tables = result_table(entries, names, summary)
    train_datasets, trained_on, terms = _training_sets(summary, facts)
    evaluated = sorted(names)
    eval_facts = card_facts_for_dataset(evaluated[0]) if len(evaluated) == 1 else None
    architecture = (summary or {}).get("architecture")
    purpose = "person re-identification" if reid else "image classification"
    card_data = _card_data(model_name, license, reid, train_datasets, entries, names)
    return ModelCard.from_template(
        card_data,
        template_str=card_template("model_card.md"),
        repo_id=repo_id or f"{PLACEHOLDER_ORG}/{model_name}",
        placeholder_repo_id=repo_id is None,
        title=f"IAUnet{f' ({architecture})' if architecture else ''} for {purpose}"
        + (f" on {trained_on}" if trained_on else ""),
        summary=f"This checkpoint was trained with the `{recipe}` recipe." if recipe else "",
        modality="video" if num_frames > 1 else "image",
        embedding_dim=embedding_dim,
        input_height=input_size[0],
        input_width=input_size[1],
        protocol=eval_facts.protocol if eval_facts else protocol_text(entries),
        result_columns=columns,
        result_rows=rows,
        paper_note=paper_note(tables),
        training=training_lines(summary),
        training_data=training_data_text(summary, trained_on),
        limitations=limitation_lines(summary, entries),
        dataset_terms=terms.strip(),
        license=license,
    )


def _card_data(
    model_name: str,
    license: str,
    reid: bool,
    train_datasets: list[str],
    entries: list,
    names: Mapping[str, str],
) -> ModelCardData:
    """The card's metadata block: what the Hub indexes (task, license, datasets, metrics, model-index)."""
    return ModelCardData(
        model_name=model_name,
        library_name="transformers",
        pipeline_tag="image-feature-extraction" if reid else "image-classification",
        license=license,
        tags=list(CARD_TAGS),
        datasets=sorted({*train_datasets, *(entry["dataset"] for entry in entries)}) or None,
        metrics=sorted({metric for entry in entries for metric in entry["metrics"]}) or None,
        eval_results=eval_results(entries, names) or None,
    )


def _display_names(entries: list[Mapping[str, Any]]) -> dict[str, str]:
    """Each evaluated set's display name (its card facts' name; a custom set keeps its own)."""
    names = {}
    for entry in entries:
        own = card_facts_for_dataset(entry["dataset"]) if entry["dataset_type"] != "custom" else None
        names[entry["dataset"]] = own.dataset_name if own else entry["dataset"]
    return names


def _card_task(summary: Mapping[str, Any] | None, facts: Any, entries: list[Mapping[str, Any]]) -> str:
    """ "reid" or "classification": the run's, else its recipe's, else what the results' protocol says."""
    task = (summary or {}).get("task") or (facts.task if facts else None)
    if task is None:
        task = "classification" if entries and entries[0]["protocol"] == CLASSIFICATION_PROTOCOL else "reid"
    return task


def _training_sets(summary: Mapping[str, Any] | None, facts: Any) -> tuple[list[str], str, str]:
    """(training set names, their display names joined, their terms of use): each set's own facts, and a
    warning to check the owner's terms for any set the package has no facts for."""
    train_datasets = list((summary or {}).get("train_datasets") or ([facts.dataset] if facts else []))
    train_facts = {
        name: facts if facts and name == facts.dataset else card_facts_for_dataset(name)
        for name in train_datasets
    }
    trained_on = ", ".join(
        train_facts[name].dataset_name if train_facts[name] else name for name in train_datasets
    )
    unknown_terms = [name for name, found in train_facts.items() if not found]
    terms = " ".join(found.dataset_terms for found in train_facts.values() if found)
    if unknown_terms or not train_facts:
        terms += (
            f" The terms of {', '.join(unknown_terms) or 'the training data'} are those of its owner: check that "
            "they permit training and sharing a model."
        )
    return train_datasets, trained_on, terms


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
