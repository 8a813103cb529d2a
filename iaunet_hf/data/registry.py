"""The dataset registry: which builder reads a dataset name, and that builder's options.

The one place that maps names to builders (``synthetic`` included, image or video) and that lists a builder's
options, read from its config dataclass, so loading, ``iaunet-eval`` and the trainer cannot disagree.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from typing import Any

from . import builders
from .reid_builder import ReIDBuilderBase

DATASET_BUILDERS: dict[str, type[ReIDBuilderBase]] = {
    "market1501": builders.Market1501,
    "dukemtmc_reid": builders.DukemtmcReid,
    "msmt17": builders.Msmt17,
    "cifar100": builders.Cifar100,
    "folder": builders.Folder,
    "mars": builders.Mars,
    "dukemtmc_videoreid": builders.DukemtmcVideoreid,
    "cuhk03": builders.Cuhk03,
    "viper": builders.Viper,
    "grid": builders.Grid,
    "ilids": builders.Ilids,
    "prid": builders.Prid,
    "occluded_duke": builders.OccludedDuke,
    "ilidsvid": builders.Ilidsvid,
    "prid2011": builders.Prid2011,
}
DATASET_NAMES: tuple[str, ...] = (*DATASET_BUILDERS, "synthetic")
# BuilderConfig's identity fields, set by the builder itself: never an option.
BUILDER_IDENTITY_FIELDS = frozenset({"name", "version"})


@dataclasses.dataclass(frozen=True)
class BuilderOption:
    """One option of a builder: a field of its config dataclass, with its declared type and default."""

    name: str
    type: Any
    default: Any


def builder_name(dataset: str, video: bool = False) -> str:
    """The ``DATASET_BUILDERS`` key whose builder reads ``dataset``: the name itself, or for ``synthetic`` the
    Market-1501 builder (images) or, with ``video``, the DukeMTMC-VideoReID builder (tracklets)."""
    if dataset == "synthetic":
        return "dukemtmc_videoreid" if video else "market1501"
    if dataset not in DATASET_BUILDERS:
        raise ValueError(f"unknown dataset name {dataset!r}; expected one of {list(DATASET_NAMES)}")
    return dataset


def builder_options(dataset: str, video: bool = False) -> dict[str, BuilderOption]:
    """The options (config fields but ``name``/``version``) of the builder that reads ``dataset``, by name."""
    return dict(_config_options(DATASET_BUILDERS[builder_name(dataset, video)].BUILDER_CONFIG_CLASS))


@functools.cache
def _config_options(config_cls: type) -> tuple[tuple[str, BuilderOption], ...]:
    hints = typing.get_type_hints(config_cls)
    options = []
    for field in dataclasses.fields(config_cls):
        if field.name in BUILDER_IDENTITY_FIELDS:
            continue
        default = field.default
        if field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        option = BuilderOption(field.name, hints.get(field.name, Any), default)
        options.append((field.name, option))
    return tuple(options)
