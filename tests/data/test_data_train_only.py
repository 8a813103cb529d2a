"""Train-only own sets (issue 26): a flat folder of Market-named crops and a Market-style folder with only its
train folder load as ``train`` only; a damaged benchmark folder stays an error naming what is missing; a stored
identity split is applied to the same set and refused for another one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iaunet_hf.data import load_reid_dataset, split_identities

# 3 identities x 2 cameras x 2 images, Market naming; one junk image (pid -1, dropped)
MARKET_NAMES = [f"{pid:04d}_c{cam}s1_{pid * 10 + cam * 2 + n:06d}_00.jpg" for pid in (2, 5, 9) for cam in (1, 2) for n in (0, 1)]  # fmt: skip


def write_market_named(folder: Path, jpeg_writer, names=MARKET_NAMES) -> None:
    for name in [*names, "-1_c1s1_000000_00.jpg"]:
        jpeg_writer(folder / name)


def test_flat_folder_of_market_named_crops_is_train_only(tmp_path: Path, cache_dir: Path, jpeg_writer):
    write_market_named(tmp_path / "crops", jpeg_writer)
    dataset = load_reid_dataset("folder", tmp_path / "crops", cache_dir=cache_dir)
    assert list(dataset) == ["train"]
    train = dataset["train"]
    assert train["pid"] == [2, 2, 2, 2, 5, 5, 5, 5, 9, 9, 9, 9]  # junk dropped
    assert train["camid"] == [0, 0, 1, 1] * 3 and train["label"] == [0] * 4 + [1] * 4 + [2] * 4
    assert train["path"][0] == MARKET_NAMES[0]


@pytest.mark.parametrize("train_folder", ["train", "bounding_box_train"])
def test_market_style_folder_with_only_its_train_folder_is_train_only(
    train_folder, tmp_path: Path, cache_dir: Path, jpeg_writer
):
    write_market_named(tmp_path / "my_set" / train_folder, jpeg_writer)
    dataset = load_reid_dataset("folder", tmp_path / "my_set", cache_dir=cache_dir)
    assert list(dataset) == ["train"] and len(dataset["train"]) == 12
    assert dataset["train"]["path"][0] == f"{train_folder}/{MARKET_NAMES[0]}"


def test_identity_folders_under_train_alone_are_train_only(tmp_path: Path, cache_dir: Path, jpeg_writer):
    for person in ("0004", "0001"):
        for index in range(2):
            jpeg_writer(tmp_path / "train" / person / f"{index}.jpg")
    dataset = load_reid_dataset("folder", tmp_path, cache_dir=cache_dir)
    assert list(dataset) == ["train"] and dataset["train"]["pid"] == [1, 1, 4, 4]


@pytest.mark.parametrize(
    "folders, missing",
    [
        (["train", "query"], r"no gallery split \(a folder 'gallery' or 'bounding_box_test'\)"),
        (["bounding_box_train", "bounding_box_test"], r"no query split \(a folder 'query'\)"),
        (["query", "gallery"], r"no train split \(a folder 'train' or 'bounding_box_train'\)"),
    ],
)
def test_folder_with_some_evaluation_splits_is_an_error_naming_the_missing_one(
    folders, missing, tmp_path: Path, cache_dir: Path, jpeg_writer
):
    for folder in folders:
        write_market_named(tmp_path / folder, jpeg_writer, MARKET_NAMES[:2])
    with pytest.raises(
        FileNotFoundError, match=rf"folder: {tmp_path} has the split folders .* but {missing}"
    ):
        load_reid_dataset("folder", tmp_path, cache_dir=cache_dir)


def test_flat_images_next_to_identity_folders_is_an_error(tmp_path: Path, cache_dir: Path, jpeg_writer):
    write_market_named(tmp_path, jpeg_writer, MARKET_NAMES[:2])
    jpeg_writer(tmp_path / "0007" / "a.jpg")
    with pytest.raises(
        ValueError, match=r"holds both images \(e\.g\. .*\) and folders of images \(e\.g\. 0007/\)"
    ):
        load_reid_dataset("folder", tmp_path, cache_dir=cache_dir)


def test_market1501_stays_strict(tmp_path: Path, cache_dir: Path, jpeg_writer):
    for folder in ("bounding_box_train", "query"):
        write_market_named(tmp_path / "damaged" / folder, jpeg_writer, MARKET_NAMES[:2])
    with pytest.raises(FileNotFoundError, match=r"Market-1501: .*damaged is missing \['bounding_box_test'\]"):
        load_reid_dataset("market1501", tmp_path / "damaged", cache_dir=cache_dir)
    write_market_named(tmp_path / "train_only" / "bounding_box_train", jpeg_writer, MARKET_NAMES[:2])
    with pytest.raises(
        FileNotFoundError, match=r"missing \['query', 'bounding_box_test'\].*--dataset folder"
    ):
        load_reid_dataset("market1501", tmp_path / "train_only", cache_dir=cache_dir)


def test_a_stored_identity_split_is_applied_to_its_set_only(tmp_path: Path, cache_dir: Path, jpeg_writer):
    from iaunet_hf.data.splits import load_identity_split

    write_market_named(tmp_path / "crops", jpeg_writer)
    crops = load_reid_dataset("folder", tmp_path / "crops", cache_dir=cache_dir)
    split_file = tmp_path / "run" / "eval_split.json"
    with pytest.raises(FileNotFoundError, match=r"split file .*eval_split\.json does not exist"):
        load_identity_split(crops, split_file)  # never drawn: nothing is written
    assert not split_file.exists()
    drawn = split_identities(
        crops, test_fraction=0.4, seed=3, split_file=split_file, source={"datasets": ["folder"]}
    )
    loaded = load_identity_split(crops, split_file, dataset_name="folder")
    for split in ("train", "query", "gallery"):
        assert loaded[split]["path"] == drawn[split]["path"] and loaded[split]["pid"] == drawn[split]["pid"]
    assert json.loads(split_file.read_text())["source"] == {"datasets": ["folder"]}
    with pytest.raises(
        ValueError, match=r"holds the held-out split of \['folder'\].*expected a split of 'market1501'"
    ):
        load_identity_split(crops, split_file, dataset_name="market1501")
    renamed = [
        n.replace("0002_", "0003_").replace("0005_", "0006_").replace("0009_", "0008_") for n in MARKET_NAMES
    ]
    write_market_named(tmp_path / "other", jpeg_writer, renamed)
    other = load_reid_dataset("folder", tmp_path / "other", cache_dir=cache_dir)
    # the same number of rows but other people: refused rather than evaluated on the wrong identities
    with pytest.raises(ValueError, match=r"holds out other identities than its query rows"):
        load_identity_split(other, split_file)
