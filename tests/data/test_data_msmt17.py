"""MSMT17 builder: V1 and V2 layouts read through the official list files."""

from __future__ import annotations

from pathlib import Path

import pytest

from iaunet_hf.data import load_reid_dataset

LISTS = {
    "list_train.txt": [
        ("0000/0000_000_01_0303morning_0015_0.jpg", 0),
        ("0000/0000_001_05_0303morning_0016_1.jpg", 0),
    ],
    "list_val.txt": [("0002/0002_000_15_0303noon_0100_0.jpg", 2)],
    "list_query.txt": [("0000/0000_000_03_0303afternoon_0001_0.jpg", 0)],
    "list_gallery.txt": [
        ("0000/0000_001_07_0303afternoon_0002_0.jpg", 0),
        ("0001/0001_000_12_0303afternoon_0003_0.jpg", 1),
    ],
}


def write_msmt17(root: Path, jpeg_writer, train_folder: str, test_folder: str) -> None:
    for list_name, entries in LISTS.items():
        folder = test_folder if list_name in ("list_query.txt", "list_gallery.txt") else train_folder
        for relative, _ in entries:
            jpeg_writer(root / folder / relative)
        (root / list_name).write_text("".join(f"{relative} {pid}\n" for relative, pid in entries))


@pytest.mark.parametrize(
    ("version", "folders"), [("V1", ("train", "test")), ("V2", ("mask_train_v2", "mask_test_v2"))]
)
def test_layouts(tmp_path: Path, cache_dir: Path, jpeg_writer, version: str, folders: tuple[str, str]):
    root = tmp_path / f"MSMT17_{version}"
    write_msmt17(root, jpeg_writer, *folders)
    dataset = load_reid_dataset("msmt17", tmp_path, cache_dir=cache_dir)
    assert dataset["train"]["pid"] == [0, 0] and dataset["train"]["camid"] == [0, 4]
    assert dataset["query"]["camid"] == [2]
    assert dataset["gallery"]["camid"] == [6, 11]
    assert dataset["gallery"]["pid"] == [0, 1]  # pid 0 is a real MSMT17 identity
    assert dataset["train"]["path"][0] == f"{folders[0]}/0000/0000_000_01_0303morning_0015_0.jpg"


def test_train_plus_val(tmp_path: Path, cache_dir: Path, jpeg_writer):
    write_msmt17(tmp_path, jpeg_writer, "train", "test")
    dataset = load_reid_dataset("msmt17", tmp_path, cache_dir=cache_dir, combine_train_val=True)
    assert dataset["train"]["pid"] == [0, 0, 2]
    assert dataset["train"]["label"] == [0, 0, 1]
    assert dataset["train"]["camid"][-1] == 14


def test_bad_list_line_and_missing_image(tmp_path: Path, cache_dir: Path, jpeg_writer):
    write_msmt17(tmp_path, jpeg_writer, "train", "test")
    (tmp_path / "list_query.txt").write_text("0000/0000_000_03_0303afternoon_0001_0.jpg\n")
    with pytest.raises(
        ValueError, match=r"MSMT17: .*list_query\.txt line 1 is .*expected '<relative image path> <pid>'"
    ):
        load_reid_dataset("msmt17", tmp_path, cache_dir=cache_dir)
    (tmp_path / "list_query.txt").write_text("0000/0000_000_03_0303afternoon_0009_0.jpg 0\n")
    with pytest.raises(
        FileNotFoundError, match=r"list_query\.txt line 1 names .*0009_0\.jpg, which does not exist"
    ):
        load_reid_dataset("msmt17", tmp_path, cache_dir=cache_dir)
