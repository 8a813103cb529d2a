"""Checks of the two open sections of a training config: ``model`` (any keyword of the timm architecture, checked by
the network's own options without building it) and ``data`` (any option of the dataset builder it names)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..data.registry import DATASET_NAMES, builder_options
from ..model import IAUnetOptions
from ..model.options import check_global_pool
from ..timm_models import ARCHITECTURE_OPTIONS, architecture_options

if TYPE_CHECKING:
    from .config import DataConfig, ModelConfig

# Builder config fields that are not user options (or that DataConfig declares itself, like mask_dir).
BUILDER_FIELDS_NOT_OPTIONS = {"data_dir", "data_files", "description", "mask_dir"}


# Keywords of the timm model that are not architecture options. Accepted and checked as before; IAUnetConfig does
# not carry them, so the trained model does not use them (as before this step).
HEAD_KEYWORDS = ("drop_rate", "global_pool")


def model_options(model: ModelConfig) -> IAUnetOptions:
    """The validated network options of the recipe's architecture and its ``model`` keywords (nothing is built)."""
    options = {k: v for k, v in model.options.items() if k not in HEAD_KEYWORDS}
    return architecture_options(model.architecture, **options)


def check_model_options(model: ModelConfig) -> None:
    """Reject an unknown architecture, keyword or value exactly as ``timm.create_model`` would, from the options
    alone (no network is built), before any data is touched."""
    if model.architecture not in ARCHITECTURE_OPTIONS:
        raise ValueError(
            f"training config: model.architecture is {model.architecture!r}; expected a registered timm "
            f"architecture such as {sorted(ARCHITECTURE_OPTIONS)}"
        )
    for reserved in ("pretrained", "num_classes", "pretrained_cfg_overlay"):
        if reserved in model.options:
            raise ValueError(
                f"training config: model.{reserved} is set by the trainer; remove it from the recipe"
            )
    try:
        model_options(model)
        check_global_pool(model.options.get("global_pool", "avg"))
    except TypeError as error:
        match = re.search(r"keyword argument '(\w+)'", str(error))
        name = f"model.{match.group(1)}" if match else f"one of the model options {sorted(model.options)}"
        raise ValueError(
            f"training config: {name} is not a keyword of {model.architecture} ({error}); expected a keyword of "
            "timm.create_model for that architecture, e.g. iau_stages, iau_modules, stiau_context, num_parts"
        ) from None
    except ValueError as error:
        raise ValueError(f"training config: model ({model.architecture}): {error}") from None


def builder_option_fields(dataset: str) -> dict[str, Any] | None:
    """The config fields (name -> type) of the dataset builder ``dataset`` uses, or None for unknown names."""
    if dataset not in DATASET_NAMES:
        return None
    options = builder_options(dataset)
    return {name: options[name].type for name in sorted(set(options) - BUILDER_FIELDS_NOT_OPTIONS)}


def check_data_options(data: DataConfig) -> None:
    """Every dataset is known and every ``data.options`` key is a config field of every named set's builder."""
    for dataset in data.datasets:
        fields = builder_option_fields(dataset)
        if fields is None:
            raise ValueError(
                f"training config: data.dataset {dataset!r} is unknown; expected one of {DATASET_NAMES}"
            )
        unknown = sorted(set(data.options) - set(fields))
        if unknown:
            raise ValueError(
                f"training config: data.{unknown[0]} is not an option of the {dataset} dataset; expected a "
                f"field of DataConfig or one of its builder options {sorted(fields)}"
            )
