"""Hostile or wrong data files (issue: reliability): crafted pickles, wrong masks, deep images, paths
and links that point outside the data folder. Every fixture is a real file written here."""

from __future__ import annotations

import os
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

from iaunet_hf.data import build_eval_transform, load_reid_dataset
from iaunet_hf.data.part_masks import PART_NAMES, masks_from_image

pytestmark = pytest.mark.reliability

TRAIN = ["0002_c1s1_000451_03.jpg", "0002_c2s1_000301_01.jpg", "0007_c3s3_077419_03.jpg"]


def write_market(root: Path, jpeg_writer) -> Path:
    for folder, names in (
        ("bounding_box_train", TRAIN),
        ("query", ["0001_c1s1_001051_00.jpg"]),
        ("bounding_box_test", ["0001_c2s1_000301_01.jpg"]),
    ):
        for name in names:
            jpeg_writer(root / folder / name)
    return root


def write_cifar(root: Path) -> None:
    """The three CIFAR-100 pickles in the official format (numpy ``data``, bytes keys), 2 images each."""
    root.mkdir(parents=True)
    meta = {
        b"fine_label_names": [b"f%d" % i for i in range(100)],
        b"coarse_label_names": [b"c%d" % i for i in range(20)],
    }
    (root / "meta").write_bytes(pickle.dumps(meta))
    for split in ("train", "test"):
        content = {
            b"batch_label": b"batch",
            b"filenames": [b"a.png", b"b.png"],
            b"fine_labels": [1, 2],
            b"coarse_labels": [0, 1],
            b"data": np.zeros((2, 3072), np.uint8),
        }
        (root / split).write_bytes(pickle.dumps(content))


class Payload:
    """Unpickling this would create ``marker``: the proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


@pytest.mark.parametrize("where", ["top level", "inside a numpy object array"])
def test_crafted_cifar_pickle_never_runs(tmp_path: Path, cache_dir: Path, where: str):
    root = tmp_path / "cifar-100-python"
    write_cifar(root)
    assert load_reid_dataset("cifar100", tmp_path, cache_dir=cache_dir / "clean")["train"].num_rows == 2
    marker = tmp_path / "payload_ran"
    content = pickle.loads((root / "train").read_bytes())
    if where == "top level":
        content[b"batch_label"] = Payload(marker)
    else:
        content[b"filenames"] = np.array([Payload(marker)], dtype=object)
    (root / "train").write_bytes(pickle.dumps(content))
    with pytest.raises(
        ValueError,
        match=r"CIFAR-100: .*train is not a readable CIFAR pickle: refusing to load global builtins\.exec",
    ):
        load_reid_dataset("cifar100", tmp_path, cache_dir=cache_dir)
    assert not marker.exists()


def write_official_masks(folder: Path, planes: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, plane in zip(PART_NAMES, planes):
        Image.fromarray(plane.astype(np.uint8), mode="L").save(folder / f"{name}.png")


def mask_planes(height: int, width: int, value: int) -> np.ndarray:
    planes = np.zeros((4, height, width), np.uint8)
    for part in range(4):
        planes[part, part * height // 4 : (part + 1) * height // 4] = value
    return planes


def test_masks_of_another_size_are_an_error_naming_the_file(tmp_path: Path, cache_dir: Path, jpeg_writer):
    market = write_market(tmp_path / "Market-1501-v15.09.15", jpeg_writer)
    masks = tmp_path / "masks"
    for name in TRAIN:
        write_official_masks(masks / Path(name).stem, mask_planes(32, 16, 255))
    write_official_masks(masks / Path(TRAIN[1]).stem, mask_planes(64, 32, 255))
    with pytest.raises(
        ValueError,
        match=rf"part masks .*{Path(TRAIN[1]).stem} are 32x64 \(WxH\) but image .*{TRAIN[1]} is 16x32",
    ):
        load_reid_dataset("market1501", market, cache_dir=cache_dir, mask_dir=str(masks))


def test_zero_one_masks_read_as_parts_and_empty_masks_are_reported(
    tmp_path: Path, cache_dir: Path, jpeg_writer
):
    market = write_market(tmp_path / "Market-1501-v15.09.15", jpeg_writer)
    masks = tmp_path / "masks"
    write_official_masks(masks / Path(TRAIN[0]).stem, mask_planes(32, 16, 1))  # 0/1 instead of 0/255
    write_official_masks(masks / Path(TRAIN[1]).stem, mask_planes(32, 16, 255))
    write_official_masks(masks / Path(TRAIN[2]).stem, np.zeros((4, 32, 16), np.uint8))  # all background
    with pytest.warns(
        UserWarning, match=rf"1 part mask file\(s\) are all background for every part.*{Path(TRAIN[2]).stem}"
    ):
        dataset = load_reid_dataset("market1501", market, cache_dir=cache_dir, mask_dir=str(masks))
    zero_one, full_range = (masks_from_image(dataset["train"][i]["part_masks"]) for i in (0, 1))
    assert torch.equal(zero_one, full_range) and zero_one.sum() == 32 * 16


def test_sixteen_bit_images_are_scaled_not_saturated(tmp_path: Path, cache_dir: Path, jpeg_writer):
    market = write_market(tmp_path / "Market-1501-v15.09.15", jpeg_writer)
    deep = market / "bounding_box_train" / "0009_c1s1_000001_00.png"
    Image.fromarray(np.full((32, 16), 127 * 257, np.uint16)).save(deep)  # 16-bit grey, mean 127 in 8 bit
    assert np.asarray(Image.open(deep).convert("RGB")).mean() == 255  # what a bare convert would give
    for embed in (True, False):
        dataset = load_reid_dataset(
            "market1501", market, cache_dir=cache_dir / str(embed), embed_images=embed
        )
        row = dataset["train"].with_format(None)[dataset["train"]["pid"].index(9)]
        pipeline = build_eval_transform(32, 16)
        pixels = pipeline({"image": [row["image"]], "pid": [9], "camid": [0], "path": [row["path"]]})[
            "pixel_values"
        ][0]
        mean = torch.tensor(IMAGENET_DEFAULT_MEAN)[:, None, None]
        std = torch.tensor(IMAGENET_DEFAULT_STD)[:, None, None]
        assert float((pixels * std + mean).mean() * 255) == pytest.approx(127, abs=1)


def test_csv_row_escaping_the_data_folder_is_refused(tmp_path: Path, cache_dir: Path, jpeg_writer):
    data = tmp_path / "my_set"
    jpeg_writer(data / "a.jpg")
    jpeg_writer(tmp_path / "outside.jpg")
    (data / "query.csv").write_text("path,pid,camid\na.jpg,1,0\n")
    (data / "gallery.csv").write_text("path,pid,camid\na.jpg,1,1\n")
    for bad in ("../outside.jpg", str(tmp_path / "outside.jpg")):
        (data / "train.csv").write_text(f"path,pid,camid\na.jpg,1,0\n{bad},2,0\n")
        with pytest.raises(
            ValueError,
            match=r"folder: .*train\.csv line 3: path .*outside\.jpg' (escapes the data folder|is absolute)",
        ):
            load_reid_dataset("folder", data, cache_dir=cache_dir)


def test_symlinked_folder_inside_the_layout_works(tmp_path: Path, cache_dir: Path, jpeg_writer):
    market = write_market(tmp_path / "Market-1501-v15.09.15", jpeg_writer)
    other_disk = tmp_path / "other_disk" / "train_images"
    (market / "bounding_box_train").rename(other_disk.parent.mkdir(parents=True) or other_disk)
    os.symlink(other_disk, market / "bounding_box_train", target_is_directory=True)
    dataset = load_reid_dataset("market1501", market, cache_dir=cache_dir)
    assert dataset["train"]["path"][0] == f"bounding_box_train/{TRAIN[0]}" and dataset["train"]["pid"] == [
        2,
        2,
        7,
    ]


@pytest.mark.parametrize("verify_images", [True, False])
def test_symlinked_file_outside_the_data_folder_is_never_read(
    tmp_path: Path, cache_dir: Path, jpeg_writer, verify_images
):
    market = write_market(tmp_path / "data" / "Market-1501-v15.09.15", jpeg_writer)
    secret = tmp_path / "home" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("private key material")
    os.symlink(secret, market / "bounding_box_test" / "0003_c2s1_000001_00.jpg")
    with pytest.raises(
        ValueError,
        match=r"(?s)1 file\(s\) point outside .*0003_c2s1_000001_00\.jpg: is a symlink to .*secret\.txt, outside the data folder",
    ):
        load_reid_dataset("market1501", market, cache_dir=cache_dir, verify_images=verify_images)
    assert not any(b"private key" in p.read_bytes() for p in cache_dir.rglob("*") if p.is_file())


def corrupt_png_body(path: Path) -> None:
    """Scramble the image data of a PNG but keep every chunk CRC valid: the header check passes, decoding fails."""
    data = bytearray(path.read_bytes())
    start = data.index(b"IDAT") + 4
    length = struct.unpack(">I", data[start - 8 : start - 4])[0]
    data[start : start + length] = bytes((7 * i) % 256 for i in range(length))
    data[start + length : start + length + 4] = struct.pack(
        ">I", zlib.crc32(bytes(data[start - 4 : start + length]))
    )
    path.write_bytes(bytes(data))


def test_header_check_by_default_full_decode_by_option(tmp_path: Path, cache_dir: Path, jpeg_writer):
    market = write_market(tmp_path / "Market-1501-v15.09.15", jpeg_writer)
    broken = market / "query" / "0001_c3s1_000002_00.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 16, 3), dtype=np.uint8)).save(broken)
    corrupt_png_body(broken)
    dataset = load_reid_dataset(
        "market1501", market, cache_dir=cache_dir, num_proc=2
    )  # header: structure only
    assert dataset["query"].num_rows == 2
    with pytest.raises(
        ValueError,
        match=r"(?s)Market-1501: 1 corrupt image\(s\).*0001_c3s1_000002_00\.png: OSError: broken data stream",
    ):
        load_reid_dataset("market1501", market, cache_dir=cache_dir, verify_mode="decode")
    truncated = market / "query" / "0001_c4s1_000003_00.png"
    Image.fromarray(np.zeros((32, 16, 3), np.uint8)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:-20])  # cut short: the header check sees it
    with pytest.raises(ValueError, match=r"(?s)1 corrupt image\(s\).*0001_c4s1_000003_00\.png"):
        load_reid_dataset("market1501", market, cache_dir=cache_dir / "again", verify_mode="header")


def test_list_file_line_escaping_the_image_folder_is_refused(tmp_path: Path, cache_dir: Path, jpeg_writer):
    root = tmp_path / "MSMT17_V1"
    jpeg_writer(root / "train" / "0000" / "0000_000_01_0303morning_0015_0.jpg")
    jpeg_writer(root / "test" / "0001" / "0001_000_02_0303morning_0016_0.jpg")
    (root / "list_train.txt").write_text("0000/0000_000_01_0303morning_0015_0.jpg 0\n")
    (root / "list_val.txt").write_text("")
    (root / "list_query.txt").write_text("0001/0001_000_02_0303morning_0016_0.jpg 1\n")
    (root / "list_gallery.txt").write_text(
        "0001/0001_000_02_0303morning_0016_0.jpg 1\n../../x/0001_000_02_a_1_0.jpg 1\n"
    )
    with pytest.raises(
        ValueError, match=r"MSMT17: .*list_gallery\.txt line 2: path .* escapes the data folder"
    ):
        load_reid_dataset("msmt17", root, cache_dir=cache_dir)
