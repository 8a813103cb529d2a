"""Issue 26: `push_dataset` on what `load_reid_dataset` returns (train has `label`/`part_masks`, query and gallery
do not), against the loopback Hub server; a push refused by its checks makes no Hub request at all."""

import shutil

import datasets
import pytest
from datasets import load_dataset
from hub_server import TEST_TOKEN
from huggingface_hub import DatasetCard, snapshot_download

from iaunet_hf.data import load_reid_dataset
from iaunet_hf.hub.dataset_push import align_splits, export_parquet, push_dataset


@pytest.fixture
def reid_set(tiny_synthetic_dirs):
    data_dir, cache_dir = tiny_synthetic_dirs
    dataset_dict = load_reid_dataset("synthetic", data_dir, cache_dir=cache_dir)
    assert "label" in dataset_dict["train"].column_names and "label" not in dataset_dict["query"].column_names
    return dataset_dict


def plain_rows(dataset):
    """Rows with images as their bytes, so equality means byte-identical images and masks."""
    for name, feature in dataset.features.items():
        if isinstance(feature, datasets.Image):
            dataset = dataset.cast_column(name, datasets.Image(decode=False))
    return [
        {k: v["bytes"] if isinstance(v, dict) and "bytes" in v else v for k, v in row.items()}
        for row in dataset
    ]


# huggingface_hub's LFS PUT passes a file object as `data=`, which its HTTP client deprecates; not ours to fix.
@pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")
def test_the_documented_call_pushes_load_reid_dataset_output(reid_set, hub, tmp_path):
    expected = {split: plain_rows(ds) for split, ds in reid_set.items()}
    # docs/hub.md, "Sharing prepared datasets", as written there
    push_dataset(reid_set, "your-org/market1501-iaunet", recipe="market1501", private=True)

    files = hub.files("your-org/market1501-iaunet", repo_type="dataset")
    assert {f"data/{split}-00000-of-00001.parquet" for split in reid_set} <= set(files)
    card = DatasetCard(files["README.md"].decode())
    assert "dataset_info" in card.data.to_dict() and "non-commercial research" in card.text
    assert "-1 on the other splits" in card.text

    snapshot = snapshot_download(
        "your-org/market1501-iaunet", repo_type="dataset", cache_dir=tmp_path / "hub", token=TEST_TOKEN
    )
    loaded = load_dataset(snapshot, cache_dir=str(tmp_path / "datasets_cache"))  # one config, three splits
    assert sorted(loaded) == sorted(reid_set)
    for split, rows in expected.items():
        got = plain_rows(loaded[split])
        shared = reid_set[split].column_names
        assert [{k: row[k] for k in shared} for row in got] == rows
        if split != "train":
            assert {row["label"] for row in got} == {-1}
            assert {row["part_masks"] for row in got} == {None}


def test_export_parquet_writes_one_schema(reid_set, tmp_path):
    export_parquet(reid_set, tmp_path / "export", "market1501")
    loaded = load_dataset(str(tmp_path / "export"), cache_dir=str(tmp_path / "datasets_cache"))
    assert loaded["query"].features == loaded["train"].features == align_splits(reid_set)["train"].features


@pytest.mark.parametrize("refusal", ["conflicting feature", "bad split name", "missing image", "bad repo id"])
def test_a_refused_push_leaves_nothing_on_the_hub(reid_set, hub, tmp_path, tiny_synthetic_dirs, refusal):
    dataset_dict, repo_id = datasets.DatasetDict(dict(reid_set)), "your-org/market1501-iaunet"
    if refusal == "conflicting feature":
        dataset_dict["query"] = dataset_dict["query"].cast_column("camid", datasets.Value("int64"))
        message = "column 'camid'"
    elif refusal == "bad split name":
        dataset_dict["query set"] = dataset_dict.pop("query")
        message = "split names"
    elif refusal == "missing image":  # images referred to by path, one of them deleted after loading
        data_dir = tmp_path / "market"
        shutil.copytree(tiny_synthetic_dirs[0], data_dir)
        dataset_dict = load_reid_dataset(
            "synthetic", data_dir, cache_dir=tmp_path / "cache", embed_images=False
        )
        (data_dir / dataset_dict["gallery"][0]["path"]).unlink()
        message = "1 image files are missing"
    else:
        repo_id, message = "your-org/market..1501", "repo id"
    with pytest.raises(ValueError) as error:
        push_dataset(dataset_dict, repo_id, recipe="market1501", private=True)
    assert hub.state.repos == {} and hub.state.requests == []  # no repository, no commit, not even a request
    assert message in str(error.value)
