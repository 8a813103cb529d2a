"""Pid-disjoint ``train`` / ``query`` / ``gallery`` splits of a train-only set, drawn once and stored in a file.

A run that trains on a set without query/gallery holds identities out for evaluation; the split file records the
rows, so ``iaunet-eval`` evaluates on exactly those identities later (``load_identity_split``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import datasets
import numpy as np

from ..atomic_write import write_json_atomic


def split_identities(
    dataset: datasets.Dataset | datasets.DatasetDict,
    query_per_identity: int = 1,
    test_fraction: float = 0.5,
    seed: int = 0,
    split_file: str | Path | None = None,
    source: Mapping[str, Any] | None = None,
) -> datasets.DatasetDict:
    """Split a train-only set into pid-disjoint ``train`` / ``query`` / ``gallery``.

    A ``test_fraction`` of the identities (at least one; only identities with two or more images
    can be tested) goes to the test side; of each test identity ``query_per_identity`` images
    (preferring distinct cameras when camids are known) become queries and the rest the gallery.
    The choice is drawn from ``seed``; with ``split_file`` it is stored there as JSON (row indices
    and pids, plus ``source``, e.g. the dataset names, when given) and reloaded from it on later calls,
    so the split is reproducible even if the dataset's order or the library changes (``load_identity_split``
    applies such a file and never draws). ``label`` is recomputed for the new train split.
    """
    dataset = _train_only(dataset, "split_identities")
    if not 0.0 < test_fraction < 1.0 or query_per_identity < 1:
        raise ValueError(
            f"split_identities: test_fraction={test_fraction}, query_per_identity={query_per_identity}; "
            "expected 0 < test_fraction < 1 and query_per_identity >= 1"
        )
    pids = np.asarray(dataset["pid"])
    camids = np.asarray(dataset["camid"]) if "camid" in dataset.column_names else np.full(len(pids), -1)
    path = Path(split_file) if split_file is not None else None
    if path is not None and path.is_file():
        indices = _read_identity_split(path, pids)
    else:
        indices = _draw_identity_split(pids, camids, query_per_identity, test_fraction, seed)
        if path is not None:
            content = {
                "dataset": "split_identities",
                "seed": seed,
                "num_rows": len(pids),
                "rows": dict(indices),
                "test_pids": sorted({int(pids[i]) for i in indices["query"]}),
            }
            write_json_atomic(path, {**content, **({"source": dict(source)} if source else {})})
    return _apply_identity_split(dataset, indices)


def load_identity_split(
    dataset: datasets.Dataset | datasets.DatasetDict, split_file: str | Path, dataset_name: str | None = None
) -> datasets.DatasetDict:
    """The ``train`` / ``query`` / ``gallery`` split stored in ``split_file`` (by ``split_identities``, e.g.
    the ``eval_split.json`` of an ``iaunet-train --data.missing_eval_splits split`` run), applied to the same
    train-only ``dataset``: the same rows, so the same held-out identities. Nothing is drawn: a missing file,
    a file of another set (row count, identities, or a recorded source other than ``dataset_name``) is an error."""
    path = Path(split_file).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"split file {path} does not exist; expected the JSON file split_identities wrote (a run's "
            "eval_split.json, written by iaunet-train --data.missing_eval_splits split)"
        )
    dataset = _train_only(dataset, f"split file {path}")
    source = _read_split_content(path).get("source") or {}
    trained_on = list(source.get("datasets") or [])
    if dataset_name is not None and trained_on and trained_on != [dataset_name]:
        raise ValueError(
            f"split file {path} holds the held-out split of {trained_on} (data_dir {source.get('data_dir')}); "
            f"expected a split of {dataset_name!r} alone, the set being evaluated"
        )
    return _apply_identity_split(dataset, _read_identity_split(path, np.asarray(dataset["pid"])))


def _train_only(dataset: datasets.Dataset | datasets.DatasetDict, where: str) -> datasets.Dataset:
    if isinstance(dataset, datasets.DatasetDict):
        if list(dataset) != ["train"]:
            raise ValueError(f"{where}: got splits {list(dataset)}; expected a train-only DatasetDict")
        dataset = dataset["train"]
    return dataset


def _apply_identity_split(dataset: datasets.Dataset, indices: dict[str, list[int]]) -> datasets.DatasetDict:
    train = dataset.select(indices["train"])
    labels = {pid: label for label, pid in enumerate(sorted(set(train["pid"])))}
    train = train.remove_columns([c for c in ("label",) if c in train.column_names])
    train = train.add_column("label", [labels[pid] for pid in train["pid"]])
    test_columns = [c for c in ("label", "part_masks") if c in dataset.column_names]
    return datasets.DatasetDict(
        {
            "train": train,
            "query": dataset.select(indices["query"]).remove_columns(test_columns),
            "gallery": dataset.select(indices["gallery"]).remove_columns(test_columns),
        }
    )


def _draw_identity_split(pids, camids, query_per_identity, test_fraction, seed) -> dict[str, list[int]]:
    rng = np.random.default_rng(seed)
    rows_of = {int(pid): np.flatnonzero(pids == pid) for pid in np.unique(pids)}
    testable = [pid for pid, rows in rows_of.items() if len(rows) > query_per_identity]
    num_test = max(1, math.floor(len(rows_of) * test_fraction))
    if len(testable) < num_test or len(rows_of) - num_test < 1:
        raise ValueError(
            f"split_identities: {len(rows_of)} identities, {len(testable)} with more than {query_per_identity} "
            f"image(s); expected at least {num_test} such identities for the test side and one left to train"
        )
    test_pids = set(rng.choice(testable, size=num_test, replace=False).tolist())
    split = {"train": [], "query": [], "gallery": []}
    for pid, rows in rows_of.items():
        if pid not in test_pids:
            split["train"].extend(rows.tolist())
            continue
        order = rows[rng.permutation(len(rows))]
        # distinct cameras first, so a known-camera query has a cross-camera match where one exists
        _, first_of_camera = np.unique(camids[order], return_index=True)
        preferred = order[np.sort(first_of_camera)].tolist()
        queries = (preferred + [r for r in order.tolist() if r not in preferred])[:query_per_identity]
        split["query"].extend(queries)
        split["gallery"].extend(r for r in rows.tolist() if r not in queries)
    return {name: sorted(rows) for name, rows in split.items()}


def _read_split_content(path: Path) -> dict:
    try:
        content = json.loads(path.read_text())
        if not isinstance(content, dict):
            raise TypeError(f"a JSON {type(content).__name__}")
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError) as error:
        raise ValueError(
            f"split_identities: {path} is not a split file ({error}); expected the JSON object split_identities writes"
        ) from error
    return content


def _read_identity_split(path: Path, pids: np.ndarray) -> dict[str, list[int]]:
    content = _read_split_content(path)
    if content.get("dataset") != "split_identities" or content.get("num_rows") != len(pids):
        raise ValueError(
            f"split_identities: split file {path} was made for {content.get('num_rows')} rows of "
            f"{content.get('dataset')!r}; expected a split_identities file for this dataset's {len(pids)} rows"
        )
    try:
        rows = {name: [int(i) for i in content["rows"][name]] for name in ("train", "query", "gallery")}
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(
            f"split_identities: split file {path} has no valid 'rows' ({error!r}); expected lists of row indices "
            "under rows.train, rows.query and rows.gallery"
        ) from error
    if any(not 0 <= i < len(pids) for indices in rows.values() for i in indices):
        raise ValueError(f"split_identities: split file {path} has row indices outside 0..{len(pids) - 1}")
    if set(pids[rows["train"]].tolist()) & set(pids[rows["query"] + rows["gallery"]].tolist()):
        raise ValueError(f"split_identities: split file {path} has identities in both train and test")
    test_pids = sorted({int(pid) for pid in pids[rows["query"]]})
    if "test_pids" in content and content["test_pids"] != test_pids:
        raise ValueError(
            f"split_identities: split file {path} holds out other identities than its query rows have in this "
            "dataset; expected the set the split was made of (the same images in the same order)"
        )
    return rows
