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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from .part_masks import label_map_to_masks, write_compact_mask, write_official_masks

SYNTHETIC_MASK_DIR = "part_masks"
SYNTHETIC_VIDEO_DIR = "DukeMTMC-VideoReID"
SYNTHETIC_VIDEO_MASK_DIR = "DukeMTMC-VideoReID-part-masks"

# Few upper-body colours so identities collide on the largest part; the small parts vary more.
_UPPER = np.array([[200, 40, 40], [40, 70, 190], [230, 230, 230], [40, 40, 40]], dtype=np.float32)
_LOWER = np.array(
    [[30, 30, 90], [120, 120, 120], [150, 110, 60], [20, 20, 20], [90, 140, 60], [170, 60, 130]],
    dtype=np.float32,
)
_SHOES = np.array([[15, 15, 15], [240, 240, 240], [180, 30, 30], [200, 170, 40]], dtype=np.float32)
_HAIR = np.array([[25, 20, 15], [120, 70, 30], [220, 190, 110], [150, 150, 150]], dtype=np.float32)
_EMBLEM = np.array(
    [[250, 220, 0], [0, 200, 200], [250, 120, 0], [120, 0, 200], [0, 160, 0], [255, 105, 180]],
    dtype=np.float32,
)
_SKIN = np.array([224, 172, 140], dtype=np.float32)
_LOWER_STYLES = ("trousers", "skirt")
# "context" mode: one palette for all four parts (well apart under the camera casts below).
_CONTEXT_PALETTE = np.array([[200, 40, 40], [40, 70, 190], [230, 200, 40], [40, 160, 60]], dtype=np.float32)
SYNTHETIC_MODES = ("standard", "context")

# Label map values: 0 background, then the four parts in PART_NAMES order.
_HEAD, _UPPER_LABEL, _LOWER_LABEL, _SHOES_LABEL = 1, 2, 3, 4


@dataclass(frozen=True)
class SyntheticIdentity:
    """Appearance of one synthetic person: palette indices and the trousers/skirt style."""

    pid: int
    upper: int
    lower: int
    shoes: int
    hair: int
    emblem: int
    lower_style: int

    def colours(self) -> dict:
        """Colours of the painted regions (``emblem`` None: no emblem) and the lower-body style."""
        return {
            "hair": _HAIR[self.hair],
            "upper": _UPPER[self.upper],
            "emblem": _EMBLEM[self.emblem],
            "lower": _LOWER[self.lower],
            "shoes": _SHOES[self.shoes],
            "lower_style": _LOWER_STYLES[self.lower_style],
        }


@dataclass(frozen=True)
class ContextIdentity:
    """A "context" mode person: indices into the one shared palette for hair, upper, lower body and shoes."""

    pid: int
    hair: int
    upper: int
    lower: int
    shoes: int

    def colours(self) -> dict:
        return {
            "hair": _CONTEXT_PALETTE[self.hair],
            "upper": _CONTEXT_PALETTE[self.upper],
            "emblem": None,
            "lower": _CONTEXT_PALETTE[self.lower],
            "shoes": _CONTEXT_PALETTE[self.shoes],
            "lower_style": "trousers",
        }


CONTEXT_PARTS = ("hair", "upper", "lower", "shoes")


def _balanced_combinations(rng: np.random.Generator, count: int, taken: set[tuple[int, ...]]) -> list[tuple]:
    """``count`` distinct palette combinations outside ``taken`` in which every part colour used is used twice+.

    Each part's colours are a shuffled balanced column (each colour at least twice); duplicate people are then
    repaired by swapping one part's colours between two people, which keeps every column's counts.
    """
    num_colours = len(_CONTEXT_PALETTE)
    used = min(num_colours, count // 2)
    columns = np.stack([rng.permutation(np.arange(count) % used) for _ in CONTEXT_PARTS], axis=1)
    for _ in range(20_000):
        seen = set(taken)
        clash = None
        for index, combo in enumerate(map(tuple, columns.tolist())):
            if combo in seen:
                clash = index
                break
            seen.add(combo)
        if clash is None:
            return [tuple(row) for row in columns.tolist()]
        part, other = int(rng.integers(len(CONTEXT_PARTS))), int(rng.integers(count))
        columns[[clash, other], part] = columns[[other, clash], part]
    raise ValueError(f"synthetic: cannot draw {count} more distinct context-mode identities; use fewer")


def _make_context_identities(
    rng: np.random.Generator, train_pids: list[int], test_pids: list[int]
) -> list[ContextIdentity]:
    """Distinct palette combinations for all pids; within each split every single part colour is shared."""
    total, available = len(train_pids) + len(test_pids), len(_CONTEXT_PALETTE) ** len(CONTEXT_PARTS)
    if total > available:
        raise ValueError(
            f"synthetic: {total} identities requested, context mode has {available} combinations"
        )
    if min(len(train_pids), len(test_pids)) < 4:
        raise ValueError(
            "synthetic: context mode needs >= 4 train and >= 4 test identities to share part colours"
        )
    train = _balanced_combinations(rng, len(train_pids), set())
    test = _balanced_combinations(rng, len(test_pids), set(train))
    return [ContextIdentity(pid, *combo) for pid, combo in zip(train_pids + test_pids, train + test)]


def _make_identities(rng: np.random.Generator, pids: list[int]) -> list[SyntheticIdentity]:
    combos = list(
        itertools.product(
            range(len(_UPPER)),
            range(len(_LOWER)),
            range(len(_SHOES)),
            range(len(_HAIR)),
            range(len(_EMBLEM)),
            range(len(_LOWER_STYLES)),
        )
    )
    if len(pids) > len(combos):
        raise ValueError(f"synthetic: {len(pids)} identities requested, at most {len(combos)} are distinct")
    chosen = rng.choice(len(combos), size=len(pids), replace=False)
    return [SyntheticIdentity(pid, *combos[index]) for pid, index in zip(pids, chosen)]


def _context_distractors(
    rng: np.random.Generator, identities: list[ContextIdentity], count: int
) -> list[ContextIdentity]:
    """Pid-0 people wearing palette combinations that no identity wears (so they never match a query)."""
    used = {(i.hair, i.upper, i.lower, i.shoes) for i in identities}
    free = [
        c for c in itertools.product(range(len(_CONTEXT_PALETTE)), repeat=len(CONTEXT_PARTS)) if c not in used
    ]
    if count and not free:
        raise ValueError(
            "synthetic: context mode has no combination left for distractors; use fewer identities"
        )
    chosen = rng.choice(len(free), size=count, replace=count > len(free)) if count else []
    return [ContextIdentity(0, *free[i]) for i in chosen]


def _camera_casts(rng: np.random.Generator, num_cameras: int) -> np.ndarray:
    """(num_cameras, 2, 3): per-camera RGB gain and offset."""
    gains = rng.uniform(0.75, 1.2, size=(num_cameras, 3))
    offsets = rng.uniform(-25, 25, size=(num_cameras, 3))
    return np.stack([gains, offsets], axis=1).astype(np.float32)


def render_person(
    rng: np.random.Generator,
    identity: SyntheticIdentity | ContextIdentity | None,
    cast: np.ndarray,
    height: int,
    width: int,
    *,
    pose: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one image; returns (H, W, 3) uint8 pixels and the (H, W) part label map (0..4).

    ``identity=None`` draws background only (a junk detection). ``pose`` fixes the geometry
    (used for smooth tracklets); otherwise it is drawn from ``rng``.
    """
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    pixels = np.empty((height, width, 3), dtype=np.float32)
    pixels[:] = rng.uniform(60, 200, size=3)
    for _ in range(6):  # clutter
        y0, x0 = rng.integers(0, height), rng.integers(0, width)
        pixels[y0 : y0 + rng.integers(5, height // 2), x0 : x0 + rng.integers(5, width // 2)] = rng.uniform(
            0, 255, 3
        )
    labels = np.zeros((height, width), dtype=np.uint8)

    if identity is not None:
        pose = pose or random_pose(rng, height, width)
        person_h, cx, top, swing = pose["person_h"], pose["cx"], pose["top"], pose["swing"]
        body_w = 0.3 * person_h

        def paint(region: np.ndarray, colour: np.ndarray, label: int) -> None:
            pixels[region] = colour
            labels[region] = label

        def box(y0: float, y1: float, x0: float, x1: float) -> np.ndarray:
            return (ys >= top + y0 * person_h) & (ys < top + y1 * person_h) & (xs >= x0) & (xs < x1)

        colours = identity.colours()
        leg_w = 0.4 * body_w
        for side in (-1, 1):
            leg_x = cx + side * (0.25 * body_w + swing * 0.15 * body_w)
            paint(box(0.52, 0.92, leg_x - leg_w / 2, leg_x + leg_w / 2), colours["lower"], _LOWER_LABEL)
            paint(box(0.92, 1.0, leg_x - leg_w * 0.6, leg_x + leg_w * 0.7), colours["shoes"], _SHOES_LABEL)
        if colours["lower_style"] == "skirt":
            spread = (ys - (top + 0.5 * person_h)) * 0.35
            skirt = box(0.5, 0.72, -1e9, 1e9) & (np.abs(xs - cx) < body_w / 2 + spread)
            paint(skirt, colours["lower"], _LOWER_LABEL)
        arm_w = 0.22 * body_w
        for side in (-1, 1):
            arm_x = cx + side * (body_w / 2 + arm_w / 2) - side * swing * 0.1 * body_w
            paint(
                box(0.17, 0.5, arm_x - arm_w / 2, arm_x + arm_w / 2),
                colours["upper"] * 0.85,
                _UPPER_LABEL,
            )
        paint(box(0.16, 0.54, cx - body_w / 2, cx + body_w / 2), colours["upper"], _UPPER_LABEL)
        if colours["emblem"] is not None:
            emblem_x = cx + pose["emblem_dx"] * body_w
            paint(
                box(0.24, 0.33, emblem_x - 0.15 * body_w, emblem_x + 0.15 * body_w),
                colours["emblem"],
                _UPPER_LABEL,
            )
        head_cy, head_ry, head_rx = top + 0.08 * person_h, 0.08 * person_h, 0.2 * body_w + 0.02 * person_h
        head = ((ys - head_cy) / head_ry) ** 2 + ((xs - cx) / head_rx) ** 2 <= 1.0
        paint(head, _SKIN, _HEAD)
        paint(head & (ys < head_cy - 0.2 * head_ry), colours["hair"], _HEAD)
        if pose["occluder"] is not None:  # an occluder hides part of the person: masks lose it too
            oy0, oy1, ox0, ox1 = pose["occluder"]
            occluder = (ys >= oy0) & (ys < oy1) & (xs >= ox0) & (xs < ox1)
            paint(occluder, pose["occluder_colour"], 0)

    pixels = pixels * cast[0] + cast[1] + rng.normal(0, 6, size=pixels.shape).astype(np.float32)
    return np.clip(pixels, 0, 255).astype(np.uint8), labels


def random_pose(rng: np.random.Generator, height: int, width: int) -> dict:
    """Scale, position, leg swing and an optional occluder for one image."""
    person_h = height * rng.uniform(0.72, 0.95)
    occluder = None
    if rng.random() < 0.25:
        occ_h = rng.uniform(0.15, 0.35) * height
        oy0 = rng.uniform(0.3 * height, height - occ_h)
        ox0 = rng.uniform(-0.3 * width, 0.7 * width)
        occluder = (oy0, oy0 + occ_h, ox0, ox0 + rng.uniform(0.3, 0.6) * width)
    return {
        "person_h": person_h,
        "cx": width / 2 + rng.uniform(-0.1, 0.1) * width,
        "top": rng.uniform(0, height - person_h),
        "swing": rng.uniform(-1, 1),
        "emblem_dx": rng.uniform(-0.2, 0.2),
        "occluder": occluder,
        "occluder_colour": rng.uniform(0, 255, size=3).astype(np.float32),
    }


def _save_jpeg(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, quality=92)


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
    root = Path(root)
    rng = np.random.default_rng(seed)
    train_pids = [2 * i + 1 for i in range(num_train_ids)]
    test_pids = [2 * num_train_ids + 1 + i for i in range(num_test_ids)]
    if mode == "context":
        identities = _make_context_identities(rng, train_pids, test_pids)
    else:
        identities = _make_identities(rng, train_pids + test_pids)
    train_ids, test_ids = identities[:num_train_ids], identities[num_train_ids:]
    casts = _camera_casts(rng, num_cameras)
    frame_counter = itertools.count(1)

    def image_name(pid: int, camera: int) -> str:
        return f"{pid:04d}_c{camera + 1}s1_{next(frame_counter):06d}_00.jpg"

    total = (num_train_ids + num_test_ids) * num_cameras * images_per_camera + num_distractors + num_junk
    with tqdm(total=total, desc="synthetic reID images", unit="img") as progress:
        for identity in identities:
            is_train = identity in train_ids
            for camera in range(num_cameras):
                for shot in range(images_per_camera):
                    pixels, labels = render_person(rng, identity, casts[camera], height, width)
                    name = image_name(identity.pid, camera)
                    if is_train:
                        _save_jpeg(root / "bounding_box_train" / name, pixels)
                        write_official_masks(
                            root / SYNTHETIC_MASK_DIR / Path(name).stem, label_map_to_masks(labels)
                        )
                    else:
                        _save_jpeg(root / ("query" if shot == 0 else "bounding_box_test") / name, pixels)
                    progress.update(1)
        if mode == "context":
            distractor_pool = _context_distractors(rng, identities, min(num_distractors, 64))
        else:
            distractor_pool = _make_identities(rng, [0] * min(num_distractors, 64))
        for index in range(num_distractors):
            camera = int(rng.integers(num_cameras))
            pixels, _ = render_person(
                rng, distractor_pool[index % len(distractor_pool)], casts[camera], height, width
            )
            _save_jpeg(root / "bounding_box_test" / image_name(0, camera), pixels)
            progress.update(1)
        for _ in range(num_junk):
            camera = int(rng.integers(num_cameras))
            pixels, _ = render_person(rng, None, casts[camera], height, width)
            _save_jpeg(
                root / "bounding_box_test" / f"-1_c{camera + 1}s1_{next(frame_counter):06d}_00.jpg", pixels
            )
            progress.update(1)

    if tracklets:
        _write_tracklets(root, rng, train_ids, test_ids, casts, height, width, tracklet_length)
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
