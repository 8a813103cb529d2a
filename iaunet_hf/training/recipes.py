"""Recipes: YAML files to ``TrainingConfig``, ablation recipes merged over their base, ``--key value`` overrides.

A base recipe (``recipes/<name>.yaml``) is a whole run. An ablation recipe (``recipes/ablations/<name>.yaml``)
holds ``base: <recipe>``, ``paper_row: "<Table ...>"`` and only the sections it changes, merged key by key over
the base. The strong baselines (``recipes/baselines/``: BoT, AGW, SBS, SBS + IAU) are recipes of either shape,
kept apart so that each dataset's card facts stay those of its paper recipe. Values are typed by YAML, then checked against the dataclass field they land in (a command-line value
is read as YAML too, except where the field wants a string and YAML would make it something else, e.g. ``no``).
"""

from __future__ import annotations

import dataclasses
import os
import typing
from pathlib import Path
from typing import Any

import yaml

from ..overrides import RecipeLoader, coerce, parse_cli_value
from .config import OPEN_SECTIONS, RECIPE_VERSION, TrainingConfig
from .open_sections import builder_option_fields

RECIPES_DIR = Path(__file__).with_name("recipes")
ABLATIONS_DIR = RECIPES_DIR / "ablations"
BASELINES_DIR = RECIPES_DIR / "baselines"
RECIPE_DIRS = (RECIPES_DIR, ABLATIONS_DIR, BASELINES_DIR)


def available_recipes() -> list[str]:
    """Names of the recipes shipped with the package: base recipes, ablation recipes, then strong baselines."""
    return [name for folder in RECIPE_DIRS for name in sorted(p.stem for p in folder.glob("*.yaml"))]


def find_recipe(name_or_path: str | Path) -> Path:
    """The file of a shipped recipe name (base or ablation) or of a YAML path."""
    path = Path(name_or_path)
    if not path.suffix:
        for candidate in (folder / f"{name_or_path}.yaml" for folder in RECIPE_DIRS):
            if candidate.is_file():
                return candidate
        raise ValueError(
            f"unknown recipe {str(name_or_path)!r}; expected one of {available_recipes()} or a YAML file"
        )
    if not path.is_file():
        raise FileNotFoundError(
            f"recipe file {path} does not exist; expected a YAML recipe or a shipped recipe name"
        )
    return path


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=RecipeLoader) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"recipe {path}: not valid YAML ({error})".replace("\n", " ")) from None
    if not isinstance(raw, dict):
        raise ValueError(f"recipe {path}: expected a mapping at the top level, found {type(raw).__name__}")
    return raw


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``update`` over ``base``: mappings merged key by key, anything else (lists too) replaced."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_recipe(name_or_path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The nested data of a recipe, an ablation recipe already merged over its ``base``."""
    path = find_recipe(name_or_path)
    if path in _seen:
        raise ValueError(
            f"recipe {path}: its base chain loops back to itself ({' -> '.join(map(str, _seen))})"
        )
    raw = _load_yaml(path)
    base = raw.get("base")
    if base is not None:
        base_raw = read_recipe(base, (*_seen, path))
        merged = merge(base_raw, raw)
        merged["name"] = raw.get("name", path.stem)
        return _without_stale_card(base_raw, merged, raw)
    if raw.get("version") != RECIPE_VERSION:
        raise ValueError(f"recipe {path}: version is {raw.get('version')!r}; expected {RECIPE_VERSION}")
    return raw


def _fields(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _sections() -> dict[str, type]:
    return {name: cls for name, cls in _fields(TrainingConfig).items() if dataclasses.is_dataclass(cls)}


def field_annotation(section: str | None, name: str, raw: dict[str, Any]) -> Any:
    """The declared type of ``section.name``; for an open section's option, the builder's type (data) or Any."""
    if section is None:
        return _fields(TrainingConfig)[name]
    declared = _fields(_sections()[section])
    if name in declared and name != "options":
        return declared[name]
    if section == "data":
        datasets = raw.get("data", {}).get("dataset", "market1501")
        fields = builder_option_fields(datasets if isinstance(datasets, str) else datasets[0]) or {}
        return fields.get(name, Any)
    return Any


def config_from_dict(raw: dict[str, Any], source: str = "recipe") -> TrainingConfig:
    """Build and validate a ``TrainingConfig`` from nested plain data, rejecting unknown sections and keys."""
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: expected a mapping of sections, found {type(raw).__name__}")
    top, sections = _fields(TrainingConfig), _sections()
    unknown = sorted(set(raw) - set(top))
    if unknown:
        raise ValueError(f"{source}: unknown key {unknown[0]!r}; expected some of {sorted(top)}")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in sections:
            values[key] = coerce(value, top[key], f"{source}: {key}")
            continue
        section = value or {}
        if not isinstance(section, dict):
            raise ValueError(f"{source}: section {key!r} is {section!r}; expected a mapping of its fields")
        declared = {name for name in _fields(sections[key]) if name != "options"}
        unknown = sorted(set(section) - declared)
        if unknown and key not in OPEN_SECTIONS:
            raise ValueError(f"{source}: unknown key {key}.{unknown[0]}; expected some of {sorted(declared)}")
        kwargs = {
            name: coerce(v, field_annotation(key, name, raw), f"{source}: {key}.{name}")
            for name, v in section.items()
        }
        if key in OPEN_SECTIONS:
            kwargs = {name: kwargs[name] for name in declared & set(kwargs)} | {
                "options": {name: kwargs[name] for name in unknown}
            }
        try:
            values[key] = sections[key](**kwargs)
        except ValueError as error:  # a section's own check (e.g. ReIDLossConfig's)
            raise ValueError(f"{source}: {key}: {error}") from None
    config = TrainingConfig(**values)
    config.validate()
    return config


def resolve_key(key: str) -> tuple[str | None, str]:
    """(section, field) of an override key: ``optimizer.lr``; ``model.<any timm keyword>``; a bare ``lr`` or
    ``mixed-precision`` naming a field of one section only. Raises ``ValueError`` for unknown or ambiguous keys."""
    key = key.lstrip("-").replace("-", "_")
    top, sections = _fields(TrainingConfig), _sections()
    section, dot, name = key.partition(".")
    if dot:
        if section not in sections:
            raise ValueError(
                f"unknown override --{key}: no section {section!r}; expected one of {sorted(sections)}"
            )
        fields = set(_fields(sections[section])) - {"options"}
        if name not in fields and section not in OPEN_SECTIONS:
            raise ValueError(
                f"unknown override --{key}: section {section!r} has no field {name!r}; expected one of {sorted(fields)}"
            )
        return section, name
    if key in top and key not in sections:
        return None, key
    owners = [s for s, cls in sections.items() if key in _fields(cls) and key != "options"]
    if not owners:
        raise ValueError(
            f"unknown override --{key}; expected --SECTION.FIELD with a section of {sorted(sections)}"
        )
    if len(owners) > 1:
        raise ValueError(
            f"ambiguous override --{key}: found in sections {owners}; write it as "
            + " or ".join(f"--{owner}.{key}" for owner in owners)
        )
    return owners[0], key


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of the nested recipe data with ``{key: value}`` overrides applied; string values are read as the
    command line gives them (``parse_cli_value``), other values are taken as they are."""
    merged = {key: dict(value) if isinstance(value, dict) else value for key, value in raw.items()}
    resolved = [(resolve_key(key), value) for key, value in overrides.items()]
    # declared fields first, so a data option is typed by the dataset the overrides choose
    resolved.sort(key=lambda item: item[0][0] in OPEN_SECTIONS)
    for (section, name), value in resolved:
        if isinstance(value, str):
            value = parse_cli_value(value, field_annotation(section, name, merged))
        if section is None:
            merged[name] = value
        else:
            merged[section] = dict(merged.get(section) or {}, **{name: value})
    return merged


def _dataset(raw: dict[str, Any]) -> Any:
    return (raw.get("data") or {}).get("dataset")


def _without_stale_card(
    before: dict[str, Any], after: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    """``card:`` holds facts of the recipe's dataset: drop it when the dataset changed and no new card came."""
    if _dataset(after) != _dataset(before) and "card" not in changes:
        after = {**after, "card": None}
    return after


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity where the platform tells it, as torch's DataLoader counts)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def fit_workers_to_machine(raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with ``data.num_workers`` lowered to the machine's CPUs, unless ``overrides`` set it: a recipe's
    worker count is a default for a large machine, a value the user gives is kept as given."""
    if any(resolve_key(key) == ("data", "num_workers") for key in overrides):
        return raw
    data = raw.get("data") or {}
    workers, cpus = data.get("num_workers"), available_cpus()
    if isinstance(workers, int) and not isinstance(workers, bool) and workers > cpus:
        return {**raw, "data": {**data, "num_workers": cpus}}
    return raw


def load_config(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> TrainingConfig:
    """A recipe (shipped name such as ``"market1501"``, an ablation name, or a YAML path) with overrides applied
    and validated. A recipe's ``card:`` is dropped when the overrides train on another dataset; its
    ``data.num_workers`` is lowered to the machine's CPUs unless the overrides set it."""
    recipe = read_recipe(name_or_path)
    overrides = overrides or {}
    raw = apply_overrides(recipe, overrides)
    raw = _without_stale_card(recipe, raw, {"card": None} if "card" in overrides else {})
    raw = fit_workers_to_machine(raw, overrides)
    return config_from_dict(raw, source=f"recipe {name_or_path}")


def save_config(config: TrainingConfig, path: str | Path) -> None:
    """Write the resolved config as YAML next to the run, so a run records exactly what it trained with."""
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8")
