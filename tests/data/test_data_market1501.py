"""Market-1501 builder on a fixture written in the real layout (and the shared builder behaviour)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from iaunet_hf.data import Market1501, load_reid_dataset

TRAIN = [
    "0002_c1s1_000451_03.jpg",
    "0002_c2s1_000301_01.jpg",
    "0007_c3s3_077419_03.jpg",
    "0010_c6s4_002427_02.jpg",
]
QUERY = ["0001_c1s1_001051_00.jpg", "0003_c4s6_015641_00.jpg"]
GALLERY = [
    "0001_c2s1_000301_01.jpg",
    "0003_c5s3_065187_01.jpg",
    "0000_c1s1_000000_01.jpg",  # distractor: kept
    "-1_c1s1_000401_03.jpg",  # junk: dropped
    "-1_c3s1_000551_01.jpg",
]


def write_market(root: Path, jpeg_writer) -> Path:
    for folder, names in (("bounding_box_train", TRAIN), ("query", QUERY), ("bounding_box_test", GALLERY)):
        for name in names:
            jpeg_writer(root / folder / name)
    (root / "bounding_box_test" / "Thumbs.db").write_bytes(b"not an image")  # ignored: not an image suffix
    return root


@pytest.fixture
def market_dir(tmp_path: Path, jpeg_writer) -> Path:
    return write_market(tmp_path / "Market-1501-v15.09.15", jpeg_writer)


def test_splits_ids_and_labels(market_dir: Path, cache_dir: Path):
    dataset = load_reid_dataset("market1501", market_dir, cache_dir=cache_dir)
    assert {split: dataset[split].num_rows for split in dataset} == {"train": 4, "query": 2, "gallery": 3}
    train = dataset["train"]
    assert train["pid"] == [2, 2, 7, 10]
    assert train["camid"] == [0, 1, 2, 5]
    assert train["label"] == [0, 0, 1, 2]
    assert train["path"][0] == "bounding_box_train/0002_c1s1_000451_03.jpg"
    gallery = dataset["gallery"]
    assert sorted(gallery["pid"]) == [0, 1, 3]
    assert "label" not in gallery.column_names and "part_masks" not in train.column_names
    assert train[0]["image"].size == (16, 32)


def test_parent_folder_is_accepted(market_dir: Path, cache_dir: Path):
    dataset = load_reid_dataset("market1501", market_dir.parent, cache_dir=cache_dir)
    assert dataset["query"]["pid"] == [1, 3]


def test_images_are_embedded_or_referenced(market_dir: Path, cache_dir: Path):
    embedded = load_reid_dataset("market1501", market_dir, cache_dir=cache_dir)["query"]
    referenced = load_reid_dataset("market1501", market_dir, cache_dir=cache_dir, embed_images=False)["query"]
    raw_embedded = embedded.cast_column("image", embedded.features["image"].__class__(decode=False))[0][
        "image"
    ]
    raw_referenced = referenced.cast_column("image", referenced.features["image"].__class__(decode=False))[0][
        "image"
    ]
    assert raw_embedded["bytes"] == (market_dir / "query" / QUERY[0]).read_bytes()
    assert raw_referenced["bytes"] is None and Path(raw_referenced["path"]) == market_dir / "query" / QUERY[0]


def test_distractor_folder_joins_gallery(market_dir: Path, cache_dir: Path, jpeg_writer):
    jpeg_writer(market_dir / "images" / "0000_c2s1_123456_00.jpg")
    jpeg_writer(market_dir / "images" / "0000_c4s2_123457_00.jpg")
    plain = load_reid_dataset("market1501", market_dir, cache_dir=cache_dir)
    with_distractors = load_reid_dataset("market1501", market_dir, cache_dir=cache_dir, with_distractors=True)
    assert with_distractors["gallery"].num_rows == plain["gallery"].num_rows + 2


def test_cache_hash_covers_options_and_package_version(market_dir: Path, cache_dir: Path, monkeypatch):
    default = Market1501(data_dir=str(market_dir), cache_dir=str(cache_dir))
    same = Market1501(data_dir=str(market_dir), cache_dir=str(cache_dir))
    other_option = Market1501(data_dir=str(market_dir), cache_dir=str(cache_dir), embed_images=False)
    real_version = importlib.metadata.version
    monkeypatch.setattr(
        importlib.metadata, "version", lambda name: "999.0" if name == "iaunet-hf" else real_version(name)
    )
    new_release = Market1501(data_dir=str(market_dir), cache_dir=str(cache_dir))
    assert default.cache_dir == same.cache_dir
    assert len({default.cache_dir, other_option.cache_dir, new_release.cache_dir}) == 3


def test_missing_split_folder(market_dir: Path, cache_dir: Path):
    for path in (market_dir / "query").iterdir():
        path.unlink()
    (market_dir / "query").rmdir()
    with pytest.raises(FileNotFoundError, match=r"Market-1501: .*missing \['query'\]"):
        load_reid_dataset("market1501", market_dir, cache_dir=cache_dir)


def test_unparseable_name(market_dir: Path, cache_dir: Path, jpeg_writer):
    jpeg_writer(market_dir / "bounding_box_train" / "person_7.jpg")
    with pytest.raises(
        ValueError, match=r"Market-1501: cannot parse .*person_7\.jpg.*expected a name matching"
    ):
        load_reid_dataset("market1501", market_dir, cache_dir=cache_dir)


def test_camera_out_of_range(market_dir: Path, cache_dir: Path, jpeg_writer):
    jpeg_writer(market_dir / "bounding_box_train" / "0002_c7s1_000001_00.jpg")
    with pytest.raises(ValueError, match=r"camera 7; expected .*1\.\.6"):
        load_reid_dataset("market1501", market_dir, cache_dir=cache_dir)


def test_corrupt_image_raises_or_is_skipped_with_a_warning(
    market_dir: Path, cache_dir: Path, corrupt_jpeg_writer
):
    corrupt_jpeg_writer(market_dir / "bounding_box_test" / "0001_c3s1_000999_00.jpg")
    corrupt_jpeg_writer(market_dir / "query" / "0003_c1s1_000998_00.jpg")
    with pytest.raises(ValueError, match=r"(?s)Market-1501: 2 corrupt image\(s\).*0001_c3s1_000999_00\.jpg"):
        load_reid_dataset("market1501", market_dir, cache_dir=cache_dir)
    with pytest.warns(
        UserWarning, match=r"(?s)skipped 2 corrupt.*0003_c1s1_000998_00.*0001_c3s1_000999_00"
    ) as record:
        dataset = load_reid_dataset("market1501", market_dir, cache_dir=cache_dir, skip_corrupt=True)
    assert len(record) >= 1
    assert dataset["gallery"].num_rows == 3 and dataset["query"].num_rows == 2


def test_split_empty_after_junk(market_dir: Path, cache_dir: Path, jpeg_writer):
    for path in (market_dir / "query").iterdir():
        path.unlink()
    jpeg_writer(market_dir / "query" / "-1_c1s1_000001_00.jpg")
    with pytest.raises(ValueError, match=r"Market-1501: split 'query' .* is empty"):
        load_reid_dataset("market1501", market_dir, cache_dir=cache_dir)


def test_not_a_dataset_folder(tmp_path: Path, cache_dir: Path):
    with pytest.raises(FileNotFoundError, match=r"Market-1501: .*expected the dataset folder"):
        load_reid_dataset("market1501", tmp_path, cache_dir=cache_dir)


def test_unknown_name_and_option(market_dir: Path, cache_dir: Path):
    with pytest.raises(ValueError, match=r"unknown dataset name 'market'"):
        load_reid_dataset("market", market_dir, cache_dir=cache_dir)
    with pytest.raises(ValueError, match=r"market1501: unknown option\(s\) \['gallery_protocol'\]"):
        load_reid_dataset("market1501", market_dir, cache_dir=cache_dir, gallery_protocol="official")


def test_prepared_set_is_self_contained_and_cached(market_dir: Path, cache_dir: Path):
    first = load_reid_dataset("market1501", market_dir, cache_dir=cache_dir)
    again = load_reid_dataset("market1501", market_dir, cache_dir=cache_dir)  # same files: from the cache
    assert again["train"].cache_files == first["train"].cache_files
    expected = [first["train"][i]["image"].tobytes() for i in range(first["train"].num_rows)]
    for folder in ("bounding_box_train", "query", "bounding_box_test"):
        for path in (market_dir / folder).iterdir():
            path.unlink()
    # the prepared rows hold the image bytes: they still decode with no source file left
    assert [again["train"][i]["image"].tobytes() for i in range(again["train"].num_rows)] == expected
    assert again["gallery"]["pid"] == first["gallery"]["pid"]
    # the cache is keyed by the files, so loading the emptied folder prepares it again: never a stale cache
    with pytest.raises(ValueError, match=r"Market-1501: split 'train' .* is empty"):
        load_reid_dataset("market1501", market_dir, cache_dir=cache_dir)
