"""iLIDS-VID builder (video): 300 identities, one sequence in each of two cameras, 10 official splits.

Layout (``data_dir`` is this folder or its parent)::

    iLIDS-VID/
        i-LIDS-VID/sequences/cam1/person001/cam1_person001_00317.png ...
        i-LIDS-VID/sequences/cam2/person001/...
        train-test people splits/train_test_splits_ilidsvid.mat      (ls_set: 10 x 300)

As torchreid: ``ls_set[split_id]`` holds 1-based indices into the sorted person folders; its first
half is the test identities, the second half the train identities (Wang et al., ECCV 2014). Train
has both sequences of each train identity; queries are the cam1 sequences of the test identities,
the gallery their cam2 sequences. cam1 is camid 0, cam2 camid 1; the pid is the folder's number.
Frames are sorted by file name (their frame number), i.e. in true temporal order.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import scipy.io

from ..records import TrackletRecord
from ..reid_builder import ReIDConfig, ReIDVideoBuilder
from ..splits import choose_split
from .market_style import list_images

SEQUENCES = "i-LIDS-VID/sequences"
SPLIT_MAT = "train-test people splits/train_test_splits_ilidsvid.mat"


@dataclasses.dataclass
class IlidsvidConfig(ReIDConfig):
    """iLIDS-VID options: ``split_id`` 0..9 picks one of the official splits."""

    split_id: int = 0


class Ilidsvid(ReIDVideoBuilder, config=IlidsvidConfig):
    """iLIDS-VID (Wang et al., ECCV 2014): 300 identities, 600 tracklets, 2 cameras."""

    DATASET_TITLE = "iLIDS-VID"
    ROOT_MARKERS = (SEQUENCES, SPLIT_MAT)

    def _tracklet(self, root: Path, camera: int, person: str) -> TrackletRecord:
        folder = root / SEQUENCES / f"cam{camera + 1}" / person
        frames = list_images(folder) if folder.is_dir() else []
        if not frames:
            raise FileNotFoundError(
                f"{self.DATASET_TITLE}: sequence folder {folder} is missing or has no frames"
            )
        return TrackletRecord(tuple(frames), int(person.removeprefix("person")), camera)

    def _collect(self, root: Path) -> dict[str, list]:
        persons = sorted(p.name for p in (root / SEQUENCES / "cam1").iterdir() if p.is_dir())
        bad = [p for p in persons if not p.removeprefix("person").isdigit()]
        if bad:
            raise ValueError(f"{self.DATASET_TITLE}: person folders {bad[:5]} are not named 'person<number>'")
        mat_path = root / SPLIT_MAT
        content = scipy.io.loadmat(str(mat_path))
        if "ls_set" not in content or content["ls_set"].shape[1] != len(persons):
            raise ValueError(
                f"{self.DATASET_TITLE}: {mat_path} needs 'ls_set' with one column per person folder "
                f"({len(persons)}); found {sorted(k for k in content if not k.startswith('__'))}"
            )
        row = np.asarray(choose_split(content["ls_set"], self.config.split_id, "ilidsvid")).astype(int)
        half = len(row) // 2
        test = [persons[i - 1] for i in sorted(row[:half])]
        train = [persons[i - 1] for i in sorted(row[half:])]
        return {
            "train": [self._tracklet(root, camera, p) for p in train for camera in (0, 1)],
            "query": [self._tracklet(root, 0, p) for p in test],
            "gallery": [self._tracklet(root, 1, p) for p in test],
        }
