"""DukeMTMC-reID builder.

Layout (``data_dir`` is this folder or its parent)::

    DukeMTMC-reID/
        bounding_box_train/   0001_c2_f0046182.jpg ...  (702 identities)
        query/
        bounding_box_test/    gallery (includes 408 distractor identities)

File names match ``([-\\d]+)_c(\\d)``: pid, then camera 1..8 (stored 0-based).
"""

from __future__ import annotations

from pathlib import Path

import datasets

from ..reid_builder import ReIDConfig, ReIDImageBuilder
from .market_style import parse_market_style_folder


class DukemtmcReid(ReIDImageBuilder):
    """DukeMTMC-reID (Zheng et al., ICCV 2017): 1,404 + 408 identities, 8 cameras."""

    BUILDER_CONFIGS = [ReIDConfig(name="default", version=datasets.Version("1.0.0"))]
    DATASET_TITLE = "DukeMTMC-reID"
    ROOT_MARKERS = ("bounding_box_train", "query", "bounding_box_test")
    NUM_CAMERAS = 8

    def _collect(self, root: Path) -> dict[str, list]:
        return {
            split: parse_market_style_folder(
                root / folder, dataset_title=self.DATASET_TITLE, num_cameras=self.NUM_CAMERAS
            )
            for split, folder in (
                ("train", "bounding_box_train"),
                ("query", "query"),
                ("gallery", "bounding_box_test"),
            )
        }
