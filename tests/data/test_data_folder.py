"""``folder``: a user's own set as a Market-style tree or as CSV files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from iaunet_hf.data import load_reid_dataset


def test_tree_with_custom_pattern(tmp_path: Path, cache_dir: Path, jpeg_writer):
    for split, names in {
        "train": ["id12-cam2-a.jpg", "id12-cam3-b.jpg", "id40-cam1-a.jpg"],
        "query": ["id50-cam1-a.jpg"],
        "gallery": ["id50-cam2-a.png", "id-1-cam2-x.jpg"],
    }.items():
        for name in names:
            jpeg_writer(tmp_path / split / name)
    dataset = load_reid_dataset("folder", tmp_path, cache_dir=cache_dir, name_pattern=r"id([-\d]+)-cam(\d)")
    assert dataset["train"]["pid"] == [12, 12, 40] and dataset["train"]["camid"] == [1, 2, 0]
    assert dataset["train"]["label"] == [0, 0, 1]
    assert dataset["gallery"]["pid"] == [50]  # junk -1 dropped


def test_csv_files(tmp_path: Path, cache_dir: Path, jpeg_writer):
    rows = {
        "train": [("images/a.jpg", 7, 0), ("images/b.jpg", 3, 1), ("images/c.jpg", 7, 2)],
        "query": [("images/d.jpg", 9, 0)],
        "gallery": [("images/e.jpg", 9, 1), ("images/f.jpg", 0, 1), ("images/g.jpg", -1, 0)],
    }
    for split, entries in rows.items():
        lines = ["path,pid,camid"] + [f"{path},{pid},{camid}" for path, pid, camid in entries]
        (tmp_path / f"{split}.csv").write_text("\n".join(lines) + "\n")
        for path, _, _ in entries:
            jpeg_writer(tmp_path / path)
    dataset = load_reid_dataset("folder", tmp_path, cache_dir=cache_dir)
    assert dataset["train"]["label"] == [1, 0, 1]  # sorted pid order: 3 -> 0, 7 -> 1
    assert dataset["train"]["camid"] == [0, 1, 2]
    assert dataset["gallery"]["pid"] == [9, 0]
    assert dataset["train"]["path"] == ["images/a.jpg", "images/b.jpg", "images/c.jpg"]


def test_csv_errors(tmp_path: Path, cache_dir: Path, jpeg_writer):
    jpeg_writer(tmp_path / "a.jpg")
    (tmp_path / "train.csv").write_text("file,person\na.jpg,1\n")
    (tmp_path / "query.csv").write_text("path,pid,camid\na.jpg,1,0\n")
    (tmp_path / "gallery.csv").write_text("path,pid,camid\nmissing.jpg,1,0\n")
    with pytest.raises(ValueError, match=r"folder: .*train\.csv has columns \['file', 'person'\]; expected"):
        load_reid_dataset("folder", tmp_path, cache_dir=cache_dir)
    (tmp_path / "train.csv").write_text("path,pid,camid\na.jpg,1,0\n")
    with pytest.raises(
        FileNotFoundError, match=r"gallery\.csv line 2 names 'missing\.jpg', which does not exist"
    ):
        load_reid_dataset("folder", tmp_path, cache_dir=cache_dir)


def test_tree_without_split(tmp_path: Path, cache_dir: Path, jpeg_writer):
    jpeg_writer(tmp_path / "train" / "0001_c1_a.jpg")
    jpeg_writer(tmp_path / "gallery" / "0002_c1_a.jpg")
    with pytest.raises(FileNotFoundError, match=r"folder: .* has the split folders .* but no query split"):
        load_reid_dataset("folder", tmp_path, cache_dir=cache_dir)
    # the train folder alone is a train-only set (tests/data/test_data_train_only.py)


def test_csv_without_camid_means_camera_unknown(tmp_path: Path, cache_dir: Path, jpeg_writer):
    for split, entries in {
        "train": [("a.jpg", 1), ("b.jpg", 2)],
        "query": [("c.jpg", 3)],
        "gallery": [("d.jpg", 3)],
    }.items():
        (tmp_path / f"{split}.csv").write_text("path,pid\n" + "".join(f"{p},{pid}\n" for p, pid in entries))
        for path, _ in entries:
            jpeg_writer(tmp_path / path)
    dataset = load_reid_dataset("folder", tmp_path, cache_dir=cache_dir)
    assert {camid for split in dataset.values() for camid in split["camid"]} == {-1}
    assert dataset["train"]["label"] == [0, 1]


def test_identity_per_folder_tree_without_splits_is_train_only(tmp_path: Path, cache_dir: Path, jpeg_writer):
    for person, count in (("0007", 2), ("0003", 3)):
        for index in range(count):
            jpeg_writer(tmp_path / "crops" / person / f"frame{index}.jpg")
    dataset = load_reid_dataset("folder", tmp_path / "crops", cache_dir=cache_dir)
    assert list(dataset) == ["train"]
    assert dataset["train"]["pid"] == [3, 3, 3, 7, 7] and set(dataset["train"]["camid"]) == {-1}
    assert dataset["train"]["path"][0] == "0003/frame0.jpg"


def test_identity_per_folder_tree_with_splits_and_named_identities(
    tmp_path: Path, cache_dir: Path, jpeg_writer
):
    layout = {"train": {"bob": 2, "alice": 1}, "query": {"carol": 1}, "gallery": {"carol": 2, "dave": 1}}
    for split, people in layout.items():
        for person, count in people.items():
            for index in range(count):
                jpeg_writer(tmp_path / split / person / f"{index}.jpg")
    dataset = load_reid_dataset("folder", tmp_path, cache_dir=cache_dir)
    # non-numeric names: pid = index of the name in sorted order over all splits (alice, bob, carol, dave)
    assert dataset["train"]["pid"] == [0, 1, 1] and dataset["train"]["label"] == [0, 1, 1]
    assert dataset["query"]["pid"] == [2] and sorted(dataset["gallery"]["pid"]) == [2, 2, 3]
    assert set(dataset["gallery"]["camid"]) == {-1}


def test_name_pattern_with_one_group_and_bad_patterns(tmp_path: Path, cache_dir: Path, jpeg_writer):
    for split, names in {
        "train": ["person12_a.jpg", "person40_b.jpg"],
        "query": ["person5_a.jpg"],
        "gallery": ["person5_b.jpg"],
    }.items():
        for name in names:
            jpeg_writer(tmp_path / split / name)
    dataset = load_reid_dataset("folder", tmp_path, cache_dir=cache_dir, name_pattern=r"person(\d+)_")
    assert dataset["train"]["pid"] == [12, 40] and set(dataset["train"]["camid"]) == {-1}
    with pytest.raises(
        ValueError,
        match=r"name_pattern '\(\\d\)\(\\d\)\(\\d\)' has 3 group\(s\); expected two groups \(pid, then the 1-based camera\) or one group \(pid only",
    ):
        load_reid_dataset("folder", tmp_path, cache_dir=cache_dir, name_pattern=r"(\d)(\d)(\d)")
    jpeg_writer(tmp_path / "train" / "unlabelled.jpg")
    with pytest.raises(
        ValueError,
        match=r"unlabelled\.jpg; expected a name matching 'person\(\\d\+\)_' such as 'person12_a\.jpg' \(two groups",
    ):
        load_reid_dataset("folder", tmp_path, cache_dir=cache_dir / "other", name_pattern=r"person(\d+)_")


def test_an_edited_csv_is_not_served_from_a_stale_cache(tmp_path: Path, cache_dir: Path, jpeg_writer):
    for name in ("a.jpg", "b.jpg"):
        jpeg_writer(tmp_path / name)
    (tmp_path / "train.csv").write_text("path,pid\na.jpg,1\nb.jpg,2\n")
    assert load_reid_dataset("folder", tmp_path, cache_dir=cache_dir)["train"]["pid"] == [1, 2]
    (tmp_path / "train.csv").write_text("path,pid\na.jpg,1\nb.jpg,1\n")  # relabelled: b is person 1
    assert load_reid_dataset("folder", tmp_path, cache_dir=cache_dir)["train"]["pid"] == [1, 1]


def test_camera_less_set_evaluates_without_same_camera_filtering(
    tmp_path: Path, cache_dir: Path, jpeg_writer
):
    """A set without cameras, end to end from the CSV to the metric, against a hand-computed case."""
    from iaunet_hf.evaluation.metrics import evaluate_reid

    rows = {"train": [("t.jpg", 9)], "query": [("q1.jpg", 1), ("q2.jpg", 2)]}
    rows["gallery"] = [("g1.jpg", 2), ("g2.jpg", 1), ("g3.jpg", 1)]
    for split, entries in rows.items():
        (tmp_path / f"{split}.csv").write_text("path,pid\n" + "".join(f"{p},{pid}\n" for p, pid in entries))
        for path, _ in entries:
            jpeg_writer(tmp_path / path)
    dataset = load_reid_dataset("folder", tmp_path, cache_dir=cache_dir)
    query, gallery = dataset["query"], dataset["gallery"]
    distances = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    result = evaluate_reid(
        distances,
        query["pid"],
        gallery["pid"],
        query["camid"],
        gallery["camid"],
        max_rank=3,
        camera_filter=False,
    )
    # query 1: positives at ranks 2 and 3 -> AP (1/2 + 2/3) / 2; query 2: its positive is first -> AP 1
    assert result["mAP"] == pytest.approx(((1 / 2 + 2 / 3) / 2 + 1) / 2)
    assert result["cmc"].tolist() == [0.5, 1.0, 1.0]
    assert result["num_valid_queries"] == 2
