"""What ``iaunet-embed`` embeds: a dataset split, an image folder or a MOTChallenge video with boxes, as items
with a stable key (so a rerun skips what is already in the gallery) and the schema's metadata.

A crop of a video frame is stored with its frame's path and a W3C media fragment, ``frame.jpg#xywh=x,y,w,h``,
so ``iaunet-search`` can show the crop in a rank strip.
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from ..data import load_reid_dataset
from ..data.image_files import rgb_image
from ..data.synthetic_video import read_mot_file

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
_FRAGMENT = re.compile(r"^(?P<file>.*)#xywh=(?P<x>\d+),(?P<y>\d+),(?P<w>\d+),(?P<h>\d+)$")


@dataclass
class Item:
    """One image to embed: its stable key, how to load it, and its metadata columns."""

    key: str
    load: Callable[[], Image.Image]
    metadata: dict[str, Any] = field(default_factory=dict)


def open_image(path: str) -> Image.Image:
    """An RGB image from a path, cropped when the path ends in a ``#xywh=x,y,w,h`` media fragment."""
    match = _FRAGMENT.match(path)
    file = match["file"] if match else path
    if not Path(file).is_file():
        raise FileNotFoundError(f"{file}: expected an image file (from the gallery's 'path' column)")
    with Image.open(file) as image:
        image.load()  # read now: the file closes with this block
        image = rgb_image(image)
        if match:
            x, y, w, h = (int(match[name]) for name in "xywh")
            image = image.crop((x, y, x + w, y + h))
        return image


def dataset_items(
    name: str, data_dir: Path, split: str, cache_dir: Path | None = None
) -> tuple[str, list[Item]]:
    """The rows of one split of a reID dataset (keys ``name/split/path``), and the source name ``name/split``."""
    dataset_dict = load_reid_dataset(name, data_dir, cache_dir=cache_dir)
    if split not in dataset_dict:
        raise ValueError(
            f"--split: {name} at {data_dir} has no split {split!r}; expected one of {list(dataset_dict)}"
        )
    dataset = dataset_dict[split]
    source = f"{name}/{split}"
    columns = dataset.select_columns([c for c in ("pid", "camid", "path") if c in dataset.column_names])
    items = []
    for row, record in enumerate(columns):
        path = record.get("path") or f"{row:08d}"
        local = data_dir / path
        items.append(
            Item(
                key=f"{source}/{path}",
                load=lambda row=row: rgb_image(dataset[row]["image"]),
                metadata={
                    "pid": record.get("pid", -1),
                    "camid": record.get("camid", -1),
                    "source": source,
                    "path": str(local) if local.is_file() else path,
                },
            )
        )
    return source, items


def folder_items(folder: Path, camid: int = -1) -> tuple[str, list[Item]]:
    """Every image under ``folder`` (keys ``folder-name/relative/path``), in sorted order."""
    if not folder.is_dir():
        raise FileNotFoundError(f"--images: {folder} is not a folder; expected a folder of images")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"--images: {folder} holds no images; expected files ending in {IMAGE_SUFFIXES}")
    source = folder.name
    return source, [
        Item(
            f"{source}/{file.relative_to(folder).as_posix()}",
            lambda file=file: open_image(str(file)),
            {"camid": camid, "source": source, "path": str(file.resolve())},
        )
        for file in files
    ]


def mot_items(sequence: Path, camid: int = -1, boxes: str = "gt") -> tuple[str, list[Item]]:
    """Every box of a MOTChallenge sequence (``img1/``, ``gt/gt.txt`` or ``det/det.txt``, ``seqinfo.ini``).

    Keys are ``sequence/frame/track`` (``sequence/frame/box-line`` for detections without ids); the timestamp is
    the frame's time in seconds (``frameRate`` of ``seqinfo.ini``).
    """
    rows = read_mot_file(sequence / boxes / f"{boxes}.txt")
    info = configparser.ConfigParser()
    info.read(sequence / "seqinfo.ini")
    frame_rate = float(info.get("Sequence", "frameRate", fallback="1"))
    image_dir = sequence / info.get("Sequence", "imDir", fallback="img1")
    extension = info.get("Sequence", "imExt", fallback=".jpg")
    source = sequence.name
    items = []
    for line, (frame, track, left, top, width, height, *_) in enumerate(rows):
        frame, track = int(frame), int(track)
        x, y = max(0, round(left)), max(0, round(top))
        path = f"{(image_dir / f'{frame:06d}{extension}').resolve()}#xywh={x},{y},{max(1, round(width))},{max(1, round(height))}"
        key = f"{source}/{frame:06d}/{track if track >= 0 else f'box{line}'}"
        items.append(
            Item(
                key,
                lambda path=path: open_image(path),
                {
                    "camid": camid,
                    "source": source,
                    "track_id": track,
                    "frame": frame,
                    "timestamp": (frame - 1) / frame_rate,
                    "path": path,
                    "pid": track if boxes == "gt" else -1,
                },
            )
        )
    return source, items
