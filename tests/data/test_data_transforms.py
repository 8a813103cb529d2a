"""Train/eval transforms under ``set_transform``: masks follow flips and resizes, erasing spares them."""

from __future__ import annotations

import datasets
import numpy as np
import pytest
import torch
from PIL import Image

from iaunet_hf.data import build_eval_transform, build_train_transform, collate_reid
from iaunet_hf.data.part_masks import encode_masks_png
from iaunet_hf.data.transforms import lazy_frame_decoding

MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def asymmetric_sample(height: int = 32, width: int = 16) -> tuple[Image.Image, np.ndarray]:
    """An image whose left half is bright, and masks: head = top-left block, shoes = bottom row."""
    pixels = np.full((height, width, 3), 40, dtype=np.uint8)
    pixels[:, : width // 2] = 220
    masks = np.zeros((4, height, width), dtype=np.uint8)
    masks[0, :6, :5] = 255
    masks[1, 8:20, :] = 255
    masks[3, -3:, 2:7] = 255
    return Image.fromarray(pixels), masks


def image_dataset(with_masks: list[bool]) -> datasets.Dataset:
    image, masks = asymmetric_sample()
    rows = {
        "image": [image] * len(with_masks),
        "part_masks": [
            {"bytes": encode_masks_png(masks), "path": None} if flag else None for flag in with_masks
        ],
        "label": list(range(len(with_masks))),
    }
    features = datasets.Features(
        {"image": datasets.Image(), "part_masks": datasets.Image(), "label": datasets.Value("int32")}
    )
    return datasets.Dataset.from_dict(rows, features=features)


def expected_pixels(image: Image.Image) -> torch.Tensor:
    array = torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 255
    return (array - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]


@pytest.mark.parametrize("flip_prob", [0.0, 1.0])
def test_masks_follow_the_flip(flip_prob: float):
    dataset = image_dataset([True])
    dataset.set_transform(
        build_train_transform(32, 16, flip_prob=flip_prob, erasing_prob=0.0, mean=MEAN, std=STD)
    )
    item = dataset[0]
    image, masks = asymmetric_sample()
    want_masks = torch.from_numpy(masks > 0).float()
    want_pixels = expected_pixels(image)
    if flip_prob == 1.0:
        want_masks, want_pixels = want_masks.flip(-1), want_pixels.flip(-1)
    assert item["part_masks"].shape == (4, 32, 16) and item["part_masks"].dtype == torch.float32
    assert torch.equal(item["part_masks"], want_masks)
    assert torch.allclose(item["pixel_values"], want_pixels, atol=1e-5)
    assert bool(item["mask_valid"]) and item["label"] == 0


def test_erasing_touches_the_image_only():
    dataset = image_dataset([True])
    dataset.set_transform(build_train_transform(32, 16, flip_prob=0.0, erasing_prob=1.0, mean=MEAN, std=STD))
    item = dataset[0]
    image, masks = asymmetric_sample()
    erased = (item["pixel_values"] == 0).all(dim=0)
    assert erased.any()
    assert torch.allclose(item["pixel_values"][:, ~erased], expected_pixels(image)[:, ~erased], atol=1e-5)
    assert torch.equal(item["part_masks"], torch.from_numpy(masks > 0).float())


def test_resize_and_missing_masks_collate():
    dataset = image_dataset([True, False, True])
    dataset.set_transform(build_train_transform(64, 32, mean=MEAN, std=STD))
    batch = collate_reid([dataset[i] for i in range(3)])
    assert batch["pixel_values"].shape == (3, 3, 64, 32)
    assert batch["part_masks"].shape == (3, 4, 64, 32)
    assert batch["mask_valid"].tolist() == [True, False, True]
    assert batch["part_masks"][1].abs().sum() == 0
    assert set(batch["part_masks"][0].unique().tolist()) <= {0.0, 1.0}
    assert batch["label"].tolist() == [0, 1, 2]


def frames_dataset(num_frames: int) -> datasets.Dataset:
    """One tracklet whose frame i is a flat image of grey level 5 * i (left half) and black (right half)."""
    frames = []
    for index in range(num_frames):
        pixels = np.zeros((32, 16, 3), dtype=np.uint8)
        pixels[:, :8] = 5 * index
        frames.append(Image.fromarray(pixels))
    features = datasets.Features({"frames": datasets.List(datasets.Image()), "pid": datasets.Value("int32")})
    return datasets.Dataset.from_dict({"frames": [frames], "pid": [3]}, features=features)


def test_video_train_clip_is_strided_and_flipped_together():
    dataset = lazy_frame_decoding(frames_dataset(30))
    assert dataset.features["frames"].feature.decode is False
    dataset.set_transform(
        build_train_transform(
            32, 16, flip_prob=1.0, erasing_prob=0.0, mean=(0, 0, 0), std=(1, 1, 1), clip_stride=8
        )
    )
    item = dataset[0]
    pixel_values = item["pixel_values"]
    assert pixel_values.shape == (4, 3, 32, 16)
    levels = [
        round(float(frame[0, 0, -1]) * 255 / 5) for frame in pixel_values
    ]  # flipped: left half is now right
    assert [b - a for a, b in zip(levels, levels[1:])] == [8, 8, 8]
    assert float(pixel_values[:, :, :, 0].abs().sum()) == 0.0
    assert item["mask_valid"].tolist() == [False] * 4 and item["part_masks"].shape == (4, 4, 32, 16)


def test_eval_transform_keeps_every_frame_in_order():
    dataset = frames_dataset(7)
    dataset.set_transform(build_eval_transform(32, 16, mean=(0, 0, 0), std=(1, 1, 1)))
    pixel_values = dataset[0]["pixel_values"]
    assert pixel_values.shape == (7, 3, 32, 16)
    assert [round(float(frame[0, 0, 0]) * 255 / 5) for frame in pixel_values] == list(range(7))
    assert dataset[0]["pid"] == 3
