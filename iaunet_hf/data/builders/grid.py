"""GRID builder: 250 paired identities in 8 underground cameras, 775 gallery distractors, 10 fixed splits.

Layout (``data_dir`` is this folder or its parent)::

    underground_reid/
        probe/0001_1_25004_107_32_106_238.jpeg ...    (<pid>_<camera 1..8>_...)
        gallery/0000_5_...jpeg ...                    (pid 0000 = distractor, seen in the gallery only)
        features_and_partitions.mat                   (trainIdxAll: the 10 official partitions)

As torchreid: pid and camera are the first two ``_`` fields of the name (camera stored 0-based).
Split ``split_id`` (0..9) trains on the 125 identities of ``trainIdxAll[split_id]`` (their probe and
gallery images); queries are the other probe images, the gallery the other gallery images,
the pid-0 distractors included. The splits come with the data, so there is no seed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import scipy.io

from ..records import ImageRecord
from ..reid_builder import ReIDConfig, ReIDImageBuilder
from ..splits import choose_split

NUM_CAMERAS = 8


@dataclasses.dataclass
class GridConfig(ReIDConfig):
    """GRID options: ``split_id`` 0..9 picks one of the official partitions."""

    split_id: int = 0


class Grid(ReIDImageBuilder, config=GridConfig):
    """GRID (Loy et al., CVPR 2009): 250 paired identities + 775 distractors, 8 cameras."""

    DATASET_TITLE = "GRID"
    ROOT_MARKERS = ("probe", "gallery", "features_and_partitions.mat")

    def _train_pids(self, mat_path: Path) -> list[int]:
        content = scipy.io.loadmat(str(mat_path))
        if "trainIdxAll" not in content:
            raise ValueError(f"{self.DATASET_TITLE}: {mat_path} has no 'trainIdxAll' variable")
        partitions = content["trainIdxAll"][0]  # a cell array: one 1x1 struct per split
        # the train identities are the struct's third field, read by position as torchreid does
        entry = choose_split(partitions, self.config.split_id, "grid")
        return [int(v) for v in np.asarray(entry[0][0][2]).ravel()]

    def _parse(self, folder: Path) -> list[ImageRecord]:
        records = []
        for path in sorted(folder.glob("*.jpeg")):
            fields = path.name.split("_")
            if len(fields) < 2 or not (fields[0].isdigit() and fields[1].isdigit()):
                raise ValueError(
                    f"{self.DATASET_TITLE}: cannot parse pid/camera from {path}; expected '<pid>_<camera>_...jpeg'"
                )
            camera = int(fields[1])
            if not 1 <= camera <= NUM_CAMERAS:
                raise ValueError(
                    f"{self.DATASET_TITLE}: {path} has camera {camera}; expected 1..{NUM_CAMERAS}"
                )
            records.append(ImageRecord(path, int(fields[0]), camera - 1))
        return records

    def _collect(self, root: Path) -> dict[str, list]:
        train_pids = set(self._train_pids(root / "features_and_partitions.mat"))
        probe, gallery = self._parse(root / "probe"), self._parse(root / "gallery")
        return {
            "train": [r for r in probe + gallery if r.pid in train_pids],
            "query": [r for r in probe if r.pid not in train_pids],
            "gallery": [r for r in gallery if r.pid not in train_pids],
        }
