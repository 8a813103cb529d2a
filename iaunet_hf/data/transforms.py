"""Input pipelines applied with ``Dataset.set_transform``: images or tracklets to normalised tensors.

Training (spec section 5): bicubic resize, horizontal flip, ImageNet normalisation, random
erasing; the BoT/SBS recipes add pad + random crop, AutoAugment, colour jitter and random patch.
Part masks are resized (nearest), cropped and flipped together with the image through
torchvision v2's joint transforms (and follow AutoAugment's geometric operations), while erasing,
colour and patches touch the image only (the masks describe the body, not what hides it). A
clip's frames share every random parameter. Every training item gets ``part_masks`` (4, H, W) and ``mask_valid``,
zeros and False when it has no masks, so batches always collate (the zeros are a free
expanded view; ``collate_reid`` does not copy them).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import datasets
import torch
from PIL import Image
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from .augmentations import AppearanceAugment, paste_random_patches
from .clip_sampling import sample_train_clip
from .image_files import rgb_image
from .part_masks import NUM_PARTS, masks_from_image

Batch = dict[str, list[Any]]
CONSUMED_COLUMNS = ("image", "frames", "part_masks", "frame_paths")


def _open_image(item: Image.Image | dict | str) -> Image.Image:
    """A PIL image from a decoded ``Image`` value or an undecoded {bytes, path} dict / path."""
    if isinstance(item, Image.Image):
        return item
    if isinstance(item, dict):
        if item.get("bytes") is not None:
            return Image.open(io.BytesIO(item["bytes"]))
        item = item["path"]
    return Image.open(item)


def _rgb_image(item: Image.Image | dict | str) -> Image.Image:
    return rgb_image(_open_image(item))  # 16-bit images scaled to 8 bit, not saturated


def _mask_tensor(item: Image.Image | dict | str) -> torch.Tensor:
    return masks_from_image(_open_image(item), torch.uint8)  # (4, H, W) 0/1


def lazy_frame_decoding(dataset: datasets.Dataset) -> datasets.Dataset:
    """Stop ``datasets`` decoding every frame of a tracklet: the train transform decodes only the clip."""
    for column in ("frames", "part_masks"):
        if column in dataset.column_names and isinstance(dataset.features[column], datasets.List):
            dataset = dataset.cast_column(column, datasets.List(datasets.Image(decode=False)))
    return dataset


def _passthrough(batch: Batch) -> Batch:
    return {key: values for key, values in batch.items() if key not in CONSUMED_COLUMNS}


def build_train_transform(
    height: int = 256,
    width: int = 128,
    *,
    flip_prob: float = 0.5,
    erasing_prob: float = 0.5,
    erasing_scale: tuple[float, float] = (0.02, 0.4),
    erasing_ratio: tuple[float, float] = (0.3, 3.3),
    pad_crop: int = 0,
    mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
    std: Sequence[float] = IMAGENET_DEFAULT_STD,
    clip_length: int = 4,
    clip_stride: int = 8,
    autoaugment_prob: float = 0.0,
    color_jitter_prob: float = 0.0,
    random_patch_prob: float = 0.0,
) -> Callable[[Batch], Batch]:
    """Training transform for ``set_transform``: ``pixel_values``, ``part_masks``, ``mask_valid``.

    Images give ``pixel_values`` (3, H, W), ``part_masks`` (4, H, W) and a scalar ``mask_valid``;
    tracklets (a ``frames`` column) give a clip of ``clip_length`` frames chosen by
    ``sample_train_clip`` as (T, 3, H, W), (T, 4, H, W) and (T,). ``pad_crop`` > 0 adds a
    random crop after zero padding (the CIFAR and BoT recipes). ``autoaugment_prob``: torchvision's
    AutoAugment ImageNet policy with that probability (SBS: 0.1); ``color_jitter_prob``: colour jitter
    (fast-reid's strengths); ``random_patch_prob``: ``paste_random_patches``. Other columns pass through.
    """
    augment = _ClipAugment(
        _joint_geometry(height, width, pad_crop, flip_prob),
        _photometric(mean, std, erasing_prob, erasing_scale, erasing_ratio),
        height,
        width,
        AppearanceAugment(autoaugment_prob, color_jitter_prob),
    )

    def transform(batch: Batch) -> Batch:
        output = _passthrough(batch)
        if "frames" not in batch and "image" not in batch:  # a column-only query such as ds["label"]
            return output
        is_video = "frames" in batch
        items = batch["frames"] if is_video else batch["image"]
        all_masks = batch.get("part_masks", [None] * len(items))
        pixel_values, part_masks, mask_valid = [], [], []
        for item, masks in zip(items, all_masks):
            frames, mask_tensor = _train_frames(item, masks, is_video, clip_length, clip_stride)
            pixels, mask_tensor_out = augment(frames, mask_tensor)
            valid = torch.full((pixels.shape[0],), masks is not None)
            pixel_values.append(pixels if is_video else pixels[0])
            part_masks.append(mask_tensor_out if is_video else mask_tensor_out[0])
            mask_valid.append(valid if is_video else valid[0])
        if random_patch_prob > 0:
            pixel_values = paste_random_patches(pixel_values, random_patch_prob)
        output.update(pixel_values=pixel_values, part_masks=part_masks, mask_valid=mask_valid)
        return output

    return transform


def _joint_geometry(height: int, width: int, pad_crop: int, flip_prob: float) -> v2.Compose:
    """Resize (bicubic), optional padded random crop and flip: applied to a clip and its masks together."""
    geometric = [v2.Resize((height, width), interpolation=v2.InterpolationMode.BICUBIC, antialias=True)]
    if pad_crop > 0:
        geometric.append(v2.RandomCrop((height, width), padding=pad_crop))
    geometric.append(v2.RandomHorizontalFlip(flip_prob))
    return v2.Compose(geometric)


def _photometric(
    mean: Sequence[float],
    std: Sequence[float],
    erasing_prob: float,
    erasing_scale: tuple[float, float],
    erasing_ratio: tuple[float, float],
) -> v2.Compose:
    """Scaling, normalisation and random erasing: the image only (masks describe the body, not what hides it)."""
    return v2.Compose(
        [
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(mean=list(mean), std=list(std)),
            v2.RandomErasing(p=erasing_prob, scale=erasing_scale, ratio=erasing_ratio, value=0),
        ]
    )


def _train_frames(
    item: Any, masks: Any, is_video: bool, clip_length: int, clip_stride: int
) -> tuple[list[Image.Image], torch.Tensor | None]:
    """The RGB frames of one item (a sampled clip of a tracklet, or the one image) and their masks (T, 4, h, w)."""
    if is_video:
        chosen = sample_train_clip(len(item), clip_length, clip_stride)
        frames = [_rgb_image(item[i]) for i in chosen]
        return frames, None if masks is None else torch.stack([_mask_tensor(masks[i]) for i in chosen])
    return [_rgb_image(item)], None if masks is None else _mask_tensor(masks)[None]


class _ClipAugment:
    """One clip's augmentation: geometry on the PIL frames and masks with one set of parameters, then
    photometry on the pixels; a clip without masks gets a zero-stride view of zeros."""

    def __init__(
        self,
        joint: v2.Compose,
        photometric: v2.Compose,
        height: int,
        width: int,
        appearance: AppearanceAugment,
    ) -> None:
        self.joint, self.photometric, self.height, self.width = joint, photometric, height, width
        self.appearance = appearance

    def __call__(
        self, frames: list[Image.Image], masks: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # frames: T PIL images; masks (T, 4, h', w') or None. Geometry runs on the PIL images (PIL's
        # resize is the fastest on CPU) with one set of parameters for the whole clip and its masks.
        given = masks is not None
        if not given:
            frames = self.joint(frames)
            # a zero-stride view: free to make, and collate_reid fills such items without copying
            masks = torch.zeros(()).expand(len(frames), NUM_PARTS, self.height, self.width)
        else:
            masks = F.resize(tv_tensors.Mask(masks), [frames[0].height, frames[0].width])  # nearest for Mask
            frames, masks = self.joint(frames, masks)
        if len(frames) == 1:  # an image: a view, no copy
            pixels = tv_tensors.Video(F.pil_to_tensor(frames[0])[None])  # (1, 3, H, W)
        else:
            # T x (3, H, W) -> (T, 3, H, W)
            pixels = tv_tensors.Video(torch.stack([F.pil_to_tensor(frame) for frame in frames]))
        pixels, moved = self.appearance(pixels, masks.as_subclass(torch.Tensor) if given else None)
        masks = moved if given else masks
        return self.photometric(pixels).as_subclass(torch.Tensor), masks.as_subclass(torch.Tensor).float()


def build_eval_transform(
    height: int = 256,
    width: int = 128,
    *,
    mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
    std: Sequence[float] = IMAGENET_DEFAULT_STD,
) -> Callable[[Batch], Batch]:
    """Evaluation transform: bicubic resize and normalisation only.

    Images give ``pixel_values`` (3, H, W); tracklets give every frame in order, (num_frames, 3, H, W),
    to be cut into clips with ``test_clip_indices``. Other columns pass through.
    """
    pipeline = v2.Compose(
        [
            v2.Resize((height, width), interpolation=v2.InterpolationMode.BICUBIC, antialias=True),
            v2.PILToTensor(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(mean=list(mean), std=list(std)),
            v2.ToPureTensor(),
        ]
    )

    def transform(batch: Batch) -> Batch:
        output = _passthrough(batch)
        if "frames" not in batch and "image" not in batch:  # a column-only query such as ds["pid"]
            return output
        if "frames" in batch:
            output["pixel_values"] = [
                torch.stack([pipeline(_rgb_image(frame)) for frame in frames]) for frames in batch["frames"]
            ]  # (num_frames, 3, H, W) per tracklet
        else:
            output["pixel_values"] = [pipeline(_rgb_image(image)) for image in batch["image"]]
        return output

    return transform
