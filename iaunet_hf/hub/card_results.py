"""The results part of a model card: the results table (ours, then the paper's comparable rows), the
model-index entries the Hub reads, the protocol line and the note on the paper's numbers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from huggingface_hub import EvalResult

from ..evaluation.results import (
    CLASSIFICATION_METRIC_NAMES,
    CLASSIFICATION_PROTOCOL,
    METRIC_NAMES,
    dataset_type,
)
from .card_facts import card_facts_for_dataset


def setting_text(entry: Mapping[str, Any]) -> str:
    settings = entry["settings"]
    parts = ["re-ranked" if settings.get("rerank") else "plain"]
    if settings.get("flip"):
        parts.append("flip")
    if settings.get("camera_filter") is False:
        parts.append("no camera filter")
    return " + ".join(parts)


def eval_results(entries: list[Mapping[str, Any]], names: Mapping[str, str]) -> list[EvalResult]:
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


def paper_comparable(dataset: str, summary: Mapping[str, Any] | None) -> bool:
    """The paper's numbers sit beside ours only for a base-recipe run on that one paper dataset."""
    if dataset_type(dataset) == "custom":
        return False
    if summary is None:
        return True
    same_data = list(summary.get("train_datasets") or []) in ([], [dataset])
    base = summary.get("base_recipe")
    return same_data and (base is None or base == summary.get("recipe"))


def result_table(
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
                "label": f"{names[entry['dataset']]}, {setting_text(entry)}",
                "cells": [cell_text(entry["metrics"].get(metric), 2) for metric in columns],
            }
        )
        facts = card_facts_for_dataset(entry["dataset"])
        if (
            facts is not None
            and any(metric in facts.paper for metric in columns)
            and not entry["settings"].get("rerank")
            and paper_comparable(entry["dataset"], summary)
        ):
            rows.append(
                {
                    "label": f"{names[entry['dataset']]}, paper ({facts.paper_table or 'IAUnet'})",
                    "cells": [cell_text(facts.paper.get(metric), 1) for metric in columns],
                }
            )
            if facts.paper_table and facts.paper_table not in tables:
                tables.append(facts.paper_table)
    return columns, rows, tables


def cell_text(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def paper_note(tables: list[str]) -> str:
    if tables:
        return (
            f"The paper rows quote IAUnet's published numbers ({', '.join(tables)} of the paper) for reference; "
            "the model-index holds only this checkpoint's results."
        )
    return "The model-index holds this checkpoint's results; no published number is comparable to them."


def protocol_text(entries: list[Mapping[str, Any]]) -> str:
    if not entries:
        return ""
    return (
        "Each dataset is evaluated under its own query/gallery protocol: gallery items of the query's identity and "
        "camera are removed (unless the camera is unknown), mAP, mINP and CMC are averaged over valid queries."
    )
