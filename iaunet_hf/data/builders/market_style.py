"""Parsing of Market-1501-style folders: flat folders of ``<pid>_c<cam>...jpg`` images.

Market-1501, DukeMTMC-reID, Occluded-DukeMTMC, the synthetic set and a user's own tree share this
rule (the standard toolboxes' ``([-\\d]+)_c(\\d)`` search on the file name, camera 1-based in the
name). A user's ``name_pattern`` has two groups (pid, 1-based camera) or one group (pid only: the
camera is then unknown, camid -1); named groups ``pid`` / ``camera`` are used when present.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..records import ImageRecord
from ..reid_builder import UNKNOWN_CAMID, ReIDImageBuilder

MARKET_NAME_PATTERN = r"([-\d]+)_c(\d)"
MARKET_EXAMPLE = "0002_c1s1_000451_03.jpg"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
#: the split folders of a Market-style benchmark, by split
MARKET_SPLIT_FOLDERS = {"train": "bounding_box_train", "query": "query", "gallery": "bounding_box_test"}
_GROUPS_RULE = "two groups (pid, then the 1-based camera) or one group (pid only; camid is then -1, unknown)"


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name for a stable row order."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def compile_name_pattern(pattern: str, *, dataset_title: str) -> re.Pattern:
    """The compiled ``name_pattern``, refused unless it has one or two groups."""
    try:
        regex = re.compile(pattern)
    except re.error as error:
        raise ValueError(
            f"{dataset_title}: name_pattern '{pattern}' is not a regular expression: {error}"
        ) from error
    named = set(regex.groupindex)
    if not ({"pid"} <= named or regex.groups in (1, 2)):
        raise ValueError(
            f"{dataset_title}: name_pattern '{pattern}' has {regex.groups} group(s); expected {_GROUPS_RULE}"
        )
    return regex


def _pid_and_camera(match: re.Match) -> tuple[str, str | None]:
    if "pid" in match.re.groupindex:
        return match.group("pid"), match.group("camera") if "camera" in match.re.groupindex else None
    return match.group(1), match.group(2) if match.re.groups == 2 else None


def parse_market_style_name(
    path: Path,
    *,
    dataset_title: str,
    num_cameras: int | None,
    pattern: str | re.Pattern = MARKET_NAME_PATTERN,
    example: str | None = None,
) -> ImageRecord:
    """The record of one image whose file name carries its pid (and camera) as ``pattern`` says."""
    regex = (
        pattern
        if isinstance(pattern, re.Pattern)
        else compile_name_pattern(pattern, dataset_title=dataset_title)
    )
    match = regex.search(path.name)
    if match is None:
        if example is None and regex.pattern == MARKET_NAME_PATTERN:
            example = MARKET_EXAMPLE
        shown = f" such as {example!r}" if example else ""
        raise ValueError(
            f"{dataset_title}: cannot parse pid/camera from file name {path}; expected a name matching "
            f"'{regex.pattern}'{shown} ({_GROUPS_RULE})"
        )
    pid_text, camera_text = _pid_and_camera(match)
    try:
        pid = int(pid_text)
        camera = None if camera_text is None else int(camera_text)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{dataset_title}: name_pattern '{regex.pattern}' matched {pid_text!r} / {camera_text!r} in {path}; "
            f"expected integers ({_GROUPS_RULE})"
        ) from error
    if pid < -1 or (camera is not None and not 1 <= camera <= (num_cameras or camera)):
        raise ValueError(
            f"{dataset_title}: file {path} has pid {pid} and camera {camera}; expected pid >= -1 and "
            f"camera in 1..{num_cameras}"
        )
    return ImageRecord(path=path, pid=pid, camid=UNKNOWN_CAMID if camera is None else camera - 1)


def parse_market_style_folder(
    folder: Path,
    *,
    dataset_title: str,
    num_cameras: int | None,
    pattern: str = MARKET_NAME_PATTERN,
) -> list[ImageRecord]:
    """Records of every image in ``folder`` (junk pid -1 included; the builder base drops it)."""
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{dataset_title}: split folder {folder} is missing; expected a folder of images"
        )
    regex = compile_name_pattern(pattern, dataset_title=dataset_title)
    paths = list_images(folder)
    # an example from the user's own files that does match, so the message reflects their pattern
    example = next((p.name for p in paths if regex.search(p.name)), None)
    return [
        parse_market_style_name(
            p, dataset_title=dataset_title, num_cameras=num_cameras, pattern=regex, example=example
        )
        for p in paths
    ]


class MarketStyleBuilder(ReIDImageBuilder):
    """A benchmark laid out as Market-1501: ``bounding_box_train/``, ``query/`` and ``bounding_box_test/``
    (the gallery), flat folders of images named ``<pid>_c<camera>...`` with the camera 1..``NUM_CAMERAS``."""

    ROOT_MARKERS = tuple(MARKET_SPLIT_FOLDERS.values())
    NUM_CAMERAS: int

    def _parse(self, folder: Path) -> list[ImageRecord]:
        return parse_market_style_folder(
            folder, dataset_title=self.DATASET_TITLE, num_cameras=self.NUM_CAMERAS
        )

    def _collect(self, root: Path) -> dict[str, list]:
        return {split: self._parse(root / folder) for split, folder in MARKET_SPLIT_FOLDERS.items()}
