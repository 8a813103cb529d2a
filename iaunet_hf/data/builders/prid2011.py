"""PRID2011 builder (video, multi-shot): the 178 persons seen in both cameras with more than 21 frames.

Layout (``data_dir`` is this folder or its parent)::

    prid_2011/
        multi_shot/cam_a/person_0001/0001.png ...    (persons 1..385)
        multi_shot/cam_b/person_0001/0001.png ...    (persons 1..749)
        iaunet_splits_prid2011_seed0.json                     (written on first use: the 10 random splits)

Persons 1..200 are the same people in both cameras. The usual protocol (Wang et al., ECCV 2014)
keeps those whose sequences have more than 21 frames in *both* cameras (178 persons), computed
here from the frame counts on disk rather than read from a list file. Each of the 10 seeded splits
trains on half of them (89, both sequences) and tests on the other half: queries are their cam_a
sequences, the gallery their cam_b sequences. cam_a is camid 0, cam_b camid 1; frames are sorted
by file name (frame number).
"""

from __future__ import annotations

from pathlib import Path

from ..records import TrackletRecord
from ..reid_builder import ReIDVideoBuilder
from ..splits import (
    SplitProtocolConfig,
    choose_split,
    protocol_splits,
    random_partitions,
)
from .market_style import list_images

NUM_SHARED = 200  # persons 1..200 appear in both cameras
MIN_FRAMES = 22  # "more than 21 frames" in each camera
NUM_SPLITS = 10
CAMERAS = ("cam_a", "cam_b")


class Prid2011(ReIDVideoBuilder, config=SplitProtocolConfig):
    """PRID2011 multi-shot (Hirzer et al., SCIA 2011): 178 persons kept, 2 cameras."""

    DATASET_TITLE = "PRID2011"
    ROOT_MARKERS = ("multi_shot/cam_a", "multi_shot/cam_b")

    def _frames(self, root: Path, camera: str, pid: int) -> tuple[Path, ...]:
        folder = root / "multi_shot" / camera / f"person_{pid:04d}"
        return tuple(list_images(folder)) if folder.is_dir() else ()

    def kept_pids(self, root: Path) -> list[int]:
        """Persons 1..200 with more than 21 frames in both cameras (178 in the released data)."""
        return [
            pid
            for pid in range(1, NUM_SHARED + 1)
            if all(len(self._frames(root, camera, pid)) >= MIN_FRAMES for camera in CAMERAS)
        ]

    def _collect(self, root: Path) -> dict[str, list]:
        kept = self.kept_pids(root)
        if len(kept) < 2:
            raise ValueError(
                f"{self.DATASET_TITLE}: {root / 'multi_shot'} has {len(kept)} person(s) among 1..{NUM_SHARED} with "
                f"at least {MIN_FRAMES} frames in both cam_a and cam_b; expected 178 (at least 2)"
            )
        splits = protocol_splits(
            self.config,
            root,
            "prid2011",
            lambda rng: random_partitions(kept, len(kept) // 2, NUM_SPLITS, rng),
        )
        split = choose_split(splits, self.config.split_id, "prid2011")

        def tracklets(pids: list[int], cameras: tuple[int, ...]) -> list[TrackletRecord]:
            return [
                TrackletRecord(self._frames(root, CAMERAS[c], pid), pid, c) for pid in pids for c in cameras
            ]

        return {
            "train": tracklets(split["train"], (0, 1)),
            "query": tracklets(split["test"], (0,)),
            "gallery": tracklets(split["test"], (1,)),
        }
