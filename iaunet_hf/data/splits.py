"""Split protocols: seeded random splits stored in a split file, and a helper that evaluates every split of a
benchmark and reports mean ± std (pid-disjoint splits of a train-only set: ``identity_splits``).

The small benchmarks (VIPeR, i-LIDS, PRID, PRID2011) are evaluated over 10 random
train/test partitions of their identities. The partitions are drawn once from ``seed`` with
numpy's ``default_rng`` and written to a JSON split file; later loads read that file, so the
splits of a published number can be shipped and reproduced exactly (the file is part of the
prepared cache's key, see ``cache_key``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from ..atomic_write import write_json_atomic
from .identity_splits import load_identity_split, split_identities
from .reid_builder import ReIDConfig

__all__ = [
    "SPLIT_FILE_VERSION",
    "SplitProtocolConfig",
    "choose_split",
    "default_split_file",
    "evaluate_splits",
    "format_split_summary",
    "load_identity_split",
    "load_or_create_splits",
    "protocol_splits",
    "random_partitions",
    "split_identities",
    "write_json_atomic",
]

SPLIT_FILE_VERSION = 1


@dataclasses.dataclass
class SplitProtocolConfig(ReIDConfig):
    """Options of a multi-split benchmark (names as in torchreid).

    Attributes:
        split_id: which split to load (0-based).
        seed: seed of the random splits (sets whose splits come with the data ignore it).
        split_file: JSON file holding the random splits; default
            ``<dataset folder>/iaunet_splits_<dataset>_seed<seed>.json``. Created on first use, read afterwards.
    """

    split_id: int = 0
    seed: int = 0
    split_file: str | None = None


def default_split_file(root: Path, dataset: str, seed: int) -> Path:
    return root / f"iaunet_splits_{dataset}_seed{seed}.json"


def protocol_splits(
    config: SplitProtocolConfig, root: Path, dataset: str, make: Callable[[np.random.Generator], list[dict]]
) -> list[dict]:
    """The stored random splits of a builder's config (its ``split_file`` or the default one)."""
    path = (
        Path(config.split_file).expanduser()
        if config.split_file
        else default_split_file(root, dataset, config.seed)
    )
    return load_or_create_splits(path, dataset=dataset, seed=config.seed, make=make)


def load_or_create_splits(
    path: Path, *, dataset: str, seed: int, make: Callable[[np.random.Generator], list[dict]]
) -> list[dict]:
    """The splits stored in ``path``; created from ``make(np.random.default_rng(seed))`` when absent."""
    if path.is_file():
        try:
            content = json.loads(path.read_text())
            splits = content["splits"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise ValueError(
                f"{dataset}: split file {path} is not a split file ({error}); expected JSON with a 'splits' list"
            ) from error
        if content.get("dataset") != dataset:
            raise ValueError(
                f"{dataset}: split file {path} holds splits of {content.get('dataset')!r}; expected {dataset!r}"
            )
        return splits
    splits = make(np.random.default_rng(seed))
    try:
        write_json_atomic(
            path, {"dataset": dataset, "seed": seed, "version": SPLIT_FILE_VERSION, "splits": splits}
        )
    except OSError as error:
        raise OSError(
            f"{dataset}: cannot write the split file {path} ({error}); pass split_file= a writable path"
        ) from error
    return splits


def choose_split(splits: Sequence, split_id: int, dataset: str):
    if not 0 <= split_id < len(splits):
        raise ValueError(f"{dataset}: split_id is {split_id}; expected 0..{len(splits) - 1}")
    return splits[split_id]


def random_partitions(
    pids: Sequence[int], num_train: int, num_splits: int, rng: np.random.Generator
) -> list[dict]:
    """``num_splits`` random train/test partitions of ``pids`` (sorted lists of pids)."""
    partitions = []
    for _ in range(num_splits):
        order = rng.permutation(len(pids))
        partitions.append(
            {
                "train": sorted(int(pids[i]) for i in order[:num_train]),
                "test": sorted(int(pids[i]) for i in order[num_train:]),
            }
        )
    return partitions


def evaluate_splits(
    evaluate_split: Callable[[int], Mapping[str, float]], split_ids: Sequence[int] | int
) -> dict[str, dict]:
    """Run ``evaluate_split(split_id)`` for every split and summarise each metric as mean ± std.

    ``evaluate_split`` trains/evaluates one split and returns metrics (e.g. ``{"mAP": ..., "rank1": ...}``);
    ``split_ids`` is a list or a count (``range(n)``). Returns ``{"per_split": {id: metrics},
    "mean": {...}, "std": {...}, "num_splits": n}`` with the population standard deviation, and
    ``format_split_summary`` prints it.
    """
    ids = list(range(split_ids)) if isinstance(split_ids, int) else list(split_ids)
    if not ids:
        raise ValueError("evaluate_splits: split_ids is empty; expected at least one split")
    per_split = {split_id: dict(evaluate_split(split_id)) for split_id in ids}
    names = list(per_split[ids[0]])
    for split_id, metrics in per_split.items():
        if list(metrics) != names:
            raise ValueError(
                f"evaluate_splits: split {split_id} returned metrics {list(metrics)}; expected {names} like split {ids[0]}"
            )
    values = {name: np.array([float(per_split[i][name]) for i in ids]) for name in names}
    return {
        "per_split": per_split,
        "mean": {name: float(v.mean()) for name, v in values.items()},
        "std": {name: float(v.std()) for name, v in values.items()},
        "num_splits": len(ids),
    }


def format_split_summary(summary: Mapping) -> str:
    """``mAP 71.20 ± 1.30 | rank1 ...`` over the splits (metrics in percent when they are fractions)."""
    parts = []
    for name, mean in summary["mean"].items():
        std = summary["std"][name]
        scale = 100.0 if -1.0 <= mean <= 1.0 and std <= 1.0 else 1.0
        parts.append(f"{name} {mean * scale:.2f} ± {std * scale:.2f}")
    return f"{summary['num_splits']} splits: " + " | ".join(parts)
