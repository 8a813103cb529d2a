"""The one results format of the package: what ``iaunet-eval``, the trainer, the demo and the model card share.

A results file is a JSON document (``RESULTS_FORMAT`` version ``RESULTS_FORMAT_VERSION``) holding one entry per
dataset / protocol / split / settings, every metric in percent::

    {"format": "iaunet-hf/reid-results", "format_version": 1, "unit": "percent",
     "package_version": "0.1.0", "model": "outputs/iaunet-market1501/best_model",
     "results": [{"dataset": "market1501", "dataset_type": "market1501",
                  "protocol": "single-query", "split": "test",
                  "metrics": {"mAP": 85.1, "mINP": 60.2, "rank-1": 94.0, "rank-5": ..., "rank-10": ..., "rank-20": ...},
                  "settings": {"flip": false, "rerank": false, "metric": "cosine", "ap": "standard",
                               "image_size": [256, 128], "camera_filter": true},
                  "counts": {"num_query": 3368, "num_gallery": 15913, "num_valid_queries": 3368}}]}

The CMC ranks are defined here once (``CMC_RANKS``). Re-ranked numbers are a second entry whose settings say
``"rerank": true``. Datasets outside the standard benchmarks are typed ``"custom"``. Classification entries
(CIFAR-100) have ``"protocol": "classification"``, ``top-1 accuracy``/``top-1 error`` metrics and
``{"num_test": N}`` counts (``classification_entry``). The dict of the ``evaluate`` module
(``evaluate.load(METRIC_PATH).compute(...)``) has the keys ``result_entry`` reads, so it maps to an entry the
same way an ``evaluate_reid`` result does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..version import __version__

RESULTS_FORMAT = "iaunet-hf/reid-results"
RESULTS_FORMAT_VERSION = 1
RESULTS_UNIT = "percent"
CMC_RANKS = (1, 5, 10, 20)
# Benchmarks the package knows by name; any other dataset is "custom" in results files and model cards.
STANDARD_DATASETS = (
    "market1501",
    "dukemtmc_reid",
    "msmt17",
    "cuhk03",
    "mars",
    "dukemtmc_videoreid",
    "cifar100",
    "viper",
    "grid",
    "ilids",
    "prid",
    "ilidsvid",
    "prid2011",
    "occluded_duke",
)
METRIC_NAMES = ("mAP", "mINP", *(f"rank-{rank}" for rank in CMC_RANKS))
CLASSIFICATION_METRIC_NAMES = ("top-1 accuracy", "top-1 error")
CLASSIFICATION_PROTOCOL = "classification"
_ENTRY_KEYS = ("dataset", "dataset_type", "protocol", "split", "metrics", "settings", "counts")


def package_version() -> str:
    return __version__


def dataset_type(dataset: str) -> str:
    """The dataset's type in results files and model cards: its own name if standard, else ``"custom"``."""
    return dataset if dataset in STANDARD_DATASETS else "custom"


def metrics_percent(evaluation: Mapping[str, Any]) -> dict[str, float]:
    """mAP, mINP and CMC rank-1/5/10/20 (percent) of an ``evaluate_reid`` result (fractions, ``cmc`` array)."""
    metrics = {"mAP": 100.0 * float(evaluation["mAP"]), "mINP": 100.0 * float(evaluation["mINP"])}
    cmc = evaluation["cmc"]
    for rank in CMC_RANKS:
        if rank <= len(cmc):
            metrics[f"rank-{rank}"] = 100.0 * float(cmc[rank - 1])
    return metrics


def _entry(
    dataset: str,
    protocol: str,
    split: str,
    metrics: dict[str, float],
    settings: Mapping[str, Any],
    counts: dict[str, int],
) -> dict[str, Any]:
    """The layout every results-file entry shares, reID and classification alike."""
    return {
        "dataset": dataset,
        "dataset_type": dataset_type(dataset),
        "protocol": protocol,
        "split": split,
        "metrics": metrics,
        "settings": dict(settings),
        "counts": counts,
    }


def result_entry(
    dataset: str,
    evaluation: Mapping[str, Any],
    *,
    settings: Mapping[str, Any],
    num_query: int,
    num_gallery: int,
    protocol: str = "single-query",
    split: str = "test",
) -> dict[str, Any]:
    """One entry of a results file from an ``evaluate_reid``/``evaluate_model`` result (fractions)."""
    metrics = metrics_percent(evaluation)  # first, as before: a result without mAP fails here
    counts = {
        "num_query": int(num_query),
        "num_gallery": int(num_gallery),
        "num_valid_queries": int(evaluation["num_valid_queries"]),
    }
    return _entry(dataset, protocol, split, metrics, settings, counts)


def classification_entry(
    dataset: str,
    accuracy: float,
    *,
    num_test: int,
    settings: Mapping[str, Any] | None = None,
    split: str = "test",
) -> dict[str, Any]:
    """One entry of a results file for a classifier: top-1 ``accuracy`` in percent on ``num_test`` images."""
    metrics = {"top-1 accuracy": float(accuracy), "top-1 error": 100.0 - float(accuracy)}
    return _entry(
        dataset, CLASSIFICATION_PROTOCOL, split, metrics, settings or {}, {"num_test": int(num_test)}
    )


def evaluation_entry(
    dataset: str,
    evaluation: Mapping[str, Any],
    dataset_dict: Mapping[str, Any],
    *,
    flip: bool,
    rerank: bool,
    metric: str,
    ap: str,
    image_size: Sequence[int],
    **settings: Any,
) -> dict[str, Any]:
    """The entry of one ``evaluate_model`` run on ``dataset_dict``'s query/gallery splits, with its settings."""
    return result_entry(
        dataset,
        evaluation,
        settings={
            "flip": flip,
            "rerank": rerank,
            "metric": metric,
            "ap": ap,
            "image_size": list(image_size),
            "camera_filter": bool(evaluation.get("camera_filter", True)),
            **settings,
        },
        num_query=len(dataset_dict["query"]),
        num_gallery=len(dataset_dict["gallery"]),
    )


def results_document(entries: Iterable[Mapping[str, Any]], model: str | None = None) -> dict[str, Any]:
    """A complete results document around ``entries`` (validated)."""
    document = {
        "format": RESULTS_FORMAT,
        "format_version": RESULTS_FORMAT_VERSION,
        "unit": RESULTS_UNIT,
        "package_version": package_version(),
        "model": model,
        "results": [dict(entry) for entry in entries],
    }
    validate_results(document, where="results document")
    return document


def validate_results(document: Any, where: str) -> None:
    """Raise a ValueError naming ``where`` and the field when ``document`` is not a valid results document."""
    if not isinstance(document, dict):
        raise ValueError(
            f"{where}: expected a JSON object of format {RESULTS_FORMAT!r}, got {type(document).__name__}"
        )
    if document.get("format") != RESULTS_FORMAT:
        raise ValueError(
            f"{where}: 'format' is {document.get('format')!r}, expected {RESULTS_FORMAT!r} "
            "(write it with iaunet-eval --output or iaunet_hf.evaluation.results)"
        )
    if document.get("format_version") != RESULTS_FORMAT_VERSION:
        raise ValueError(
            f"{where}: 'format_version' is {document.get('format_version')!r}, "
            f"this package reads version {RESULTS_FORMAT_VERSION}"
        )
    if document.get("unit") != RESULTS_UNIT:
        raise ValueError(f"{where}: 'unit' is {document.get('unit')!r}, expected {RESULTS_UNIT!r}")
    entries = document.get("results")
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{where}: 'results' must be a non-empty list of entries")
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: results[{index}] must be an object, got {entry!r}")
        missing = [key for key in _ENTRY_KEYS if key not in entry]
        if missing:
            raise ValueError(
                f"{where}: results[{index}] lacks {missing}; expected the keys {list(_ENTRY_KEYS)}"
            )
        for key in ("settings", "counts"):
            if not isinstance(entry[key], dict):
                raise ValueError(f"{where}: results[{index}].{key} must be an object, got {entry[key]!r}")
        metrics = entry["metrics"]
        if not isinstance(metrics, dict) or not metrics:
            raise ValueError(f"{where}: results[{index}].metrics must be a non-empty object")
        for name, value in metrics.items():
            if name not in METRIC_NAMES + CLASSIFICATION_METRIC_NAMES:
                raise ValueError(
                    f"{where}: results[{index}].metrics has unknown metric {name!r}; "
                    f"known: {METRIC_NAMES + CLASSIFICATION_METRIC_NAMES}"
                )
            if not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value <= 100:
                raise ValueError(
                    f"{where}: results[{index}].metrics[{name!r}] = {value!r}; expected a percentage in [0, 100]"
                )


def write_results(path: str | Path, document: Mapping[str, Any]) -> Path:
    """Validate and write a results document as indented JSON (atomically: a temporary file, then a rename)."""
    path = Path(path)
    validate_results(dict(document), where=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n")
    temporary.replace(path)
    return path


def read_results(path: str | Path) -> dict[str, Any]:
    """Read and validate a results file; errors name the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"results file {path} does not exist")
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"results file {path} is not valid JSON: {error}") from None
    validate_results(document, where=f"results file {path}")
    return document


def format_results_table(document: Mapping[str, Any], metrics: Iterable[str] = METRIC_NAMES) -> str:
    """A fixed-width table, one row per entry: dataset, setting and ``metrics`` (default: all reID metrics, %).

    Classification entries show their top-1 accuracy in a row of their own.
    """
    metrics = tuple(metrics)
    header = f"{'dataset':<22} {'setting':<15} " + " ".join(f"{name:>7}" for name in metrics)
    lines = [header, "-" * len(header)]
    for entry in document["results"]:
        if entry["protocol"] == CLASSIFICATION_PROTOCOL:
            accuracy = entry["metrics"]["top-1 accuracy"]
            lines.append(f"{entry['dataset']:<22} {'top-1':<15} {accuracy:7.2f} (classification accuracy)")
            continue
        setting = ("re-ranked" if entry["settings"].get("rerank") else "plain") + (
            " +flip" if entry["settings"].get("flip") else ""
        )
        values = " ".join(
            f"{entry['metrics'][name]:7.2f}" if name in entry["metrics"] else f"{'-':>7}" for name in metrics
        )
        lines.append(f"{entry['dataset']:<22} {setting:<15} {values}")
    return "\n".join(lines)
