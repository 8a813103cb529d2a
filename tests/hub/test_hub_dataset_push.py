"""Datasets with part masks: Parquet shards with embedded images + card, and `DatasetDict.push_to_hub`."""

import numpy as np
import pytest
from datasets import Dataset, DatasetDict, Features, Image, Value, load_dataset
from hub_server import TEST_TOKEN
from huggingface_hub import DatasetCard, snapshot_download
from PIL import Image as PILImage

from iaunet_hf.data.part_masks import encode_masks_png
from iaunet_hf.hub.dataset_push import export_parquet, push_dataset

FEATURES = Features(
    {
        "image": Image(),
        "pid": Value("int32"),
        "camid": Value("int32"),
        "path": Value("string"),
        "label": Value("int32"),
        "part_masks": Image(),
    }
)


@pytest.fixture
def market_like(tmp_path):
    """A tiny Market-1501-style DatasetDict whose images and masks are files on disk (referenced by path)."""
    rng = np.random.default_rng(0)
    root = tmp_path / "Market-1501-v15.09.15"
    splits = {
        "train": [(2, 1, 451), (2, 3, 1201), (7, 2, 633), (7, 5, 1502)],
        "query": [(1, 1, 1001)],
        "gallery": [(1, 4, 2011), (0, 2, 3009)],
    }
    folders = {"train": "bounding_box_train", "query": "query", "gallery": "bounding_box_test"}
    dataset_dict = {}
    for split, records in splits.items():
        (root / folders[split]).mkdir(parents=True)
        rows = {name: [] for name in FEATURES}
        for pid, camid, frame in records:
            name = f"{pid:04d}_c{camid}s1_{frame:06d}_00.jpg"
            image_path = root / folders[split] / name
            PILImage.fromarray(rng.integers(0, 255, (64, 32, 3), dtype=np.uint8)).save(image_path, quality=90)
            mask_path = None
            if split == "train":
                mask_path = root / "part_masks" / f"{name[:-4]}.png"
                mask_path.parent.mkdir(exist_ok=True)
                mask_path.write_bytes(encode_masks_png(rng.random((4, 64, 32)) > 0.5))
            rows["image"].append(str(image_path))
            rows["part_masks"].append(str(mask_path) if mask_path else None)
            rows["pid"].append(pid)
            rows["camid"].append(camid - 1)
            rows["path"].append(f"{folders[split]}/{name}")
            rows["label"].append({2: 0, 7: 1}.get(pid, -1))
        dataset_dict[split] = Dataset.from_dict(rows, features=FEATURES)
    return DatasetDict(dataset_dict), root


def raw_rows(dataset):
    """Rows with images as their encoded bytes, so equality means byte-identical images and masks."""
    dataset = dataset.cast_column("image", Image(decode=False)).cast_column("part_masks", Image(decode=False))
    return [
        {
            **row,
            "image": row["image"]["bytes"],
            "part_masks": row["part_masks"] and row["part_masks"]["bytes"],
        }
        for row in dataset
    ]


def original_rows(dataset):
    from pathlib import Path

    return [
        {
            **row,
            "image": Path(row["image"]["path"]).read_bytes(),
            "part_masks": row["part_masks"] and Path(row["part_masks"]["path"]).read_bytes(),
        }
        for row in dataset.cast_column("image", Image(decode=False)).cast_column(
            "part_masks", Image(decode=False)
        )
    ]


def test_parquet_round_trip_embeds_images_and_masks(market_like, tmp_path):
    dataset_dict, root = market_like
    expected = {split: original_rows(ds) for split, ds in dataset_dict.items()}
    shards = export_parquet(dataset_dict, tmp_path / "export", "market1501", max_shard_rows=3)
    assert [p.name for p in shards["train"]] == [
        "train-00000-of-00002.parquet",
        "train-00001-of-00002.parquet",
    ]

    for path in root.rglob("*.*"):  # the shards must not depend on the source files any more
        path.unlink()
    loaded = load_dataset(
        "parquet",
        data_files={split: [str(p) for p in paths] for split, paths in shards.items()},
        cache_dir=str(tmp_path / "datasets_cache"),
    )
    for split in dataset_dict:
        assert raw_rows(loaded[split]) == expected[split]
    assert loaded["train"].features["part_masks"] == Image()

    card = DatasetCard.load(tmp_path / "export" / "README.md")
    assert card.data.license == "other" and card.data.source_datasets == ["market1501"]
    assert "non-commercial research" in card.text and "single-query protocol" in card.text
    assert {c["path"] for c in card.data.configs[0]["data_files"]} == {
        "data/train-*",
        "data/query-*",
        "data/gallery-*",
    }


# huggingface_hub's LFS PUT passes a file object as `data=`, which its HTTP client deprecates; not ours to fix.
@pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")
def test_push_to_hub_through_the_test_server(market_like, hub, tmp_path):
    hub_server = hub  # datasets and huggingface_hub pointed at the loopback server (conftest)
    dataset_dict, _ = market_like
    expected = {split: original_rows(ds) for split, ds in dataset_dict.items()}

    push_dataset(dataset_dict, "iaunet-org/market1501-masks", "market1501", private=True)

    files = hub_server.files("iaunet-org/market1501-masks", repo_type="dataset")
    assert {"data/train-00000-of-00001.parquet", "data/query-00000-of-00001.parquet", "README.md"} <= set(
        files
    )
    card = DatasetCard(files["README.md"].decode())
    assert "dataset_info" in card.data.to_dict()  # merged in by push_to_hub ...
    assert "non-commercial research" in card.text  # ... into our card, whose text survives

    snapshot = snapshot_download(
        "iaunet-org/market1501-masks", repo_type="dataset", cache_dir=tmp_path / "hub", token=TEST_TOKEN
    )
    loaded = load_dataset(
        "parquet",
        data_files={split: f"{snapshot}/data/{split}-*.parquet" for split in dataset_dict},
        cache_dir=str(tmp_path / "datasets_cache"),
    )
    for split in dataset_dict:
        assert raw_rows(loaded[split]) == expected[split]
