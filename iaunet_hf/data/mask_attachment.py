"""Attaching part masks to a builder's train images: finding each image's masks, checking them
against the image, encoding them for the Arrow cache."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from .part_masks import PART_NAMES, encode_masks_png, find_mask_source, read_masks


def find_mask_sources(
    title: str, root: Path, mask_dir: str, paths: list[Path], *, allow_missing: bool
) -> dict[Path, Path | None]:
    """Where the masks of each image in ``paths`` live (None: none); incomplete folders are an error."""
    mask_root = Path(mask_dir).expanduser().resolve()
    if not mask_root.is_dir():
        raise FileNotFoundError(f"{title}: mask_dir {mask_root} does not exist or is not a folder")
    sources = {path: find_mask_source(mask_root, path.relative_to(root).as_posix()) for path in paths}
    incomplete = [
        source / f"{name}.png"
        for source in sources.values()
        if source is not None and source.is_dir()
        for name in PART_NAMES
        if not (source / f"{name}.png").is_file()
    ]
    if incomplete:
        raise FileNotFoundError(
            f"{title}: {len(incomplete)} part mask file(s) missing in {mask_root}; expected all of "
            f"{list(PART_NAMES)} in each mask folder: " + ", ".join(str(p) for p in incomplete[:20])
        )
    missing = [path for path, source in sources.items() if source is None]
    if missing and not allow_missing:
        shown = "\n".join(f"  {path.relative_to(root)}" for path in missing[:20])
        more = f"\n  ... and {len(missing) - 20} more" if len(missing) > 20 else ""
        raise FileNotFoundError(
            f"{title}: {len(missing)} train image(s) have no part masks in {mask_root}; expected "
            f"'<stem>/{{head,upper_clothes,lower_clothes,shoes}}.png' or '<stem>.png' for each "
            f"(pass allow_missing_masks=True to train them without masks):\n{shown}{more}"
        )
    return sources


def encoded_masks_of(title: str, source: Path, image_path: Path, empty: list) -> dict:
    """The encoded masks from ``source`` for ``image_path``: another size is an error naming both files;
    masks that are all background are appended to ``empty`` (reported once per split)."""
    masks = read_masks(source)
    with Image.open(image_path) as image:
        width, height = image.size
    if masks.shape[1:] != (height, width):
        raise ValueError(
            f"{title}: part masks {source} are {masks.shape[2]}x{masks.shape[1]} (WxH) but image {image_path} is "
            f"{width}x{height}; expected masks of the image's size"
        )
    if not np.any(masks):
        empty.append(source)
    return {"bytes": encode_masks_png(masks), "path": None}


def report_empty_masks(title: str, empty: list) -> None:
    if empty:
        warnings.warn(
            f"{title}: {len(empty)} part mask file(s) are all background for every part "
            "(the part loss learns nothing from them): " + ", ".join(str(p) for p in empty[:20]),
            stacklevel=3,
        )
