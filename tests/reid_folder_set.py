"""Own-data ``folder`` sets written from a Market tree: custom file names that need their own ``name_pattern``,
and a flat folder of Market-named crops (a train-only set)."""

import re
import shutil
from pathlib import Path

# Files are named ``person<pid>_cam<camera>_<n>.jpg``: Market's default pattern does not parse them.
CUSTOM_NAME_PATTERN = r"person([-\d]+)_cam(\d)"
SPLIT_FOLDERS = {"bounding_box_train": "train", "query": "query", "bounding_box_test": "gallery"}


def write_custom_named_folder_set(market_dir: Path, root: Path) -> Path:
    """Copy the Market-style set in ``market_dir`` to ``root/{train,query,gallery}`` under custom names."""
    for source, split in SPLIT_FOLDERS.items():
        (root / split).mkdir(parents=True)
        for index, image in enumerate(sorted((market_dir / source).glob("*.jpg"))):
            pid, camera = re.match(r"([-\d]+)_c(\d)", image.name).groups()
            shutil.copyfile(image, root / split / f"person{pid}_cam{camera}_{index:03d}.jpg")
    return root


def write_flat_crops(market_dir: Path, flat: Path) -> Path:
    """Every identified image of a Market-style set (no junk, no distractors) in one flat folder of crops."""
    flat.mkdir(parents=True)
    for source in ("bounding_box_train", "query", "bounding_box_test"):
        for image in sorted((market_dir / source).glob("*.jpg")):
            if int(re.match(r"([-\d]+)_c", image.name).group(1)) > 0:  # no junk, no distractors
                shutil.copyfile(image, flat / image.name)
    return flat
