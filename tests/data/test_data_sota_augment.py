"""The BoT/SBS augmentations: AutoAugment's geometry moves the part masks with the image, and a clip's frames
share every random draw (AutoAugment, colour jitter, random patch)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from iaunet_hf.data import build_train_transform
from iaunet_hf.data.augmentations import AppearanceAugment, JointAutoAugment, paste_random_patches


def test_autoaugment_geometry_moves_the_masks_exactly_as_the_image():
    torch.manual_seed(0)
    masks = torch.zeros(2, 4, 32, 16, dtype=torch.uint8)
    masks[:, 1, 4:20, 3:12] = 1
    masks[:, 3, 26:30, 2:14] = 1
    video = (masks[:, 1:2] * 255).expand(2, 3, 32, 16).contiguous()  # the image is the mask of part 1
    augment, checked, moved = JointAutoAugment(), 0, 0
    for _ in range(200):
        out_video, out_masks = augment(video, masks)
        applied = [name for name, _ in augment._applied]
        if applied and all(name in JointAutoAugment.GEOMETRIC for name in applied):
            checked += 1
            assert torch.equal(out_video[:, 0] > 127, out_masks[:, 1].bool()), applied
            moved += not torch.equal(out_masks, masks)
        if not any(name in JointAutoAugment.GEOMETRIC for name in applied):
            assert torch.equal(out_masks, masks), applied  # colour operations leave the masks alone
        assert torch.equal(out_masks[0], out_masks[1]) and torch.equal(out_video[0], out_video[1])
    assert checked >= 5 and moved >= 3


def test_a_clip_shares_every_draw_and_the_paper_pipeline_draws_nothing():
    torch.manual_seed(1)
    frame = torch.randint(0, 256, (1, 3, 32, 16), dtype=torch.uint8)
    clip = frame.expand(4, 3, 32, 16).contiguous()
    for _ in range(20):
        pixels, _ = AppearanceAugment(1.0, 1.0)(clip, None)
        assert all(torch.equal(pixels[0], pixels[t]) for t in range(4))
    items = [torch.randn(1, 3, 32, 16).expand(4, 3, 32, 16) for _ in range(3)]
    patched = paste_random_patches(items, 1.0)
    assert all(torch.equal(p[0], p[t]) for p in patched for t in range(4))
    assert all(not torch.equal(p, q) for p, q in zip(patched, items))
    state = torch.get_rng_state()
    AppearanceAugment(0.0, 0.0)(clip, None)
    assert paste_random_patches(items, 0.0) is items and torch.equal(state, torch.get_rng_state())


def test_the_train_transform_applies_the_recipe_augmentations():
    torch.manual_seed(2)
    images = [
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (40, 20, 3), dtype=np.uint8))
        for i in range(3)
    ]
    transform = build_train_transform(
        32,
        16,
        erasing_prob=0.0,
        pad_crop=4,
        autoaugment_prob=1.0,
        color_jitter_prob=1.0,
        random_patch_prob=1.0,
    )
    batch = transform({"image": images, "label": [0, 1, 2]})
    assert [tuple(p.shape) for p in batch["pixel_values"]] == [(3, 32, 16)] * 3
    assert batch["label"] == [0, 1, 2] and [bool(v) for v in batch["mask_valid"]] == [False] * 3
