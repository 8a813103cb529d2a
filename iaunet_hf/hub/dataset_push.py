"""Prepared reID `DatasetDict`s (with part masks) as Parquet shards with embedded images, plus a dataset card.

`export_parquet` writes the same layout `DatasetDict.push_to_hub` produces (`data/<split>-XXXXX-of-YYYYY.parquet`
with the image and mask bytes inside, and a README.md whose `configs` point at the shards), so a folder
exported here and a Hub repository pushed by `push_dataset` load the same way:
`load_dataset("parquet", data_files=...)` or `load_dataset(<folder or repo>)`. The card states the source
dataset's license terms and the evaluation protocol, taken from the `card:` section of the dataset's training
recipe (`iaunet_hf/training/recipes/<recipe>.yaml`).

A Hub dataset config holds splits of one schema, but `load_reid_dataset` gives `train` the training-only columns
(`label`, and `part_masks` with masks) that `query`/`gallery` lack. Both functions write every split with the
union of the columns (`align_splits`): a column a split lacks is filled with the builder's own value outside
train, -1 for `label`, and null (None) for anything else, so `load_dataset(repo)` gives back one config,
`default`, with the usual `train`/`query`/`gallery` splits. `push_dataset` checks everything it can
(`check_push`) before its first Hub request: a refused push leaves no repository and no commit behind.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import datasets
from huggingface_hub import CommitInfo, DatasetCard, DatasetCardData, HfApi
from tqdm.auto import tqdm

from .card_facts import card_template, load_card_facts

DATASET_TAGS = ("person-reid", "part-masks", "iaunet")
# What a split lacking a column gets in it: the builders' value outside train (`label` -1), else null.
FILL_VALUES = {"label": -1}
SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")  # the split names push_to_hub accepts (datasets.naming._split_re)


def align_splits(dataset_dict: datasets.DatasetDict) -> datasets.DatasetDict:
    """The splits with one schema: the union of their columns, in the first split's order then the others'.

    A column a split lacks is added, filled with `FILL_VALUES` (null by default). A column two splits both have
    with different features is a ValueError naming it: that is not a difference filling can settle.
    """
    if not isinstance(dataset_dict, datasets.DatasetDict) or not dataset_dict:
        raise ValueError(f"expected a non-empty DatasetDict, got {type(dataset_dict).__name__}")
    features: dict[str, object] = {}
    owner: dict[str, str] = {}
    for split, dataset in dataset_dict.items():
        for name, feature in dataset.features.items():
            if name in features and features[name] != feature:
                raise ValueError(
                    f"column {name!r} is {features[name]} in split {owner[name]!r} but {feature} in split "
                    f"{split!r}; expected the same feature in every split that has it"
                )
            features.setdefault(name, feature)
            owner.setdefault(name, split)
    aligned = {}
    for split, dataset in dataset_dict.items():
        for name in [n for n in features if n not in dataset.column_names]:
            fill = [FILL_VALUES.get(name)] * dataset.num_rows
            dataset = dataset.add_column(name, fill, feature=features[name])
        aligned[split] = dataset.select_columns(list(features)).cast(datasets.Features(features))
    return datasets.DatasetDict(aligned)


def _missing_files(dataset: datasets.Dataset, split: str) -> list[str]:
    """Image files the rows refer to by path (no bytes inside) that do not exist: push_to_hub would fail on them."""
    import pyarrow.compute as pc

    columns = [
        name
        for name, feature in dataset.features.items()
        if isinstance(feature, datasets.Image)
        or (isinstance(feature, datasets.List) and isinstance(feature.feature, datasets.Image))
    ]
    missing = []
    for name in columns:
        for batch in dataset.select_columns([name]).with_format("arrow").iter(batch_size=10_000):
            values = batch[name]
            if hasattr(values.type, "value_type"):  # List(Image): one struct per frame
                values = pc.list_flatten(values)
            paths = pc.filter(pc.struct_field(values, "path"), pc.is_null(pc.struct_field(values, "bytes")))
            missing += [
                f"{split}/{name}: {path}"
                for path in paths.drop_null().to_pylist()
                if "://" not in path and not os.path.isfile(path)
            ]
    return missing


def check_push(
    dataset_dict: datasets.DatasetDict, repo_id: str, recipe: str
) -> tuple[datasets.DatasetDict, DatasetCard]:
    """Everything `push_dataset` can check without the network: the aligned splits and the card to push.

    Raises a ValueError for a repo id the Hub refuses, a split name push_to_hub refuses, splits whose shared
    columns differ, image files referred to by path that are gone, or a recipe without a `card:` section.
    """
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise ValueError(f"repo id {repo_id!r}: {error}") from error
    aligned = align_splits(dataset_dict)
    bad = [split for split in aligned if not SPLIT_NAME.match(str(split))]
    if bad:
        raise ValueError(f"split names {bad} are not accepted by the Hub; expected names like train, query")
    missing = [path for split, dataset in aligned.items() for path in _missing_files(dataset, split)]
    if missing:
        raise ValueError(
            f"{len(missing)} image files are missing, e.g. {missing[:3]}; expected every file to exist"
        )
    return aligned, build_dataset_card(aligned, recipe, repo_id=repo_id)


def _size_category(num_rows: int) -> str:
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if num_rows < limit:
            return label
    return "1M<n<10M"


def build_dataset_card(
    dataset_dict: datasets.DatasetDict,
    recipe: str,
    *,
    repo_id: str | None = None,
) -> DatasetCard:
    """The dataset card: source license terms, protocol, columns, with `configs` pointing at `data/` shards."""
    facts = load_card_facts(recipe)
    if facts is None:
        raise ValueError(
            f"recipe {recipe} has no card section; expected dataset_name, protocol and dataset_terms under 'card:'"
        )
    columns = next(iter(dataset_dict.values())).features
    num_rows = sum(split.num_rows for split in dataset_dict.values())
    has_masks = "part_masks" in columns
    card_data = DatasetCardData(
        pretty_name=f"{facts.dataset_name} for IAUnet" + (" (with part masks)" if has_masks else ""),
        license="other",
        license_name=f"{facts.dataset}-terms",
        task_categories=[
            "image-classification" if facts.task == "classification" else "image-feature-extraction"
        ],
        tags=list(DATASET_TAGS),
        size_categories=[_size_category(num_rows)],
        source_datasets=[facts.dataset],
        configs=[
            {
                "config_name": "default",
                "data_files": [{"split": split, "path": f"data/{split}-*"} for split in dataset_dict],
            }
        ],
    )
    return DatasetCard.from_template(
        card_data,
        template_str=card_template("dataset_card.md"),
        repo_id=repo_id or f"<org>/{facts.recipe}-iaunet",
        dataset_name=facts.dataset_name,
        dataset_terms=facts.dataset_terms,
        protocol=facts.protocol,
        splits={split: ds.num_rows for split, ds in dataset_dict.items()},
        columns={name: str(feature) for name, feature in columns.items()},
        has_masks=has_masks,
    )


def _embedded(dataset: datasets.Dataset) -> datasets.Dataset:
    """Images given by path become bytes inside the table, as push_to_hub does before writing Parquet.

    `Dataset.to_parquet` has no option for this, so the same `datasets.table.embed_table_storage` step that
    `push_to_hub` applies is used here.
    """
    from datasets.table import embed_table_storage

    return dataset.with_format("arrow").map(embed_table_storage, batched=True, keep_in_memory=True)


def export_parquet(
    dataset_dict: datasets.DatasetDict,
    output_dir: str | Path,
    recipe: str,
    *,
    max_shard_rows: int = 10_000,
    repo_id: str | None = None,
) -> dict[str, list[Path]]:
    """Write `dataset_dict` as `output_dir/data/<split>-XXXXX-of-YYYYY.parquet` plus `output_dir/README.md`."""
    if not isinstance(dataset_dict, datasets.DatasetDict) or not dataset_dict:
        raise ValueError(f"export_parquet needs a non-empty DatasetDict, got {type(dataset_dict).__name__}")
    dataset_dict = align_splits(dataset_dict)
    output = Path(output_dir)
    (output / "data").mkdir(parents=True, exist_ok=True)
    shards: dict[str, list[Path]] = {}
    for split, dataset in dataset_dict.items():
        num_shards = max(1, math.ceil(dataset.num_rows / max_shard_rows))
        shards[split] = []
        for index in tqdm(range(num_shards), desc=f"parquet {split}", unit="shard"):
            shard = _embedded(dataset.shard(num_shards, index, contiguous=True))
            path = output / "data" / f"{split}-{index:05d}-of-{num_shards:05d}.parquet"
            shard.to_parquet(str(path))
            shards[split].append(path)
    build_dataset_card(dataset_dict, recipe, repo_id=repo_id).save(output / "README.md")
    return shards


def push_dataset(
    dataset_dict: datasets.DatasetDict,
    repo_id: str,
    recipe: str,
    *,
    private: bool | None = None,
    token: str | None = None,
    commit_message: str | None = None,
) -> CommitInfo:
    """Check, then create the dataset repo with its card and upload the shards with `DatasetDict.push_to_hub`.

    `check_push` runs first and aligns the splits' columns (`align_splits`); a push it refuses makes no Hub
    request at all. The card goes before the shards so that `push_to_hub`, which merges its `dataset_info` into
    the existing README.md, keeps the license terms and protocol text.
    """
    dataset_dict, card = check_push(dataset_dict, repo_id, recipe)
    api = HfApi(endpoint=datasets.config.HF_ENDPOINT, token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    api.upload_file(
        path_or_fileobj=str(card).encode("utf-8"),
        path_in_repo="README.md",
        repo_id=repo_id,
        repo_type="dataset",
        commit_message="Add dataset card",
    )
    return dataset_dict.push_to_hub(
        repo_id,
        private=private,
        token=token,
        commit_message=commit_message or f"Upload {recipe} with part masks",
        embed_external_files=True,
    )
