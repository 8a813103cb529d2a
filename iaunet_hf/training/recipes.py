"""Recipes: YAML files to ``TrainingConfig``, ablation recipes merged over their base, ``--key value`` overrides.

A base recipe (``recipes/<name>.yaml``) is a whole run. An ablation recipe (``recipes/ablations/<name>.yaml``)
holds ``base: <recipe>``, ``paper_row: "<Table ...>"`` and only the sections it changes, merged key by key over
the base. Values are typed by YAML, then checked against the dataclass field they land in (a command-line value
is read as YAML too, except where the field wants a string and YAML would make it something else, e.g. ``no``).
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from .config import OPEN_SECTIONS, RECIPE_VERSION, TrainingConfig, builder_option_fields

RECIPES_DIR = Path(__file__).with_name("recipes")
ABLATIONS_DIR = RECIPES_DIR / "ablations"


class RecipeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that reads ``1e-3`` as a float, as YAML 1.2 does (YAML 1.1 needs ``1.0e-3``)."""


RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d[\d_]*)?(?:\.\d*)?[eE][-+]?\d+$|^[-+]?\d[\d_]*\.\d*$|^[-+]?\.\d+$"),
    list("-+0123456789."),
)


def available_recipes() -> list[str]:
    """Names of the recipes shipped with the package: base recipes, then ablation recipes."""
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml")) + sorted(
        p.stem for p in ABLATIONS_DIR.glob("*.yaml")
    )


def find_recipe(name_or_path: str | Path) -> Path:
    """The file of a shipped recipe name (base or ablation) or of a YAML path."""
    path = Path(name_or_path)
    if not path.suffix:
        for candidate in (RECIPES_DIR / f"{name_or_path}.yaml", ABLATIONS_DIR / f"{name_or_path}.yaml"):
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


# --- typing values by their field --------------------------------------------------------------------------
def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def coerce(value: Any, annotation: Any, where: str) -> Any:
    """``value`` as the field's declared type: ints widen to float, tuples to lists, paths to str; else an error."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in (arg for arg in args if arg is not type(None)):
            try:
                return coerce(value, option, where)
            except ValueError:
                continue
    elif origin in (list, tuple) and isinstance(value, (list, tuple)):
        item = args[0] if args else Any
        return [coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    elif origin is dict and isinstance(value, dict):
        return dict(value)
    elif annotation is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    elif annotation is str and isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    elif (
        origin is None
        and isinstance(annotation, type)
        and isinstance(value, annotation)
        and not (annotation is int and isinstance(value, bool))
    ):
        return value
    raise ValueError(f"{where} is {value!r}; expected {_type_name(annotation)}")


def parse_cli_value(text: str, annotation: Any) -> Any:
    """A command-line string read as YAML (``[2, 3]``, ``null``, ``1e-4``); the raw string where the field wants
    a string and YAML reads something else (``--mixed-precision no``, ``--data.name_pattern '[0-9]+'``)."""
    try:
        value = yaml.load(text, Loader=RecipeLoader)
    except yaml.YAMLError:
        return text
    try:
        coerce(value, annotation, "value")
    except ValueError:
        try:
            return coerce(text, annotation, "value")
        except ValueError:
            pass
    return value


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
