"""Four-part body masks (head, upper body, lower body, shoes): on-disk layouts, parser label mapping, encoding.

The paper supervises each IAU block's part attention with human-parsing masks (spec section 4).
Two on-disk layouts are read:

* ``official``: ``<mask_dir>/<stem>/{head,upper_clothes,lower_clothes,shoes}.png``, each grey, any
  non-zero pixel being the part (0/255 and 0/1 files both read correctly);
* ``compact`` (ours, one file per image): ``<mask_dir>/<stem>.png``, a single-channel label map
  with 0 background, 1 head, 2 upper body, 3 lower body, 4 shoes.

``<stem>`` is the image's path relative to the dataset folder without its suffix (e.g.
``bounding_box_train/0002_c1s1_000451_03``) or, failing that, just its file stem. In a
``DatasetDict`` the four masks are one 4-channel PNG (channel order as ``PART_NAMES``), so a
prepared set stays self-contained and decodes as an ordinary ``Image``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from PIL import Image

PART_NAMES: tuple[str, ...] = ("head", "upper_clothes", "lower_clothes", "shoes")
NUM_PARTS = len(PART_NAMES)

# Grouping of human-parsing labels into the four parts (spec section 4), keyed by the
# normalised label name (lower case, letters and digits only) so LIP (20 labels) and ATR
# (18 labels) parsers both map, whatever their spelling of "Upper-clothes" or "sunglass".
_PART_OF_LABEL_NAME: dict[str, int] = {
    **dict.fromkeys(["hat", "hair", "sunglasses", "sunglass", "face", "head"], 0),
    **dict.fromkeys(
        [
            "glove",
            "gloves",
            "upperclothes",
            "dress",
            "coat",
            "jumpsuits",
            "jumpsuit",
            "scarf",
            "leftarm",
            "rightarm",
            "arms",
            "torsoskin",
        ],
        1,
    ),
    **dict.fromkeys(["pants", "skirt", "leftleg", "rightleg", "legs"], 2),
    **dict.fromkeys(["socks", "leftshoe", "rightshoe", "shoes", "shoe"], 3),
}


def _normalise_label_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def part_index_by_label_id(id2label: Mapping[int | str, str]) -> dict[int, int]:
    """Map a segmentation model's ``id2label`` onto part indices 0..3; unmapped labels are background.

    Raises ``ValueError`` when no label maps, since such a model cannot be a human parser.
    """
    mapping = {}
    for label_id, name in id2label.items():
        part = _PART_OF_LABEL_NAME.get(_normalise_label_name(str(name)))
        if part is not None:
            mapping[int(label_id)] = part
    if not mapping:
        raise ValueError(
            f"id2label {dict(id2label)} has no human-parsing label names; expected LIP or ATR names "
            "such as 'Hair', 'Face', 'Upper-clothes', 'Pants', 'Left-shoe'"
        )
    return mapping


def parsing_to_part_label_map(parsing: np.ndarray, id2label: Mapping[int | str, str]) -> np.ndarray:
    """Turn a parser's per-pixel class ids (H, W) into a compact label map (0 background, 1..4 parts)."""
    lookup = np.zeros(max(int(k) for k in id2label) + 1, dtype=np.uint8)
    for label_id, part in part_index_by_label_id(id2label).items():
        lookup[label_id] = part + 1
    return lookup[parsing]


def label_map_to_masks(label_map: np.ndarray) -> np.ndarray:
    """(H, W) compact label map -> (4, H, W) uint8 masks with values 0/255."""
    parts = np.arange(1, NUM_PARTS + 1, dtype=label_map.dtype)[:, None, None]
    return (label_map[None] == parts).astype(np.uint8) * 255


def write_official_masks(folder: Path, masks: np.ndarray) -> None:
    """Write (4, H, W) masks as ``folder/{head,upper_clothes,lower_clothes,shoes}.png`` (0/255)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, mask in zip(PART_NAMES, masks):
        Image.fromarray(np.where(mask > 0, 255, 0).astype(np.uint8), mode="L").save(folder / f"{name}.png")


def write_compact_mask(path: Path, label_map: np.ndarray) -> None:
    """Write a compact label map (values 0..4) as a single-channel PNG."""
    if label_map.max(initial=0) > NUM_PARTS:
        raise ValueError(f"{path}: compact label map holds value {label_map.max()}, expected 0..{NUM_PARTS}")
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(label_map.astype(np.uint8), mode="L").save(path)


def find_mask_source(mask_dir: Path, relative_path: str) -> Path | None:
    """Where the masks of the image at ``relative_path`` live (official folder or compact PNG), or None."""
    relative_stem = Path(relative_path).with_suffix("")
    for stem in (relative_stem, Path(relative_stem.name)):
        folder = mask_dir / stem
        if (folder / f"{PART_NAMES[0]}.png").is_file():
            return folder
        compact = mask_dir / f"{stem}.png"
        if compact.is_file():
            return compact
    return None


def _mask_plane(file: Path) -> np.ndarray:
    """One official mask file as a boolean plane: any non-zero pixel is the part (0/255 and 0/1 alike)."""
    with Image.open(file) as image:
        array = np.asarray(image)
    if array.ndim == 3:  # an RGB(A) save of a grey mask: a pixel is part where any colour channel is set
        array = array[..., :3].max(axis=-1) if array.shape[-1] >= 3 else array[..., 0]
    return array > 0


def read_masks(source: Path) -> np.ndarray:
    """Read (4, H, W) uint8 0/255 masks from an official folder or a compact PNG."""
    if source.is_dir():
        planes = []
        for name in PART_NAMES:
            file = source / f"{name}.png"
            if not file.is_file():
                raise FileNotFoundError(
                    f"{file}: part mask missing; expected all of {list(PART_NAMES)} in {source}"
                )
            planes.append(_mask_plane(file))
        shapes = {plane.shape for plane in planes}
        if len(shapes) != 1:
            raise ValueError(f"{source}: part masks have different sizes {sorted(shapes)}, expected one size")
        return np.stack(planes).astype(np.uint8) * 255
    label_map = np.asarray(Image.open(source))
    if label_map.ndim != 2 or label_map.max(initial=0) > NUM_PARTS:
        raise ValueError(
            f"{source}: compact mask has shape {label_map.shape} and max {label_map.max()}, "
            f"expected a single-channel label map with values 0..{NUM_PARTS}"
        )
    return label_map_to_masks(label_map)


def encode_masks_png(masks: np.ndarray) -> bytes:
    """(4, H, W) masks -> PNG bytes of one 4-channel image (channel c = part c), lossless."""
    rgba = np.ascontiguousarray(np.moveaxis(np.where(masks > 0, 255, 0).astype(np.uint8), 0, -1))
    buffer = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def masks_from_image(image: Image.Image, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Decode a stored ``part_masks`` image to a (4, H, W) tensor of 0/1 (``uint8`` is cheapest to augment)."""
    if image.mode != "RGBA":
        raise ValueError(f"part_masks image has mode {image.mode!r}, expected a 4-channel 'RGBA' PNG")
    array = np.asarray(image)  # (H, W, 4)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)) > 127).to(dtype)
