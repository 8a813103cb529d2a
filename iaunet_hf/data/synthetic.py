"""A seeded synthetic pedestrian reID set with exact part masks, for tests and the demo.

Real reID sets cannot ship with the package, yet tests and the demo need images whose identity is
learnable only from small parts, as in the paper's Fig. 1: here many identities share upper-body
colours, so the hair, chest emblem, trousers style and shoes carry the identity, while cameras
add colour casts, scale/pose jitter, clutter and occluders. Every image is drawn from a label map,
so its four part masks are exact.

``mode="context"`` makes the identity a pure matter of context between parts: one shared palette
colours the hair, the upper body, the lower body and the shoes, every identity is a distinct
(hair, upper, lower, shoes) combination, and every single part colour is shared with other
identities in the same split, so no part alone identifies anyone (red-over-blue and
blue-over-red are two people). It keeps the camera casts, pose jitter, clutter and occluders.

Written in the Market-1501 layout (``bounding_box_train/``, ``query/``, ``bounding_box_test/``,
masks in ``part_masks/<stem>/{head,upper_clothes,lower_clothes,shoes}.png``) and optionally as
tracklets in the DukeMTMC-VideoReID layout under ``DukeMTMC-VideoReID/`` (masks in the compact
layout under ``DukeMTMC-VideoReID-part-masks/``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from .part_masks import label_map_to_masks, write_compact_mask, write_official_masks
from .synthetic_people import (
    CONTEXT_PARTS,
    SYNTHETIC_MODES,
    ContextIdentity,
    SyntheticIdentity,
    context_distractors,
    make_context_identities,
    make_identities,
)
from .synthetic_render import camera_casts, random_pose, render_person

__all__ = [
    "CONTEXT_PARTS",
    "SYNTHETIC_MASK_DIR",
    "SYNTHETIC_MODES",
    "SYNTHETIC_VIDEO_DIR",
    "SYNTHETIC_VIDEO_MASK_DIR",
    "ContextIdentity",
    "SyntheticIdentity",
    "random_pose",
    "render_person",
    "write_synthetic_reid",
]

SYNTHETIC_MASK_DIR = "part_masks"
SYNTHETIC_VIDEO_DIR = "DukeMTMC-VideoReID"
SYNTHETIC_VIDEO_MASK_DIR = "DukeMTMC-VideoReID-part-masks"
DISTRACTOR_POOL = 64  # at most this many distinct distractor people


def _save_jpeg(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, quality=92)


def _check_settings(mode: str, num_cameras: int, images_per_camera: int) -> None:
    if mode not in SYNTHETIC_MODES:
        raise ValueError(f"synthetic: mode is {mode!r}; expected one of {SYNTHETIC_MODES}")
    if num_cameras < 2 or not 1 <= num_cameras <= 9:
        raise ValueError(
            f"synthetic: num_cameras is {num_cameras}; expected 2..9 (one digit in Market names)"
        )
    if images_per_camera < 2:
        raise ValueError(
            f"synthetic: images_per_camera is {images_per_camera}; expected >= 2 (query + gallery)"
        )


@dataclass
class _MarketWriter:
    """Renders people under a camera's cast and saves them with Market-1501 names (one frame counter)."""

    root: Path
    rng: np.random.Generator
    casts: np.ndarray
    height: int
    width: int
    frames: Iterator[int]

    def image_name(self, pid: int, camera: int) -> str:
        return f"{pid:04d}_c{camera + 1}s1_{next(self.frames):06d}_00.jpg"

    def identity_images(
        self,
        identity: SyntheticIdentity | ContextIdentity,
        is_train: bool,
        images_per_camera: int,
        progress: tqdm,
    ) -> None:
        """Every camera's shots of one person; train ones with their masks, test ones as query then gallery."""
        for camera in range(len(self.casts)):
            for shot in range(images_per_camera):
                pixels, labels = render_person(
                    self.rng, identity, self.casts[camera], self.height, self.width
                )
                name = self.image_name(identity.pid, camera)
                if is_train:
                    _save_jpeg(self.root / "bounding_box_train" / name, pixels)
                    masks = label_map_to_masks(labels)
                    write_official_masks(self.root / SYNTHETIC_MASK_DIR / Path(name).stem, masks)
                else:
                    _save_jpeg(self.root / ("query" if shot == 0 else "bounding_box_test") / name, pixels)
                progress.update(1)

    def distractors(self, pool: list, count: int, progress: tqdm) -> None:
        """``count`` pid-0 gallery images of the ``pool`` people, each under a random camera."""
        for index in range(count):
            camera = int(self.rng.integers(len(self.casts)))
            identity = pool[index % len(pool)]
            pixels, _ = render_person(self.rng, identity, self.casts[camera], self.height, self.width)
            _save_jpeg(self.root / "bounding_box_test" / self.image_name(0, camera), pixels)
            progress.update(1)

    def junk(self, count: int, progress: tqdm) -> None:
        """``count`` pid -1 gallery images of background only (bad detections)."""
        for _ in range(count):
            camera = int(self.rng.integers(len(self.casts)))
            pixels, _ = render_person(self.rng, None, self.casts[camera], self.height, self.width)
            name = f"-1_c{camera + 1}s1_{next(self.frames):06d}_00.jpg"
            _save_jpeg(self.root / "bounding_box_test" / name, pixels)
            progress.update(1)


def write_synthetic_reid(
    root: str | Path,
    *,
    num_train_ids: int = 32,
    num_test_ids: int = 16,
    num_cameras: int = 4,
    images_per_camera: int = 4,
    num_distractors: int = 16,
    num_junk: int = 8,
    height: int = 128,
    width: int = 64,
    seed: int = 0,
    tracklets: bool = False,
    tracklet_length: tuple[int, int] = (6, 20),
    mode: str = "standard",
) -> Path:
    """Write the synthetic set under ``root`` (Market-1501 layout, optional tracklets) and return ``root``.

    Train pids are odd numbers from 1 (gaps test the contiguous ``label`` mapping), test pids follow.
    In the test set, the first image of every (identity, camera) is a query and the rest, with
    ``num_distractors`` pid-0 images and ``num_junk`` pid -1 background crops, form the gallery.
    ``mode="context"``: identities differ only in the combination of shared part colours (module docstring);
    distractors are drawn from the combinations no identity uses.
    """
    _check_settings(mode, num_cameras, images_per_camera)
    root = Path(root)
    rng = np.random.default_rng(seed)
    train_pids = [2 * i + 1 for i in range(num_train_ids)]
    test_pids = [2 * num_train_ids + 1 + i for i in range(num_test_ids)]
    if mode == "context":
        identities = make_context_identities(rng, train_pids, test_pids)
    else:
        identities = make_identities(rng, train_pids + test_pids)
    train_ids, test_ids = identities[:num_train_ids], identities[num_train_ids:]
    writer = _MarketWriter(root, rng, camera_casts(rng, num_cameras), height, width, itertools.count(1))
    total = (num_train_ids + num_test_ids) * num_cameras * images_per_camera + num_distractors + num_junk
    with tqdm(total=total, desc="synthetic reID images", unit="img") as progress:
        for identity in identities:
            writer.identity_images(identity, identity in train_ids, images_per_camera, progress)
        pool_size = min(num_distractors, DISTRACTOR_POOL)
        if mode == "context":
            pool = context_distractors(rng, identities, pool_size)
        else:
            pool = make_identities(rng, [0] * pool_size)
        writer.distractors(pool, num_distractors, progress)
        writer.junk(num_junk, progress)
    if tracklets:
        _write_tracklets(root, rng, train_ids, test_ids, writer.casts, height, width, tracklet_length)
    return root


def _write_tracklets(
    root: Path,
    rng: np.random.Generator,
    train_ids: list[SyntheticIdentity],
    test_ids: list[SyntheticIdentity],
    casts: np.ndarray,
    height: int,
    width: int,
    tracklet_length: tuple[int, int],
) -> None:
    """One tracklet per (identity, camera) in the DukeMTMC-VideoReID layout; test camera 1 is the query."""
    video_root = root / SYNTHETIC_VIDEO_DIR
    detection_counter = itertools.count(1)
    for identity in tqdm(train_ids + test_ids, desc="synthetic tracklets", unit="id"):
        for camera in range(len(casts)):
            if identity in train_ids:
                split = "train"
            else:
                split = "query" if camera == 0 else "gallery"
            folder = video_root / split / f"{identity.pid:04d}" / f"{camera + 1:04d}"
            length = int(rng.integers(tracklet_length[0], tracklet_length[1] + 1))
            pose = random_pose(rng, height, width)
            drift = rng.uniform(-0.4, 0.4)
            first_frame = int(rng.integers(1, 50))
            for step in range(length):
                frame_pose = dict(
                    pose, cx=pose["cx"] + drift * step, swing=float(np.sin(0.8 * step + pose["swing"]))
                )
                pixels, labels = render_person(rng, identity, casts[camera], height, width, pose=frame_pose)
                name = f"{identity.pid:04d}_C{camera + 1}_F{first_frame + step:04d}_X{next(detection_counter):05d}.jpg"
                _save_jpeg(folder / name, pixels)
                if split == "train":
                    write_compact_mask(root / SYNTHETIC_VIDEO_MASK_DIR / f"{Path(name).stem}.png", labels)
