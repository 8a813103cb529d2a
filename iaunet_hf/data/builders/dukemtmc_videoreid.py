"""DukeMTMC-VideoReID builder (video): one folder per tracklet, frames in true frame order.

Layout (``data_dir`` is this folder or its parent)::

    DukeMTMC-VideoReID/
        train/0001/0001/0001_C6_F0001_X30823.jpg ...    <split>/<pid>/<tracklet>/<frame>
        query/...
        gallery/...

Frame names come in two forms: new ``0001_C6_F0099_X30823.jpg`` and old ``0001C6F0099X30823.jpg``;
the camera (1..8, stored 0-based) and the frame number are parsed from them and frames are sorted by
frame number. The pid is the identity folder's name.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from ..records import TrackletRecord
from ..reid_builder import ReIDVideoBuilder
from .market_style import list_images

FRAME_NAME_PATTERN = re.compile(r"^(-?\d+)_?C(\d)_?F(\d+)_?X(\d+)")


class DukemtmcVideoreid(ReIDVideoBuilder):
    """DukeMTMC-VideoReID (Wu et al., CVPR 2018): 1,404 identities (+408 distractors), 8 cameras."""

    DATASET_TITLE = "DukeMTMC-VideoReID"
    ROOT_MARKERS = ("train", "query", "gallery")
    NUM_CAMERAS = 8

    def _parse_frame(self, path: Path) -> tuple[int, int]:
        """(camera 1-based, frame number) of a frame file."""
        match = FRAME_NAME_PATTERN.match(path.name)
        if match is None:
            raise ValueError(
                f"{self.DATASET_TITLE}: cannot parse camera/frame from file name {path}; expected "
                "'0001_C6_F0099_X30823.jpg' (new) or '0001C6F0099X30823.jpg' (old)"
            )
        camera = int(match.group(2))
        if not 1 <= camera <= self.NUM_CAMERAS:
            raise ValueError(
                f"{self.DATASET_TITLE}: file {path} has camera {camera}; expected 1..{self.NUM_CAMERAS}"
            )
        return camera, int(match.group(3))

    def _split(self, folder: Path) -> list[TrackletRecord]:
        if not folder.is_dir():
            raise FileNotFoundError(f"{self.DATASET_TITLE}: split folder {folder} is missing")
        tracklets, empty = [], []
        for pid_folder in sorted(p for p in folder.iterdir() if p.is_dir()):
            if not pid_folder.name.lstrip("-").isdigit():
                raise ValueError(
                    f"{self.DATASET_TITLE}: identity folder {pid_folder} is not a number; expected '<pid>/<tracklet>/'"
                )
            for tracklet_folder in sorted(p for p in pid_folder.iterdir() if p.is_dir()):
                frames = list_images(tracklet_folder)
                if not frames:
                    empty.append(tracklet_folder)
                    continue
                parsed = {path: self._parse_frame(path) for path in frames}
                cameras = {camera for camera, _ in parsed.values()}
                if len(cameras) != 1:
                    raise ValueError(
                        f"{self.DATASET_TITLE}: tracklet {tracklet_folder} mixes cameras {sorted(cameras)}; "
                        "expected one camera per tracklet"
                    )
                ordered = tuple(sorted(frames, key=lambda p: parsed[p][1]))
                tracklets.append(
                    TrackletRecord(frame_paths=ordered, pid=int(pid_folder.name), camid=cameras.pop() - 1)
                )
        if empty:
            warnings.warn(
                f"{self.DATASET_TITLE}: skipped {len(empty)} tracklet folder(s) without frames: "
                + ", ".join(str(p) for p in empty),
                stacklevel=2,
            )
        return tracklets

    def _collect(self, root: Path) -> dict[str, list]:
        return {split: self._split(root / split) for split in ("train", "query", "gallery")}
