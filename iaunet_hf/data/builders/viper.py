"""VIPeR builder: 632 identities, one image in each of two cameras, 10 random splits x 2 directions.

Layout (``data_dir`` is this folder or its parent)::

    VIPeR/
        cam_a/000_45.bmp ...    (632 images)
        cam_b/000_90.bmp ...    (632 images; the i-th sorted file of each camera is the same person)
        iaunet_splits_viper_seed0.json   (written on first use: the 10 random identity partitions)

As torchreid: images are paired by sorted order; cam_a is camid 0, cam_b camid 1; the pid is the
pair's 1-based index. Each of the 10 seeded partitions puts 316 identities in train and 316 in test;
``split_id`` 0..19 selects partition ``split_id // 2``, even ids query cam_a against a cam_b gallery,
odd ids the reverse (so split 2k and 2k+1 share their training set).
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
from .market_style import list_images

NUM_PARTITIONS = 10


class Viper(ReIDImageBuilder, config=SplitProtocolConfig):
    """VIPeR (Gray et al., PETS 2007): 632 identities, 2 cameras, 1,264 images."""

    DATASET_TITLE = "VIPeR"
    ROOT_MARKERS = ("cam_a", "cam_b")

    def _collect(self, root: Path) -> dict[str, list]:
        cam_a, cam_b = list_images(root / "cam_a"), list_images(root / "cam_b")
        if len(cam_a) != len(cam_b) or not cam_a:
            raise ValueError(
                f"{self.DATASET_TITLE}: {root / 'cam_a'} holds {len(cam_a)} images and {root / 'cam_b'} {len(cam_b)}; "
                "expected the same non-zero number (one image of each person per camera)"
            )
        pids = list(range(1, len(cam_a) + 1))
        partitions = protocol_splits(
            self.config,
            root,
            "viper",
            lambda rng: random_partitions(pids, len(pids) // 2, NUM_PARTITIONS, rng),
        )
        partition = choose_split([p for p in partitions for _ in range(2)], self.config.split_id, "viper")
        views = {0: cam_a, 1: cam_b}

        def records(split_pids: list[int], cameras: tuple[int, ...]) -> list[ImageRecord]:
            return [ImageRecord(views[c][pid - 1], pid, c) for pid in split_pids for c in cameras]

        query_camera = self.config.split_id % 2
        return {
            "train": records(partition["train"], (0, 1)),
            "query": records(partition["test"], (query_camera,)),
            "gallery": records(partition["test"], (1 - query_camera,)),
        }
