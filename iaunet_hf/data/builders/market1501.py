"""Market-1501 builder.

Layout (``data_dir`` is this folder or its parent)::

    Market-1501-v15.09.15/
        bounding_box_train/   0002_c1s1_000451_03.jpg ...  (751 identities)
        query/                0001_c1s1_001051_00.jpg ...
        bounding_box_test/    gallery; pid 0000 = distractor, -1 = junk (dropped)
        images/               optional 500k distractors (``with_distractors=True``), added to the gallery

File names match ``([-\\d]+)_c(\\d)``: pid, then camera 1..6 (stored 0-based).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import datasets

from ..reid_builder import ReIDConfig, ReIDImageBuilder
from .market_style import parse_market_style_folder


@dataclasses.dataclass
class Market1501Config(ReIDConfig):
    """Market-1501 options; ``with_distractors`` adds the ``images/`` 500k distractor set to the gallery."""

    with_distractors: bool = False


class Market1501(ReIDImageBuilder):
    """Market-1501 (Zheng et al., ICCV 2015): 1,501 identities, 6 cameras."""

    BUILDER_CONFIG_CLASS = Market1501Config
    BUILDER_CONFIGS = [Market1501Config(name="default", version=datasets.Version("1.0.0"))]
    DATASET_TITLE = "Market-1501"
    ROOT_MARKERS = ("bounding_box_train", "query", "bounding_box_test")
    NUM_CAMERAS = 6

    def _collect(self, root: Path) -> dict[str, list]:
        def parse(folder: str) -> list:
            return parse_market_style_folder(
                root / folder, dataset_title=self.DATASET_TITLE, num_cameras=self.NUM_CAMERAS
            )

        gallery = parse("bounding_box_test")
        if getattr(self.config, "with_distractors", False):
            gallery += parse("images")
        return {"train": parse("bounding_box_train"), "query": parse("query"), "gallery": gallery}
