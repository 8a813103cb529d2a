"""Market-1501 builder.

Layout (``data_dir`` is this folder or its parent)::

    Market-1501-v15.09.15/
        bounding_box_train/   0002_c1s1_000451_03.jpg ...  (751 identities)
        query/                0001_c1s1_001051_00.jpg ...
        bounding_box_test/    gallery; pid 0000 = distractor, -1 = junk (dropped)
        images/               optional 500k distractors (``with_distractors=True``), added to the gallery

File names match ``([-\\d]+)_c(\\d)``: pid, then camera 1..6 (stored 0-based). The benchmark needs all three
split folders: one that is missing is an error naming it. A Market-style folder holding only
``bounding_box_train/`` is a train-only set of one's own: load it with the ``folder`` builder.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..reid_builder import ReIDConfig
from .market_style import MarketStyleBuilder


@dataclasses.dataclass
class Market1501Config(ReIDConfig):
    """Market-1501 options; ``with_distractors`` adds the ``images/`` 500k distractor set to the gallery."""

    with_distractors: bool = False


class Market1501(MarketStyleBuilder, config=Market1501Config):
    """Market-1501 (Zheng et al., ICCV 2015): 1,501 identities, 6 cameras."""

    DATASET_TITLE = "Market-1501"
    NUM_CAMERAS = 6

    def locate_root(self) -> Path:
        """The root, as for every builder; a folder with only its train folder is pointed to ``folder``."""
        try:
            return super().locate_root()
        except FileNotFoundError as error:
            data_dir = Path(self.config.data_dir).expanduser()
            train_only = (data_dir / self.ROOT_MARKERS[0]).is_dir() and not any(
                (data_dir / marker).exists() for marker in self.ROOT_MARKERS[1:]
            )
            if not train_only:
                raise
            raise FileNotFoundError(
                f"{error}. A folder with only {self.ROOT_MARKERS[0]}/ is not a {self.DATASET_TITLE} benchmark set "
                "but a train-only set: load it with the folder builder (--dataset folder, or --data.dataset folder "
                "for iaunet-train with --data.missing_eval_splits split to hold out identities; see docs/data.md)"
            ) from error

    def _collect(self, root: Path) -> dict[str, list]:
        gallery = self._parse(root / "bounding_box_test")
        if getattr(self.config, "with_distractors", False):
            gallery += self._parse(root / "images")
        return {
            "train": self._parse(root / "bounding_box_train"),
            "query": self._parse(root / "query"),
            "gallery": gallery,
        }
