"""The model-card facts of each dataset: the ``card:`` section of its base training recipe, and the templates.

The facts live once, in ``iaunet_hf/training/recipes/<name>.yaml`` (display name, protocol, license terms of
the data and, for the paper's datasets, the paper's numbers with their table); the card templates are package
data in ``iaunet_hf/hub/model_cards/``. Both are read with ``importlib.resources``, so an installed wheel finds
them; a missing template is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

CARD_FACT_FIELDS = ("dataset_name", "protocol", "dataset_terms")


def card_template(name: str) -> str:
    """The text of the package's card template ``name`` (``model_card.md``, ``dataset_card.md``)."""
    template = resources.files("iaunet_hf.hub") / "model_cards" / name
    if not template.is_file():
        raise FileNotFoundError(
            f"card template {name} is missing from the installed package (iaunet_hf/hub/model_cards/); "
            "reinstall iaunet-hf"
        )
    return template.read_text(encoding="utf-8")


@dataclass(frozen=True)
class CardFacts:
    """The model-card facts of one dataset, from the ``card:`` section of its base training recipe."""

    recipe: str
    dataset: str
    task: str
    dataset_name: str
    protocol: str
    dataset_terms: str
    paper: dict[str, float] = field(default_factory=dict)
    paper_table: str | None = None


def _recipe_files() -> dict[str, Any]:
    folder = resources.files("iaunet_hf") / "training" / "recipes"
    return {entry.name[: -len(".yaml")]: entry for entry in folder.iterdir() if entry.name.endswith(".yaml")}


def card_facts_from_dict(card: Mapping[str, Any], *, recipe: str, dataset: str, task: str) -> CardFacts:
    """Check a recipe's ``card:`` mapping and return its facts; errors name the recipe and the field."""
    missing = [key for key in CARD_FACT_FIELDS if not card.get(key)]
    if missing:
        raise ValueError(
            f"recipe {recipe}: card section lacks {missing}; expected {list(CARD_FACT_FIELDS)} "
            "(and optionally paper, paper_table)"
        )
    return CardFacts(
        recipe=recipe,
        dataset=dataset,
        task=task,
        dataset_name=str(card["dataset_name"]),
        protocol=str(card["protocol"]),
        dataset_terms=str(card["dataset_terms"]),
        paper={str(k): float(v) for k, v in (card.get("paper") or {}).items()},
        paper_table=card.get("paper_table"),
    )


def load_card_facts(recipe: str) -> CardFacts | None:
    """The card facts of a shipped base recipe, or None when it has no ``card:`` section."""
    files = _recipe_files()
    if recipe not in files:
        raise ValueError(f"unknown recipe {recipe!r}; expected one of {sorted(files)}")
    document = yaml.safe_load(files[recipe].read_text(encoding="utf-8")) or {}
    if not document.get("card"):
        return None
    dataset = (document.get("data") or {}).get("dataset", recipe)
    dataset = dataset[0] if isinstance(dataset, list) and len(dataset) == 1 else dataset
    task = document.get("task", "reid")
    return card_facts_from_dict(document["card"], recipe=recipe, dataset=str(dataset), task=task)


def card_facts_for_dataset(dataset: str) -> CardFacts | None:
    """The card facts of the base recipe that trains on ``dataset`` alone (None for a dataset without one)."""
    for recipe in sorted(_recipe_files()):
        facts = load_card_facts(recipe)
        if facts is not None and facts.dataset == dataset:
            return facts
    return None
