"""PRID (PRID2011 single-shot) builder: 200 identities in both cameras plus cam_b-only distractors.

Layout (``data_dir`` is this folder or its parent; the PRID2011 release holds both shots)::

    prid_2011/
        single_shot/cam_a/person_0001.png ... person_0385.png
        single_shot/cam_b/person_0001.png ... person_0749.png
        iaunet_splits_prid_seed0.json   (written on first use: the 10 random identity partitions)

As torchreid: persons 1..200 are the same people in both cameras (cam_a camid 0, cam_b camid 1).
Each of the 10 seeded splits trains on 100 of them (both images) and tests on the other 100:
queries are their cam_a images, the gallery their cam_b images plus cam_b persons 201..749,
who appear in cam_b only (gallery distractors that keep their own pids). cam_a persons 201..385
are not used (they are not the same people as cam_b's 201..385).
"""

from __future__ import annotations

from pathlib import Path

from ..records import ImageRecord
from ..reid_builder import ReIDImageBuilder
from ..splits import (
    SplitProtocolConfig,
    choose_split,
    protocol_splits,
    random_partitions,
)

NUM_SHARED = 200  # persons 1..200 appear in both cameras
NUM_CAM_B = 749
NUM_SPLITS = 10


class Prid(ReIDImageBuilder, config=SplitProtocolConfig):
    """PRID2011 single-shot (Hirzer et al., SCIA 2011): 200 shared identities, 749 in cam_b, 2 cameras."""

    DATASET_TITLE = "PRID"
    ROOT_MARKERS = ("single_shot/cam_a", "single_shot/cam_b")

    def _image(self, root: Path, camera: str, pid: int) -> Path:
        path = root / "single_shot" / camera / f"person_{pid:04d}.png"
        if not path.is_file():
            raise FileNotFoundError(
                f"{self.DATASET_TITLE}: {path} is missing; expected cam_a persons 1..{NUM_SHARED} and cam_b "
                f"persons 1..{NUM_CAM_B} named 'person_0001.png'"
            )
        return path

    def _collect(self, root: Path) -> dict[str, list]:
        splits = protocol_splits(
            self.config,
            root,
            "prid",
            lambda rng: random_partitions(list(range(1, NUM_SHARED + 1)), NUM_SHARED // 2, NUM_SPLITS, rng),
        )
        split = choose_split(splits, self.config.split_id, "prid")
        cam_b_count = len(list((root / "single_shot" / "cam_b").glob("person_*.png")))
        return {
            "train": [
                ImageRecord(self._image(root, camera, pid), pid, camid)
                for pid in split["train"]
                for camid, camera in enumerate(("cam_a", "cam_b"))
            ],
            "query": [ImageRecord(self._image(root, "cam_a", pid), pid, 0) for pid in split["test"]],
            "gallery": [
                ImageRecord(self._image(root, "cam_b", pid), pid, 1)
                for pid in [*split["test"], *range(NUM_SHARED + 1, max(cam_b_count, NUM_SHARED) + 1)]
            ],
        }
