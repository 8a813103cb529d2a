"""The one metadata schema every gallery backend stores as native columns, and the checks on what is added.

Every row has a stable ``key`` (the resumable embed skips keys already present) and the columns a reID search
filters on. A column a row does not know keeps its default (-1 for ids, NaN for the timestamp, "" for text), so a
filter such as ``pid = 3`` never matches an unknown pid by accident.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..evaluation.exact_search import check_finite

# name -> (kind, default); kind is "int" (int64), "float" (float64) or "text" (utf-8 string)
COLUMNS: dict[str, tuple[str, Any]] = {
    "key": ("text", ""),
    "pid": ("int", -1),
    "camid": ("int", -1),
    "timestamp": ("float", float("nan")),
    "source": ("text", ""),
    "track_id": ("int", -1),
    "frame": ("int", -1),
    "path": ("text", ""),
}
VECTOR_COLUMN = "vector"
NUMPY_TYPES = {"int": np.int64, "float": np.float64, "text": object}

Metadata = Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]] | None


def unit_vectors(embeddings: Any, dim: int | None, name: str) -> np.ndarray:
    """(N, dim) float32 rows scaled to unit length; refuses a wrong shape, dimension or a non-finite row."""
    if isinstance(embeddings, torch.Tensor):
        embeddings = embeddings.detach().float().cpu().numpy()
    array = np.asarray(embeddings)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.floating):
        raise ValueError(
            f"{name}: expected a 2-D float (num_items, dim) array, found {array.shape} {array.dtype}"
        )
    if dim is not None and array.shape[1] != dim:
        raise ValueError(f"{name}: expected dimension {dim}, found {array.shape[1]}")
    check_finite(array, name)
    array = array.astype(np.float32, copy=False)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return array / np.maximum(norms, 1e-12)


def metadata_columns(metadata: Metadata, num_rows: int) -> dict[str, np.ndarray]:
    """Every schema column as a numpy array of ``num_rows``: given values typed, the rest defaults.

    ``metadata`` is a mapping of column -> values or one mapping per row; rows without a ``key`` get a random one.
    """
    given = _as_column_mapping(metadata, num_rows)
    unknown = sorted(set(given) - set(COLUMNS))
    if unknown:
        raise ValueError(f"metadata: unknown column(s) {unknown}; expected some of {list(COLUMNS)}")
    columns = {}
    for name, (kind, default) in COLUMNS.items():
        values = given.get(name)
        if values is None:
            values = [uuid.uuid4().hex for _ in range(num_rows)] if name == "key" else [default] * num_rows
        if len(values) != num_rows:
            raise ValueError(
                f"metadata: column {name!r} has {len(values)} values, expected {num_rows} (one per embedding)"
            )
        columns[name] = _typed(name, kind, values)
    keys = columns["key"]
    if len(set(keys.tolist())) != num_rows or any(key == "" for key in keys):
        raise ValueError("metadata: expected a unique, non-empty 'key' per row")
    return columns


def _as_column_mapping(metadata: Metadata, num_rows: int) -> dict[str, Sequence[Any]]:
    if metadata is None:
        return {}
    if isinstance(metadata, Mapping):
        return dict(metadata)
    rows = list(metadata)
    if len(rows) != num_rows:
        raise ValueError(f"metadata: expected {num_rows} entries (one per embedding), found {len(rows)}")
    names = {name for row in rows for name in row}
    return {name: [row.get(name, COLUMNS.get(name, ("", None))[1]) for row in rows] for name in names}


def _typed(name: str, kind: str, values: Sequence[Any]) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.cpu().numpy()
    try:
        if kind == "text":
            return np.array([str(value) for value in values], dtype=object)
        return np.asarray(values, dtype=NUMPY_TYPES[kind])
    except (TypeError, ValueError) as error:
        raise ValueError(f"metadata: column {name!r} expected {kind} values ({error})") from error


def rows_of(columns: Mapping[str, np.ndarray], positions: Sequence[int]) -> list[dict[str, Any]]:
    """Plain-Python dicts (one per position) of the schema columns."""
    return [
        {
            name: columns[name][i].item() if kind != "text" else columns[name][i]
            for name, (kind, _) in COLUMNS.items()
        }
        for i in positions
    ]
