"""The prepared cache is keyed by the data, not by the path as typed: a change of data is a new cache."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from test_data_mars import write_mars

from iaunet_hf.data import DATASET_BUILDERS, Market1501, load_reid_dataset, write_synthetic_reid
from iaunet_hf.data.cache_key import PATH_OPTIONS, path_fingerprint

TINY_SYNTHETIC = {
    "num_test_ids": 2,
    "num_cameras": 2,
    "images_per_camera": 2,
    "num_distractors": 1,
    "num_junk": 1,
    "height": 32,
    "width": 16,
}


def write_market_style(root: Path, jpeg_writer, splits: dict[str, list[str]]) -> Path:
    for folder, names in splits.items():
        for name in names:
            jpeg_writer(root / folder / name)
    return root


def test_same_relative_name_in_two_folders_is_two_caches(tmp_path: Path, cache_dir: Path, monkeypatch):
    for folder, num_train_ids in (("a", 2), ("b", 3)):
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        write_synthetic_reid("set", num_train_ids=num_train_ids, **TINY_SYNTHETIC)
    monkeypatch.chdir(tmp_path / "a")
    from_a = load_reid_dataset("market1501", "set", cache_dir=cache_dir)
    monkeypatch.chdir(tmp_path / "b")
    from_b = load_reid_dataset("market1501", "set", cache_dir=cache_dir)
    assert from_a["train"].num_rows == 2 * 2 * 2
    assert from_b["train"].num_rows == 3 * 2 * 2  # not a's rows from the cache
    assert len(set(from_b["train"]["pid"])) == 3


def test_resplitting_a_folder_set_reprepares(tmp_path: Path, cache_dir: Path, jpeg_writer):
    data = write_market_style(
        tmp_path / "my_set",
        jpeg_writer,
        {
            "train": ["0001_c1_a.jpg", "0001_c2_b.jpg"],
            "query": ["0002_c1_a.jpg", "0003_c1_a.jpg"],
            "gallery": ["0002_c2_b.jpg", "0003_c2_b.jpg"],
        },
    )
    before = load_reid_dataset("folder", data, cache_dir=cache_dir)
    assert before["train"]["pid"] == [1, 1] and before["query"]["pid"] == [2, 3]
    (data / "query" / "0003_c1_a.jpg").rename(data / "train" / "0003_c1_a.jpg")  # same size and time
    after = load_reid_dataset("folder", data, cache_dir=cache_dir)
    assert after["train"]["pid"] == [1, 1, 3] and after["train"]["label"] == [0, 0, 1]
    assert after["query"]["pid"] == [2]


def test_added_and_removed_images_reprepare(tmp_path: Path, cache_dir: Path, jpeg_writer):
    market = write_market_style(
        tmp_path / "Market-1501-v15.09.15",
        jpeg_writer,
        {
            "bounding_box_train": ["0002_c1s1_000451_03.jpg", "0002_c2s1_000301_01.jpg"],
            "query": ["0001_c1s1_001051_00.jpg"],
            "bounding_box_test": ["0001_c2s1_000301_01.jpg", "0000_c1s1_000000_01.jpg"],
        },
    )
    assert load_reid_dataset("market1501", market, cache_dir=cache_dir)["train"].num_rows == 2
    jpeg_writer(market / "bounding_box_train" / "0007_c3s3_077419_03.jpg")
    added = load_reid_dataset("market1501", market, cache_dir=cache_dir)
    assert added["train"]["pid"] == [2, 2, 7]
    (market / "bounding_box_test" / "0000_c1s1_000000_01.jpg").unlink()
    assert load_reid_dataset("market1501", market, cache_dir=cache_dir)["gallery"]["pid"] == [1]


def test_edited_list_file_reprepares(tmp_path: Path, cache_dir: Path, jpeg_writer):
    mars = tmp_path / "MARS"
    write_mars(mars, jpeg_writer)
    before = load_reid_dataset("mars", tmp_path, cache_dir=cache_dir)  # the parent: info/ is two levels down
    names = mars / "info" / "train_name.txt"
    lines = names.read_text().splitlines()
    names.write_text(
        "\n".join([lines[2], lines[1], lines[0], *lines[3:]]) + "\n"
    )  # same size: frames reordered
    after = load_reid_dataset("mars", tmp_path, cache_dir=cache_dir)
    assert before["train"][0]["frame_paths"][0].endswith("F001.jpg")
    assert after["train"][0]["frame_paths"][0].endswith("F003.jpg")


def test_a_cache_inside_its_data_folder_is_reused(tmp_path: Path, jpeg_writer):
    data = write_market_style(
        tmp_path,
        jpeg_writer,
        {"train": ["0001_c1_a.jpg"], "query": ["0002_c1_a.jpg"], "gallery": ["0002_c2_b.jpg"]},
    )
    first = load_reid_dataset("folder", data, cache_dir=data / "hf_cache")
    again = load_reid_dataset("folder", data, cache_dir=data / "hf_cache")
    assert again["train"].cache_files == first["train"].cache_files


def test_key_is_stable_and_follows_the_resolved_path(
    tmp_path: Path, cache_dir: Path, jpeg_writer, monkeypatch
):
    splits = {"bounding_box_train": ["0002_c1s1_000451_03.jpg"], "query": [], "bounding_box_test": []}
    first = write_market_style(tmp_path / "first", jpeg_writer, splits)
    second = shutil.copytree(first, tmp_path / "second")
    link = tmp_path / "link"
    link.symlink_to(first, target_is_directory=True)
    monkeypatch.chdir(tmp_path)

    def cache_of(data_dir) -> str:
        return Market1501(data_dir=str(data_dir), cache_dir=str(cache_dir)).cache_dir

    assert cache_of(first) == cache_of("first") == cache_of("./link") == cache_of(first)
    link.unlink()
    link.symlink_to(second, target_is_directory=True)
    assert cache_of("link") == cache_of(second) != cache_of(first)


def test_mask_dir_and_split_file_are_resolved_and_fingerprinted(
    tmp_path: Path, cache_dir: Path, jpeg_writer, monkeypatch
):
    (tmp_path / "a" / "masks").mkdir(parents=True)
    (tmp_path / "b" / "masks").mkdir(parents=True)
    (tmp_path / "b" / "masks" / "extra.png").write_bytes(b"png")
    market = tmp_path / "market"
    market.mkdir()

    def cache_of(**options) -> str:
        return Market1501(data_dir=str(market), cache_dir=str(cache_dir), **options).cache_dir

    monkeypatch.chdir(tmp_path / "a")
    in_a = cache_of(mask_dir="masks")
    monkeypatch.chdir(tmp_path / "b")
    assert cache_of(mask_dir="masks") != in_a
    monkeypatch.chdir(tmp_path / "a")
    assert cache_of(mask_dir="masks") == in_a
    (tmp_path / "a" / "masks" / "0002_c1s1_000451_03").mkdir()
    assert cache_of(mask_dir="masks") != in_a

    def viper_cache_of(split_file) -> str:
        return DATASET_BUILDERS["viper"](
            data_dir=str(market), cache_dir=str(cache_dir), split_file=str(split_file)
        ).cache_dir

    split_file = tmp_path / "splits.json"
    split_file.write_text("{}")
    with_file = viper_cache_of("../splits.json")
    assert viper_cache_of(split_file) == with_file
    split_file.write_text("[]")  # same size
    assert viper_cache_of(split_file) != with_file


def test_every_path_valued_option_is_fingerprinted():
    for builder in DATASET_BUILDERS.values():
        for field in dataclasses.fields(builder.BUILDER_CONFIG_CLASS):
            if field.name.endswith(("_dir", "_file", "_path")):
                assert field.name in PATH_OPTIONS, f"{builder.__name__}.{field.name} is not fingerprinted"


def test_fingerprint_survives_symlink_loops_and_broken_links(tmp_path: Path):
    (tmp_path / "set" / "sub").mkdir(parents=True)
    (tmp_path / "set" / "sub" / "up").symlink_to(tmp_path / "set", target_is_directory=True)
    (tmp_path / "set" / "broken.jpg").symlink_to(tmp_path / "nowhere.jpg")
    first = path_fingerprint(tmp_path / "set")
    assert first == path_fingerprint(tmp_path / "set")
    (tmp_path / "nowhere.jpg").write_bytes(b"now somewhere")
    assert path_fingerprint(tmp_path / "set") != first
    (tmp_path / "empty_file").touch()
    assert path_fingerprint(tmp_path / "missing")[1] != path_fingerprint(tmp_path / "empty_file")[1]


def test_a_gone_data_folder_is_a_clear_error_not_a_stale_cache(tmp_path: Path, cache_dir: Path, jpeg_writer):
    market = write_market_style(
        tmp_path / "Market-1501-v15.09.15",
        jpeg_writer,
        {
            "bounding_box_train": ["0002_c1s1_000451_03.jpg"],
            "query": ["0001_c1s1_001051_00.jpg"],
            "bounding_box_test": ["0001_c2s1_000301_01.jpg"],
        },
    )
    load_reid_dataset("market1501", market, cache_dir=cache_dir)
    shutil.rmtree(market)
    with pytest.raises(FileNotFoundError, match=r"Market-1501: data_dir .* does not exist"):
        load_reid_dataset("market1501", market, cache_dir=cache_dir)
