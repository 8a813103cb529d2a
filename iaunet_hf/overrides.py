"""Command-line overrides, one grammar and one typing rule for every tool: ``--key value`` / ``--key=value``
pairs (``iaunet-train``'s ``--section.field``, ``iaunet-eval``'s and ``make_part_masks.py``'s ``--data.OPTION``),
each value read as YAML and typed by the field it sets."""

from __future__ import annotations

import os
import re
import types
import typing
from collections.abc import Sequence
from typing import Any

import yaml

from .data.registry import builder_options


class RecipeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that reads ``1e-3`` as a float, as YAML 1.2 does (YAML 1.1 needs ``1.0e-3``)."""


RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d[\d_]*)?(?:\.\d*)?[eE][-+]?\d+$|^[-+]?\d[\d_]*\.\d*$|^[-+]?\.\d+$"),
    list("-+0123456789."),
)


def override_pairs(tokens: Sequence[str]) -> list[tuple[str, str]]:
    """``["--a.b", "1", "--c=2"]`` -> ``[("a.b", "1"), ("c", "2")]``, in the order given."""
    pairs: list[tuple[str, str]] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if not token.startswith("--") or token == "--":
            raise ValueError(f"unexpected argument {token!r}; expected --key value pairs")
        key, has_value, value = token[2:].partition("=")
        if not has_value:
            if index + 1 >= len(tokens) or tokens[index + 1].startswith("--"):
                raise ValueError(f"override --{key} has no value; expected a value: --{key} VALUE")
            value = tokens[index + 1]
            index += 1
        pairs.append((key, value))
        index += 1
    return pairs


def parse_overrides(tokens: Sequence[str]) -> dict[str, str]:
    """``["--a.b", "1", "--c=2"]`` -> ``{"a.b": "1", "c": "2"}``; values are typed later by the config."""
    return dict(override_pairs(tokens))


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


def typed_data_options(
    datasets: Sequence[str], options: dict[str, str], video: bool = False
) -> dict[str, Any]:
    """``{"name_pattern": "..."}`` typed by the first of ``datasets`` whose builder has the option (an option none
    has is read as YAML and left to the builder, which names it)."""
    known = [builder_options(name, video) for name in datasets]
    typed = {}
    for key, text in options.items():
        field = next((found[key] for found in known if key in found), None)
        typed[key] = parse_cli_value(text, field.type if field else Any)
    return typed
