"""Parsing of Market-1501-style folders: flat folders of ``<pid>_c<cam>...jpg`` images.

Market-1501, DukeMTMC-reID, the synthetic set and a user's own Market-style tree share this rule
(the standard toolboxes' ``([-\\d]+)_c(\\d)`` search on the file name, camera 1-based in the name).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..records import ImageRecord

MARKET_NAME_PATTERN = r"([-\d]+)_c(\d)"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name for a stable row order."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def parse_market_style_folder(
    folder: Path,
    *,
    dataset_title: str,
    num_cameras: int | None,
    pattern: str = MARKET_NAME_PATTERN,
) -> list[ImageRecord]:
    """Records of every image in ``folder`` (junk pid -1 included; the builder base drops it).

    ``pattern``'s first group is the pid, its second the 1-based camera number.
    """
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{dataset_title}: split folder {folder} is missing; expected a folder of images"
        )
    name_regex = re.compile(pattern)
    records = []
    for path in list_images(folder):
        match = name_regex.search(path.name)
        if match is None:
            raise ValueError(
                f"{dataset_title}: cannot parse pid/camera from file name {path}; expected a name matching "
                f"{pattern!r} such as '0002_c1s1_000451_03.jpg'"
            )
        pid, camera = int(match.group(1)), int(match.group(2))
        if pid < -1 or not 1 <= camera <= (num_cameras or camera):
            raise ValueError(
                f"{dataset_title}: file {path} has pid {pid} and camera {camera}; expected pid >= -1 and "
                f"camera in 1..{num_cameras}"
            )
        records.append(ImageRecord(path=path, pid=pid, camid=camera - 1))
    return records
