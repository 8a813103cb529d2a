"""Part masks: parser label mapping, both on-disk layouts, and the ``part_masks`` column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from iaunet_hf.data import load_reid_dataset
from iaunet_hf.data.part_masks import (
    encode_masks_png,
    masks_from_image,
    parsing_to_part_label_map,
    part_index_by_label_id,
    write_compact_mask,
    write_official_masks,
)

LIP_LABELS = [
    "Background", "Hat", "Hair", "Glove", "Sunglasses", "Upper-clothes", "Dress", "Coat", "Socks", "Pants",
    "Jumpsuits", "Scarf", "Skirt", "Face", "Left-arm", "Right-arm", "Left-leg", "Right-leg", "Left-shoe", "Right-shoe",
]  # fmt: skip
ATR_LABELS = [
    "background", "hat", "hair", "sunglass", "upper-clothes", "skirt", "pants", "dress", "belt", "left-shoe",
    "right-shoe", "face", "left-leg", "right-leg", "left-arm", "right-arm", "bag", "scarf",
]  # fmt: skip


def test_lip_and_atr_names_map_onto_the_four_parts():
    lip = part_index_by_label_id(dict(enumerate(LIP_LABELS)))
    assert {LIP_LABELS[i] for i, part in lip.items() if part == 0} == {"Hat", "Hair", "Sunglasses", "Face"}
    assert {LIP_LABELS[i] for i, part in lip.items() if part == 3} == {"Socks", "Left-shoe", "Right-shoe"}
    assert {LIP_LABELS[i] for i, part in lip.items() if part == 2} == {
        "Pants",
        "Skirt",
        "Left-leg",
        "Right-leg",
    }
    assert 0 not in lip  # background
    atr = part_index_by_label_id({str(i): name for i, name in enumerate(ATR_LABELS)})
    assert {ATR_LABELS[i] for i, part in atr.items() if part == 1} == {
        "upper-clothes", "dress", "left-arm", "right-arm", "scarf",
    }  # fmt: skip
    assert 8 not in atr and 16 not in atr  # belt and bag are not body parts
    parsing = np.array([[2, 5], [9, 19]])
    assert parsing_to_part_label_map(parsing, dict(enumerate(LIP_LABELS))).tolist() == [[1, 2], [3, 4]]


def test_non_parser_labels_are_rejected():
    with pytest.raises(ValueError, match=r"no human-parsing label names; expected LIP or ATR"):
        part_index_by_label_id({0: "cat", 1: "dog"})


def test_four_channel_png_round_trip():
    masks = (np.random.default_rng(0).random((4, 8, 6)) > 0.5).astype(np.uint8) * 255
    decoded = masks_from_image(Image.open(__import__("io").BytesIO(encode_masks_png(masks))))
    assert decoded.shape == (4, 8, 6)
    assert np.array_equal(decoded.numpy() > 0, masks > 0)


def write_small_market(root: Path, jpeg_writer) -> list[str]:
    train = ["0002_c1s1_000451_03.jpg", "0002_c2s1_000301_01.jpg", "0007_c3s3_077419_03.jpg"]
    for name in train:
        jpeg_writer(root / "bounding_box_train" / name)
    jpeg_writer(root / "query" / "0001_c1s1_001051_00.jpg")
    jpeg_writer(root / "bounding_box_test" / "0001_c2s1_000301_01.jpg")
    return train


def label_map_for(index: int) -> np.ndarray:
    label_map = np.zeros((32, 16), dtype=np.uint8)
    label_map[: 4 + index, :] = 1
    label_map[10:18, 3:12] = 2
    label_map[18:28, 4:12] = 3
    label_map[28:, 5 + index :] = 4
    return label_map


def masks_for(index: int) -> np.ndarray:
    label_map = label_map_for(index)
    return np.stack([label_map == part for part in range(1, 5)]).astype(np.uint8) * 255


@pytest.mark.parametrize("layout", ["official", "compact", "compact_relative"])
def test_mask_layouts_attach_to_train(tmp_path: Path, cache_dir: Path, jpeg_writer, layout: str):
    root = tmp_path / "Market-1501"
    train = write_small_market(root, jpeg_writer)
    mask_dir = tmp_path / "masks"
    for index, name in enumerate(train):
        stem = Path(name).stem
        if layout == "official":
            write_official_masks(mask_dir / stem, masks_for(index))
        elif layout == "compact":
            write_compact_mask(mask_dir / f"{stem}.png", label_map_for(index))
        else:
            write_compact_mask(mask_dir / "bounding_box_train" / f"{stem}.png", label_map_for(index))
    dataset = load_reid_dataset("market1501", root, cache_dir=cache_dir, mask_dir=str(mask_dir))
    assert "part_masks" in dataset["train"].column_names and "part_masks" not in dataset["query"].column_names
    for index in range(3):
        stored = masks_from_image(dataset["train"][index]["part_masks"])
        assert np.array_equal(stored.numpy() > 0, masks_for(index) > 0)


def test_missing_masks_raise_or_are_allowed(tmp_path: Path, cache_dir: Path, jpeg_writer):
    root = tmp_path / "Market-1501"
    train = write_small_market(root, jpeg_writer)
    mask_dir = tmp_path / "masks"
    write_official_masks(mask_dir / Path(train[0]).stem, masks_for(0))
    write_official_masks(mask_dir / Path(train[2]).stem, masks_for(2))
    with pytest.raises(
        FileNotFoundError,
        match=r"(?s)Market-1501: 1 train image\(s\) have no part masks.*0002_c2s1_000301_01",
    ):
        load_reid_dataset("market1501", root, cache_dir=cache_dir, mask_dir=str(mask_dir))
    dataset = load_reid_dataset(
        "market1501", root, cache_dir=cache_dir, mask_dir=str(mask_dir), allow_missing_masks=True
    )
    assert [row is None for row in dataset["train"]["part_masks"]] == [False, True, False]


def test_incomplete_official_folder_and_bad_compact_values(tmp_path: Path, cache_dir: Path, jpeg_writer):
    root = tmp_path / "Market-1501"
    train = write_small_market(root, jpeg_writer)
    mask_dir = tmp_path / "masks"
    for index, name in enumerate(train):
        write_official_masks(mask_dir / Path(name).stem, masks_for(index))
    (mask_dir / Path(train[1]).stem / "shoes.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"Market-1501: 1 part mask file\(s\) missing .*shoes\.png"):
        load_reid_dataset("market1501", root, cache_dir=cache_dir, mask_dir=str(mask_dir))
    with pytest.raises(ValueError, match=r"compact label map holds value 9, expected 0\.\.4"):
        write_compact_mask(tmp_path / "bad.png", np.full((4, 4), 9, dtype=np.uint8))
