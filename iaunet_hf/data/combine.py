"""Training on several reID sets at once: one train split with disjoint labels and a ``source`` column.

Identities of different sets are different people even when their pids coincide (Market's 0002
is not Duke's 0002), so each set's labels are shifted past the previous sets' and every row
records the set it came from. Test splits are not combined: cross-domain evaluation runs on each
set's own query/gallery.
"""

from __future__ import annotations

from collections.abc import Mapping

import datasets


def combine_reid_datasets(dataset_dicts: Mapping[str, datasets.DatasetDict]) -> datasets.DatasetDict:
    """``{"train": ...}``: the train splits of ``dataset_dicts`` (name -> DatasetDict) concatenated.

    ``label`` is made disjoint across sets (set k's labels follow set k-1's), a ``source`` column
    holds the set's name, and ``part_masks`` is kept (None for sets without masks) when any set has it.
    All sets must be of one kind (images or tracklets).
    """
    if not dataset_dicts:
        raise ValueError("combine_reid_datasets: no datasets given; expected a mapping name -> DatasetDict")
    trains = {}
    for name, dataset_dict in dataset_dicts.items():
        if "train" not in dataset_dict or "label" not in dataset_dict["train"].column_names:
            raise ValueError(f"combine_reid_datasets: {name!r} has no train split with a 'label' column")
        trains[name] = dataset_dict["train"]
    kinds = {name: "frames" in train.column_names for name, train in trains.items()}
    if len(set(kinds.values())) > 1:
        raise ValueError(f"combine_reid_datasets: mixes image and tracklet sets {kinds}; expected one kind")
    mask_feature = next(
        (t.features["part_masks"] for t in trains.values() if "part_masks" in t.column_names), None
    )
    parts, offset = [], 0
    for name, train in trains.items():
        if mask_feature is not None and "part_masks" not in train.column_names:
            train = train.add_column("part_masks", [None] * train.num_rows, feature=mask_feature)
        labels = train["label"]
        num_labels = max(labels, default=-1) + 1
        label_feature = train.features["label"]
        # add_column joins an in-memory column: no rewrite of the (possibly embedded) images
        train = train.remove_columns("label").add_column(
            "label", [label + offset for label in labels], feature=label_feature
        )
        train = train.add_column("source", [name] * train.num_rows)
        parts.append(train)
        offset += num_labels
    columns = list(parts[0].column_names)
    parts = [part.select_columns(columns) for part in parts]
    parts = [part if part.features == parts[0].features else part.cast(parts[0].features) for part in parts]
    return datasets.DatasetDict({"train": datasets.concatenate_datasets(parts)})
